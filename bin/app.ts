#!/usr/bin/env node
/**
 * The Floodgate CDK app: the image pipeline stack, checked by cdk-nag's AwsSolutions pack. Any
 * unacknowledged finding fails `cdk synth` (acknowledgments live next to the resources they concern).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { STACK_NAME } from '../lambda/shared/contract';
import { ImagePipelineStack } from '../lib/image-pipeline-stack';

const app = new App();
new ImagePipelineStack(app, STACK_NAME, {
  description: 'Floodgate image pipeline: bounded SQS consumer with sharp renditions',
  // Environment-agnostic unless the CLI has an account configured: synth needs no credentials.
  env: process.env.CDK_DEFAULT_ACCOUNT
    ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
    : undefined,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
