#!/usr/bin/env node
/**
 * The benchmark's CDK app: the very same ImagePipelineStack (same queue, batch size, concurrency,
 * memory, timeout, tables, buckets, environment), with the image worker replaced by the Powertools-based
 * comparison consumer through the stack's `workerEntry` prop. No cdk-nag here: bin/app.ts checks the
 * stack; this app only swaps the code the worker runs.
 */
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { STACK_NAME } from '../lambda/shared/contract';
import { ImagePipelineStack } from '../lib/image-pipeline-stack';

const app = new App();
new ImagePipelineStack(app, STACK_NAME, {
  description: 'Floodgate benchmark: the image pipeline with a Powertools-based worker',
  workerEntry: fileURLToPath(new URL('./powertools-worker/handler.ts', import.meta.url)),
  // Powertools' idempotency keeps its records in a table of their own.
  workerUsesIdempotencyTable: true,
});
app.synth();
