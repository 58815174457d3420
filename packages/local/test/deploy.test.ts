import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { readAssembly, selectStack, type CfnTemplate } from '../src/core/deployment/assembly';
import { deployTemplate, generatedName, resourceName, UnsupportedResourceError } from '../src/core/deployment/deploy';
import { IntrinsicError, resolveValue, UnresolvedReferenceError, type PhysicalResource, type ResolveContext } from '../src/core/deployment/intrinsics';
import { localClients, localEndpoints } from '../../../test/support/local-env';
import { FIXTURE_STACK, synthFixtureApp } from './fixtures/fixture-app';

const resources = new Map<string, PhysicalResource>([
  ['Q', { type: 'AWS::SQS::Queue', ref: 'http://q/000000000000/p-Q', attributes: { Arn: 'arn:aws:sqs:us-east-1:000000000000:p-Q', QueueName: 'p-Q', QueueUrl: 'http://q/000000000000/p-Q' } }],
  ['T', { type: 'AWS::DynamoDB::GlobalTable', ref: 'p-T', attributes: { Arn: 'arn:aws:dynamodb:us-east-1:000000000000:table/p-T' } }],
]);
const ctx: ResolveContext = {
  stackName: 'S',
  region: 'us-east-1',
  accountId: '000000000000',
  resources,
  parameters: { Env: 'prod' },
  conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] }, NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] }, Both: { 'Fn::And': [{ Condition: 'IsProd' }, { 'Fn::Or': [true, { Condition: 'NotProd' }] }] } },
};

