/** JobApi construct: IAM auth on every route, stage throttling, access logs, least privilege, cdk-nag clean. */
import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { PIPELINE_ENV } from '../../lambda/shared/contract';
import { JOB_API_ROUTES, JobApi, type JobApiProps } from '../../lib/job-api';

function fixture(props: Partial<JobApiProps> = {}, nag = false) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'ApiStack');
  const table = (id: string, key: string) =>
    new dynamodb.TableV2(stack, id, { partitionKey: { name: key, type: dynamodb.AttributeType.STRING }, pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true } });
  const logs = new s3.Bucket(stack, 'Logs', { enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, encryption: s3.BucketEncryption.S3_MANAGED });
  Validations.of(logs).acknowledge({ id: 'AwsSolutions-S1', reason: 'Test fixture: this bucket is the access log destination.' });
  const bucket = (id: string) => new s3.Bucket(stack, id, { enforceSSL: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, encryption: s3.BucketEncryption.S3_MANAGED, serverAccessLogsBucket: logs });
  const dlq = new sqs.Queue(stack, 'Dlq', { enforceSSL: true, encryption: sqs.QueueEncryption.SQS_MANAGED });
  const queue = new sqs.Queue(stack, 'Queue', { enforceSSL: true, encryption: sqs.QueueEncryption.SQS_MANAGED, deadLetterQueue: { queue: dlq, maxReceiveCount: 5 } });
  Validations.of(dlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'Test fixture: this queue is the dead-letter queue.' });
  const api = new JobApi(stack, 'Api', {
    jobsTable: table('Jobs', 'jobId'),
    idempotencyTable: table('Idem', 'id'),
    uploadsBucket: bucket('Uploads'),
    renditionsBucket: bucket('Renditions'),
    queue,
    ...props,
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, api };
}

describe('JobApi', () => {
  it('IAM-authorizes every route, integrates with payload v2, and has no other routes', () => {
    const t = Template.fromStack(fixture().stack);
    const routes = t.findResources('AWS::ApiGatewayV2::Route');
    expect(Object.values(routes).map((r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey).sort()).toEqual([...JOB_API_ROUTES].sort());
    for (const r of Object.values(routes)) expect((r as { Properties: { AuthorizationType: string } }).Properties.AuthorizationType).toBe('AWS_IAM');
    t.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  });

  it('throttles the stage with the props and logs access as JSON to a log group', () => {
    const t = Template.fromStack(fixture({ throttlingRateLimit: 7, throttlingBurstLimit: 3 }).stack);
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 3 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AccessLogs'), 'Arn'] }, Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
    });
  });

  it('runs Node.js 24 with the pipeline environment and the upload limit', () => {
    const t = Template.fromStack(fixture({ maxUploadSize: Size.mebibytes(3) }).stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: { Variables: Match.objectLike({ [PIPELINE_ENV.maxUploadBytes]: String(3 * 1024 * 1024), [PIPELINE_ENV.jobQueueUrl]: Match.anyValue(), [PIPELINE_ENV.idempotencyTable]: Match.anyValue() }) },
    });
  });

  it('grants least privilege: no wildcard actions, objects only under the prefixes', () => {
    const t = Template.fromStack(fixture().stack);
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement,
    );
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    expect(actions).not.toContain('s3:DeleteObject');
    expect(actions).not.toContain('dynamodb:Scan');
    const s3Statements = statements.filter((s) => JSON.stringify(s.Action).includes('s3:'));
    expect(s3Statements.map((s) => [s.Action, JSON.stringify(s.Resource)])).toEqual([
      ['s3:PutObject', expect.stringContaining('/uploads/*')],
      ['s3:GetObject', expect.stringContaining('/renditions/*')],
    ]);
    expect(Object.keys(t.findResources('AWS::IAM::Role')).length).toBe(1);
    t.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it('is cdk-nag (AwsSolutions) clean', () => {
    const { app } = fixture({}, true);
    expect(() => app.synth()).not.toThrow();
  });

  it('grantInvoke allows execute-api:Invoke on this API only', () => {
    const { stack, api } = fixture();
    const user = new iam.User(stack, 'Client');
    api.grantInvoke(user);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke', Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('execute-api'), { Ref: Match.stringLikeRegexp('HttpApi') }, '/$default/*'])] } })] },
      Users: [{ Ref: Match.stringLikeRegexp('Client') }],
    });
  });

  it('refuses impossible settings with a message that says what to change', () => {
    expect(() => fixture({ throttlingBurstLimit: 0 })).toThrow(/throttlingBurstLimit must be an integer >= 1/);
    expect(() => fixture({ throttlingRateLimit: 0 })).toThrow(/throttlingRateLimit must be > 0/);
    expect(() => fixture({ timeout: Duration.seconds(30) })).toThrow(/timeout must be at most 29 seconds/);
  });

  it('sets the Idempotency-Key lease above the function timeout', () => {
    Template.fromStack(fixture({ timeout: Duration.seconds(20) }).stack).hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 20,
      Environment: { Variables: Match.objectLike({ FLOODGATE_API_LEASE_MS: '25000' }) },
    });
  });

  it('offers stage metrics for 4xx (429 included), 5xx, count and latency', () => {
    const { stack, api } = fixture();
    const dims = stack.resolve(api.metricClientErrors().dimensions) as Record<string, unknown>;
    expect(Object.keys(dims).sort()).toEqual(['ApiId', 'Stage']);
    expect(api.metricClientErrors().metricName).toBe('4xx');
    expect(api.metricServerErrors().metricName).toBe('5xx');
    expect(api.metricCount().metricName).toBe('Count');
    expect(api.metricLatency().statistic).toBe('p99');
  });
});