describe('intrinsics', () => {
  it('resolves Ref, GetAtt (both forms), pseudo parameters and parameters', () => {
    expect(resolveValue({ Ref: 'T' }, ctx)).toBe('p-T');
    expect(resolveValue({ 'Fn::GetAtt': ['Q', 'Arn'] }, ctx)).toBe('arn:aws:sqs:us-east-1:000000000000:p-Q');
    expect(resolveValue({ 'Fn::GetAtt': 'Q.QueueName' }, ctx)).toBe('p-Q');
    expect(resolveValue(['AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::URLSuffix', 'AWS::StackName'].map((Ref) => ({ Ref })), ctx)).toEqual(['us-east-1', '000000000000', 'aws', 'amazonaws.com', 'S']);
    expect(resolveValue({ Ref: 'Env' }, ctx)).toBe('prod');
  });

  it('resolves Join, Sub (both forms, escapes), Select, Split', () => {
    expect(resolveValue({ 'Fn::Join': ['-', ['a', { Ref: 'T' }, { 'Fn::GetAtt': ['Q', 'QueueName'] }]] }, ctx)).toBe('a-p-T-p-Q');
    expect(resolveValue({ 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${T}:${Q.Arn}:${!Literal}' }, ctx)).toBe('arn:aws:x:us-east-1:p-T:arn:aws:sqs:us-east-1:000000000000:p-Q:${Literal}');
    expect(resolveValue({ 'Fn::Sub': ['${A}/${B}', { A: { Ref: 'T' }, B: 'lit' }] }, ctx)).toBe('p-T/lit');
    expect(resolveValue({ 'Fn::Select': [1, { 'Fn::Split': [':', { 'Fn::GetAtt': ['Q', 'Arn'] }] }] }, ctx)).toBe('aws');
    expect(() => resolveValue({ 'Fn::Select': [9, ['a']] }, ctx)).toThrow(IntrinsicError);
  });

  it('evaluates conditions, Fn::If and AWS::NoValue', () => {
    expect(resolveValue({ 'Fn::If': ['IsProd', 'big', 'small'] }, ctx)).toBe('big');
    expect(resolveValue({ 'Fn::If': ['NotProd', 'big', 'small'] }, ctx)).toBe('small');
    expect(resolveValue({ 'Fn::If': ['Both', 1, 2] }, ctx)).toBe(1);
    expect(resolveValue({ A: 1, B: { 'Fn::If': ['NotProd', 2, { Ref: 'AWS::NoValue' }] } }, ctx)).toEqual({ A: 1 });
    expect(resolveValue([1, { Ref: 'AWS::NoValue' }, 3], ctx)).toEqual([1, 3]);
  });

  it('reports missing resources and attributes clearly', () => {
    expect(() => resolveValue({ Ref: 'Nope' }, ctx)).toThrow(UnresolvedReferenceError);
    expect(() => resolveValue({ 'Fn::GetAtt': ['T', 'Bogus'] }, ctx)).toThrow(/has no attribute "Bogus"/);
    expect(() => resolveValue({ 'Fn::ImportValue': 'x' }, ctx)).toThrow(/not supported/);
  });

  it('names as written: the name in the template kept exactly; unnamed resources named as CloudFormation does', () => {
    const base = { stackName: 'Shop', logicalId: 'CsvUploadQueueA1B2C3D4' };
    expect(resourceName({ ...base, explicit: 'CsvUploadQueue' }, { max: 80 })).toBe('CsvUploadQueue');
    expect(resourceName({ ...base, explicit: 'orders.fifo' }, { max: 80, suffix: '.fifo' })).toBe('orders.fifo');
    expect(resourceName(base, { max: 80 })).toMatch(/^Shop-CsvUploadQueueA1B2C3D4-[A-Z0-9]{12}$/);
    expect(resourceName(base, { max: 80, suffix: '.fifo' })).toMatch(/^Shop-CsvUploadQueueA1B2C3D4-[A-Z0-9]{12}\.fifo$/);
    expect(resourceName({ stackName: 'Shop', logicalId: 'Files_1' }, { max: 63, lower: true })).toMatch(/^shop-files-1-[a-z0-9]{13}$/);
    // Too long: the stack name and logical id are shortened (the longer first) so the whole fits.
    const long = generatedName('S'.repeat(50), 'L'.repeat(40), { max: 64 }, 'ABCDEFGHIJKL');
    expect(long).toBe(`${'S'.repeat(25)}-${'L'.repeat(25)}-ABCDEFGHIJKL`);
    expect(long.length).toBe(64);
    expect(generatedName('Stack', 'X'.repeat(100), { max: 80, suffix: '.fifo' }).length).toBe(80);
    // --name-prefix (a shared endpoint) goes in front of either, hashed down when it would not fit.
    expect(resourceName({ ...base, explicit: 'CsvUploadQueue', namePrefix: 'ci7' }, { max: 80 })).toBe('ci7-CsvUploadQueue');
    expect(resourceName({ ...base, explicit: 'orders.fifo', namePrefix: 'ci7' }, { max: 80, suffix: '.fifo' })).toBe('ci7-orders.fifo');
    expect(resourceName({ ...base, namePrefix: 'ci7' }, { max: 80 })).toMatch(/^ci7-Shop-CsvUploadQueueA1B2C3D4-[A-Z0-9]{12}$/);
    const hashed = resourceName({ ...base, explicit: 'Q'.repeat(80), namePrefix: 'ci7' }, { max: 80 });
    expect(hashed.length).toBe(80);
    expect(hashed).toMatch(/^ci7-Q+-[0-9a-f]{8}$/);
  });
});

describe('deployer', () => {
  const endpoints = localEndpoints();
  const assemblyDir = mkdtempSync(join(tmpdir(), 'fg-deploy-'));

  it('refuses, before creating anything, every resource that could move a message and is not emulated, by type and logical id', async () => {
    const { sqs } = localClients(endpoints);
    const name = `refused-${Date.now()}`;
    const template: CfnTemplate = {
      Resources: {
        Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: name } },
        Pipe: { Type: 'AWS::Pipes::Pipe', Properties: {} },
        Stream: { Type: 'AWS::Kinesis::Stream', Properties: {} },
        LogsOut: { Type: 'AWS::Logs::SubscriptionFilter', Properties: {} },
        Sfn: { Type: 'AWS::StepFunctions::StateMachine' },
        Uploads: { Type: 'AWS::S3::Bucket', Properties: { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } } },
        Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      },
    };
    const p = deployTemplate({ template, stackName: 'X', assemblyDir, endpoints, log: () => undefined });
    await expect(p).rejects.toThrow(UnsupportedResourceError);
    const message = await p.catch((e: Error) => e.message);
    for (const line of [
      'AWS::Pipes::Pipe (Pipe): the pipe moves nothing from its source to its target',
      'AWS::Kinesis::Stream (Stream):',
      'AWS::Logs::SubscriptionFilter (LogsOut):',
      'AWS::StepFunctions::StateMachine (Sfn):',
      'AWS::S3::Bucket (Uploads): S3 sends no event to EventBridge',
      '--allow-unsupported',
    ]) expect(message).toContain(line);
    expect(message).not.toContain('Alarm');
    // Nothing was created.
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: name }))).rejects.toThrow();
  });

  it('--allow-unsupported deploys the rest and warns, for each resource, what will not happen; never "no effect"', async () => {
    const template: CfnTemplate = {
      Resources: {
        Q: { Type: 'AWS::SQS::Queue' },
        Pipe: { Type: 'AWS::Pipes::Pipe', Properties: {} },
        Uploads: { Type: 'AWS::S3::Bucket', Properties: { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } } },
        Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      },
      Outputs: { PipeArn: { Value: { Ref: 'Pipe' } }, Bucket: { Value: { Ref: 'Uploads' } } },
    };
    const lines: string[] = [];
    const d = await deployTemplate({ template, stackName: 'Allowed', assemblyDir, endpoints, allowUnsupported: true, log: (l) => lines.push(l) });
    try {
      expect(lines).toEqual([
        'local deploy: passed over (they move no messages): AWS::CloudWatch::Alarm',
        'local deploy: WARNING (--allow-unsupported) not emulated: AWS::Pipes::Pipe (Pipe): the pipe moves nothing from its source to its target',
        'local deploy: WARNING (--allow-unsupported) not emulated: AWS::S3::Bucket (Uploads): S3 sends no event to EventBridge from this bucket (NotificationConfiguration EventBridgeConfiguration is not emulated); the bucket and its other notifications are created',
      ]);
      expect(lines.join('\n')).not.toMatch(/no effect/);
      expect(d.unsupported.map((u) => [u.logicalId, u.placeholder])).toEqual([['Pipe', true], ['Uploads', false]]);
      await localClients(endpoints).s3.send(new HeadBucketCommand({ Bucket: d.outputs.Bucket }));
    } finally {
      await d.destroy();
    }
  });

  it('keeps the names the template writes and generates CloudFormation-style ones for the rest', async () => {
    const tag = `${Date.now()}`;
    const template: CfnTemplate = {
      Resources: {
        Named: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `CsvUploadQueue-${tag}` } },
        Unnamed: { Type: 'AWS::SQS::Queue' },
        Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: `Orders-${tag}`, AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] } },
        Files: { Type: 'AWS::S3::Bucket' },
      },
    };
    const d = await deployTemplate({ template, stackName: 'NamesStack', assemblyDir, endpoints, log: () => undefined });
    try {
      const { sqs, dynamodb } = localClients(endpoints);
      const url = await sqs.send(new GetQueueUrlCommand({ QueueName: `CsvUploadQueue-${tag}` }));
      expect(url.QueueUrl).toBe(d.resources.get('Named')!.ref);
      expect(d.resources.get('Unnamed')!.attributes.QueueName).toMatch(/^NamesStack-Unnamed-[A-Z0-9]{12}$/);
      expect(d.resources.get('Files')!.ref).toMatch(/^namesstack-files-[a-z0-9]{13}$/);
      expect((await dynamodb.send(new DescribeTableCommand({ TableName: `Orders-${tag}` }))).Table?.TableName).toBe(`Orders-${tag}`);
      expect(d.prefix).toBe('');
    } finally {
      await d.destroy();
    }
  });

  it('creates queues (redrive to the DLQ ARN, FIFO), tables (GlobalTable, indexes, TTL) and buckets, and writes outputs', async () => {
    const template: CfnTemplate = {
      Parameters: { BootstrapVersion: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/cdk-bootstrap/hnb659fds/version' } },
      Resources: {
        Dlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600 } },
        Work: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 120, DelaySeconds: 2, ReceiveMessageWaitTimeSeconds: 5, MessageRetentionPeriod: 3600, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 4 } } },
        Ordered: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true, ContentBasedDeduplication: true, QueueName: 'orders.fifo' } },
        Jobs: {
          Type: 'AWS::DynamoDB::GlobalTable',
          Properties: {
            AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }, { AttributeName: 'status', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
            BillingMode: 'PAY_PER_REQUEST',
            GlobalSecondaryIndexes: [{ IndexName: 'byStatus', KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
            Replicas: [{ Region: { Ref: 'AWS::Region' } }],
            TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
          },
        },
        Events: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }, { AttributeName: 'at', AttributeType: 'N' }],
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
            ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
            LocalSecondaryIndexes: [{ IndexName: 'byTime', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'at', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
          },
        },
        Files: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'My-Files' } },
        Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } },
        FilesPolicy: { Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'Files' }, PolicyDocument: { Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: { 'Fn::GetAtt': ['Files', 'Arn'] } }] } } },
        Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
        CDKMetadata: { Type: 'AWS::CDK::Metadata', Properties: {} },
      },
      Outputs: {
        WorkUrl: { Value: { Ref: 'Work' } },
        DlqArn: { Value: { 'Fn::GetAtt': ['Dlq', 'Arn'] } },
        Bucket: { Value: { Ref: 'Files' } },
        Summary: { Value: { 'Fn::Join': [',', [{ Ref: 'Jobs' }, { 'Fn::Select': [0, { 'Fn::Split': ['-', { Ref: 'Files' }] }] }]] } },
      },
    };
    const lines: string[] = [];
    const outputsFile = join(assemblyDir, 'out', 'outputs.json');
    const d = await deployTemplate({ template, stackName: 'Hand', assemblyDir, endpoints, prefix: 'hand1', outputsFile, log: (l) => lines.push(l) });
    expect(lines).toEqual(['local deploy: passed over (they move no messages): AWS::CDK::Metadata, AWS::CloudWatch::Alarm; recorded for IAM: AWS::IAM::Role, AWS::S3::BucketPolicy']);
    // IAM and resource policies are recorded with their documents resolved (for IAM evaluation).
    expect(d.recorded.map((r) => r.logicalId).sort()).toEqual(['FilesPolicy', 'Role']);
    expect(d.recorded.find((r) => r.logicalId === 'FilesPolicy')!.properties).toMatchObject({ Bucket: 'hand1-my-files', PolicyDocument: { Statement: [{ Resource: 'arn:aws:s3:::hand1-my-files' }] } });
    expect(d.resources.get('Role')).toMatchObject({ ref: expect.stringMatching(/^hand1-Hand-Role-[A-Z0-9]{12}$/), attributes: { Arn: expect.stringMatching(/^arn:aws:iam::000000000000:role\/hand1-Hand-Role-/) } });
    const { sqs, dynamodb, s3 } = localClients(endpoints);
    const work = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: d.outputs.WorkUrl, AttributeNames: ['All'] }));
    expect(work.Attributes).toMatchObject({ VisibilityTimeout: '120', DelaySeconds: '2', ReceiveMessageWaitTimeSeconds: '5', MessageRetentionPeriod: '3600' });
    expect(JSON.parse(work.Attributes!.RedrivePolicy!)).toEqual({ deadLetterTargetArn: d.outputs.DlqArn, maxReceiveCount: 4 });
    expect(d.outputs.DlqArn).toMatch(/:hand1-Hand-Dlq-[A-Z0-9]{12}$/);
    const fifo = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: d.resources.get('Ordered')!.ref, AttributeNames: ['All'] }));
    expect(fifo.Attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    expect(d.resources.get('Ordered')!.attributes.QueueName).toBe('hand1-orders.fifo');
    const jobsTable = d.resources.get('Jobs')!.ref;
    expect(jobsTable).toMatch(/^hand1-Hand-Jobs-[A-Z0-9]{12}$/);
    const jobs = await dynamodb.send(new DescribeTableCommand({ TableName: jobsTable }));
    expect(jobs.Table?.GlobalSecondaryIndexes?.[0]?.IndexName).toBe('byStatus');
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: jobsTable }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    const events = await dynamodb.send(new DescribeTableCommand({ TableName: d.resources.get('Events')!.ref }));
    expect(events.Table?.LocalSecondaryIndexes?.[0]?.IndexName).toBe('byTime');
    expect(d.outputs.Bucket).toBe('hand1-my-files');
    await s3.send(new HeadBucketCommand({ Bucket: d.outputs.Bucket }));
    expect(d.outputs.Summary).toBe(`${jobsTable},hand1`);
    expect(JSON.parse(readFileSync(outputsFile, 'utf8'))).toEqual({ Hand: d.outputs });
    await d.destroy();
  });

  it('deploys a synthesized CDK app: bundled function, event source mapping, resolved env and outputs', async () => {
    const dir = synthFixtureApp(join(assemblyDir, 'fixture'));
    const stack = selectStack(readAssembly(dir));
    expect(stack.stackName).toBe(FIXTURE_STACK);
    const d = await deployTemplate({ template: stack.template, stackName: stack.stackName, assemblyDir: dir, endpoints, log: () => undefined });
    expect(d.functions).toHaveLength(1);
    const fn = d.functions[0]!;
    expect(existsSync(join(fn.assetDir, 'index.mjs'))).toBe(true);
    expect(fn).toMatchObject({ handler: 'index.handler', timeoutSeconds: 2, memoryMb: 256, reservedConcurrency: 3 });
    expect(fn.environment.COUNT_TABLE).toBe(d.outputs.TableName);
    expect(fn.environment.QUEUE_URL).toBe(d.outputs.QueueUrl);
    expect(fn.environment.BUCKET_ARN_PART).toBe(d.outputs.BucketName);
    expect(d.eventSourceMappings).toEqual([
      expect.objectContaining({ queueUrl: d.outputs.QueueUrl, batchSize: 5, maximumConcurrency: 2, reportBatchItemFailures: true, enabled: true, functionLogicalId: fn.logicalId }),
    ]);
    expect(d.outputs.QueueArnJoined).toMatch(new RegExp(`^arn:aws:sqs:us-east-1:000000000000:(${FIXTURE_STACK}-Work[0-9A-F]+-[A-Z0-9]{12})\\|\\1$`));
    expect(d.outputs.Described).toBe(`${FIXTURE_STACK}/${d.outputs.TableName}/\${Literal}/us-east-1`);
    expect(d.outputs.FunctionName).toBe(fn.functionName);
    await d.destroy();
  });
});
