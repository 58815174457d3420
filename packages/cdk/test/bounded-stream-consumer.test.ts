/** BoundedStreamConsumer: the synthesized template, and every combination that cannot work refused at synth. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONSUMER_ENV } from '../src/env.js';
import { BoundedStreamConsumer, deriveStreamSettings, type BoundedStreamConsumerProps } from '../src/bounded-stream-consumer/index';
import { BoundedQueueConsumer } from '../src/bounded-queue-consumer/index';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

function tableWithStream(stack: Stack, id = 'Orders'): dynamodb.Table {
  return new dynamodb.Table(stack, id, {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  });
}

function build(props: Partial<BoundedStreamConsumerProps> = {}, stack: Stack = unbundledStack()) {
  const source = props.stream || props.table ? {} : { table: tableWithStream(stack) };
  const consumer = new BoundedStreamConsumer(stack, 'Consumer', { entry: props.consumerFunction ? undefined : SAMPLE_ENTRY, ...source, ...props });
  return { stack, consumer, template: Template.fromStack(stack) };
}

const mapping = (t: Template) => Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties;

describe('BoundedStreamConsumer on a DynamoDB table', () => {
  const { template, consumer, stack } = build();

  it('maps the table stream with ReportBatchItemFailures, bisect, TRIM_HORIZON, batch 100, parallelization 1, retries bounded by a 1 h record age', () => {
    const m = mapping(template);
    expect(m).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [expect.stringMatching(/^Orders/), 'StreamArn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      ParallelizationFactor: 1,
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: 3600,
    });
    expect(m.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': [stack.getLogicalId(consumer.onFailureQueue.node.defaultChild as sqs.CfnQueue), 'Arn'] });
  });

  it('reserves expectedShards (default 4) x parallelization 1 executions', () => {
    expect(consumer.settings).toMatchObject({ shards: 4, shardsKnown: false, parallelizationFactor: 1, executions: 4, reservedConcurrency: 4 });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 4 });
  });

  it('sets the runtime environment, the on-failure queue URL included', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0]!.Properties;
    const env = fn.Environment.Variables;
    expect(env[CONSUMER_ENV.ioConcurrency]).toBe('16');
    expect(env[CONSUMER_ENV.cpuConcurrency]).toBe('1');
    expect(env[CONSUMER_ENV.softMarginMs]).toBe('6000');
    expect(env[CONSUMER_ENV.hardMarginMs]).toBe('3000');
    expect(env[CONSUMER_ENV.deadLetterQueueUrl]).toEqual({ Ref: stack.getLogicalId(consumer.onFailureQueue.node.defaultChild as sqs.CfnQueue) });
  });

  it('grants stream read and on-failure send, and the mapping waits for the grants', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const actions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:ListStreams', 'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'sqs:SendMessage']));
    const [id] = Object.keys(template.findResources('AWS::Lambda::EventSourceMapping'));
    const dependsOn = template.toJSON().Resources[id!].DependsOn as string[];
    expect(dependsOn.some((d) => d.includes('DefaultPolicy'))).toBe(true);
  });

  it('creates an encrypted, TLS-only on-failure queue and four alarms (on-failure queue, iterator age in ms, errors, throttles)', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Namespace: 'AWS/Lambda', Threshold: 300_000, Statistic: 'Maximum' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    expect(consumer.iteratorAgeThreshold.toSeconds()).toBe(300);
    expect(consumer.alarms).toHaveLength(4);
  });
});

describe('BoundedStreamConsumer settings', () => {
  it('a downstream budget sets the largest parallelization the shards fit in, and reserved = shards x factor', () => {
    const { consumer, template } = build({ expectedShards: 3, downstreamBudget: { maxConnections: 100, connectionsPerExecution: 4 } });
    // 25 executions / 3 shards -> factor 8 -> 24 executions reserved.
    expect(consumer.settings).toMatchObject({ parallelizationFactor: 8, executions: 24, reservedConcurrency: 24 });
    expect(mapping(template).ParallelizationFactor).toBe(8);
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 24, Environment: { Variables: Match.objectLike({ [CONSUMER_ENV.connectionsPerExecution]: '4' }) } });
  });

  it('the factor derived from a budget is capped at 10', () => {
    expect(build({ expectedShards: 2, downstreamBudget: { maxConnections: 1000, connectionsPerExecution: 1 } }).consumer.settings.parallelizationFactor).toBe(10);
  });

  it('a provisioned Kinesis stream gives its shard count', () => {
    const stack = unbundledStack();
    const stream = new kinesis.Stream(stack, 'Telemetry', { shardCount: 6 });
    const { consumer, template } = build({ stream, parallelizationFactor: 2 }, stack);
    expect(consumer.settings).toMatchObject({ shards: 6, shardsKnown: true, reservedConcurrency: 12 });
    expect(mapping(template).EventSourceArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Telemetry/), 'Arn'] });
    const actions = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
    expect(actions).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:DescribeStream']));
  });

  it('an on-demand Kinesis stream uses expectedShards', () => {
    const stack = unbundledStack();
    const stream = new kinesis.Stream(stack, 'Telemetry', { streamMode: kinesis.StreamMode.ON_DEMAND });
    expect(build({ stream, expectedShards: 8 }, stack).consumer.settings).toMatchObject({ shards: 8, shardsKnown: false, reservedConcurrency: 8 });
  });

  it('infinite record age is written as -1; retry attempts, batching window and starting position pass through', () => {
    const { template } = build({ maxRecordAge: 'infinite', retryAttempts: 20, maxBatchingWindow: Duration.seconds(5), startingPosition: lambda.StartingPosition.LATEST, bisectBatchOnError: false, batchSize: 500 });
    expect(mapping(template)).toMatchObject({ MaximumRecordAgeInSeconds: -1, MaximumRetryAttempts: 20, MaximumBatchingWindowInSeconds: 5, StartingPosition: 'LATEST', BisectBatchOnFunctionError: false, BatchSize: 500 });
  });

  it('the iterator-age threshold stays below half of a short maxRecordAge', () => {
    expect(build({ maxRecordAge: Duration.minutes(2) }).consumer.settings.iteratorAgeThresholdSeconds).toBe(60);
  });

  it('uses a given on-failure queue', () => {
    const stack = unbundledStack();
    const q = new sqs.Queue(stack, 'Mine');
    const { consumer, template } = build({ onFailureQueue: q }, stack);
    expect(consumer.onFailureQueue).toBe(q);
    template.resourceCountIs('AWS::SQS::Queue', 1);
  });

  it('for any shards and budget: shards x factor never exceeds the budget, and reserved covers shards x factor', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 64 }), (shards, maxConnections, perExecution) => {
        const budget = { maxConnections, connectionsPerExecution: perExecution };
        const executions = Math.floor(maxConnections / perExecution);
        if (executions < shards) {
          expect(() => deriveStreamSettings({ source: 'dynamodb', timeoutSeconds: 30, memorySizeMb: 1024, expectedShards: shards, downstreamBudget: budget })).toThrow(/BudgetTooSmall|allows/);
          return;
        }
        const s = deriveStreamSettings({ source: 'dynamodb', timeoutSeconds: 30, memorySizeMb: 1024, expectedShards: shards, downstreamBudget: budget });
        expect(s.executions).toBe(shards * s.parallelizationFactor);
        expect(s.executions).toBeLessThanOrEqual(executions);
        expect(s.reservedConcurrency).toBe(s.executions);
        expect(s.parallelizationFactor).toBe(Math.min(10, Math.floor(executions / shards)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('BoundedStreamConsumer refuses at synth', () => {
  const stack = () => unbundledStack();
  const cases: [string, (s: Stack) => Partial<BoundedStreamConsumerProps>, RegExp, string][] = [
    ['no source', () => ({ table: undefined, stream: undefined }), /exactly one of 'table'/, 'StreamSourceRequired'],
    ['both sources', (s) => ({ table: tableWithStream(s), stream: new kinesis.Stream(s, 'K') }), /exactly one of 'table'/, 'StreamSourceRequired'],
    ['a table without a stream', (s) => ({ table: new dynamodb.Table(s, 'Plain', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } }) }), /has no stream/, 'TableWithoutStream'],
    ['parallelization 0', () => ({ parallelizationFactor: 0 }), /parallelizationFactor must be an integer from 1 to 10/, 'OutOfRange'],
    ['parallelization 11', () => ({ parallelizationFactor: 11 }), /from 1 to 10, got 11/, 'OutOfRange'],
    ['retry attempts -2', () => ({ retryAttempts: -2 }), /retryAttempts must be -1/, 'RetryAttemptsOutOfRange'],
    ['retry attempts 10001', () => ({ retryAttempts: 10_001 }), /0 to 10000, got 10001/, 'RetryAttemptsOutOfRange'],
    ['record age 59 s', () => ({ maxRecordAge: Duration.seconds(59) }), /from 60 s to 604800 s/, 'MaxRecordAgeOutOfRange'],
    ['record age 8 days on Kinesis', (s) => ({ stream: new kinesis.Stream(s, 'K', { shardCount: 1 }), maxRecordAge: Duration.days(8) }), /604800 s.*got 691200/, 'MaxRecordAgeOutOfRange'],
    ['record age 2 days on DynamoDB', () => ({ maxRecordAge: Duration.days(2) }), /DynamoDB Streams keeps records/, 'MaxRecordAgeBeyondRetention'],
    ['batch size 0', () => ({ batchSize: 0 }), /batchSize must be an integer from 1 to 10000/, 'OutOfRange'],
    ['batch size 10001', () => ({ batchSize: 10_001 }), /batchSize must be an integer from 1 to 10000, got 10001/, 'OutOfRange'],
    ['batching window 301 s', () => ({ maxBatchingWindow: Duration.seconds(301) }), /maxBatchingWindow \(seconds\) must be an integer from 0 to 300/, 'OutOfRange'],
    ['a budget below the shards', () => ({ expectedShards: 8, downstreamBudget: { maxConnections: 20, connectionsPerExecution: 4 } }), /allows 5 concurrent.*need 8/, 'BudgetTooSmallForShards'],
    ['a budget below shards x parallelization', () => ({ expectedShards: 4, parallelizationFactor: 6, downstreamBudget: { maxConnections: 40, connectionsPerExecution: 2 } }), /= 24 concurrent executions, but downstreamBudget allows 20.*Lower parallelizationFactor to 5/, 'BudgetTooSmallForShards'],
    ['reserved concurrency below shards x parallelization', () => ({ expectedShards: 4, parallelizationFactor: 2, reservedConcurrency: 7 }), /reservedConcurrency 7 is below .* = 8/, 'ReservedConcurrencyBelowShards'],
    ['reserved concurrency above the budget', () => ({ expectedShards: 2, downstreamBudget: { maxConnections: 10, connectionsPerExecution: 1 }, reservedConcurrency: 11 }), /exceeds the 10 executions/, 'ReservedConcurrencyAboveBudget'],
    ['expectedShards that contradict the stream', (s) => ({ stream: new kinesis.Stream(s, 'K', { shardCount: 2 }), expectedShards: 3 }), /differs from the stream's shardCount \(2\)/, 'ExpectedShardsDiffer'],
    ['an iterator-age threshold at maxRecordAge', () => ({ maxRecordAge: Duration.minutes(10), iteratorAgeAlarmThreshold: Duration.minutes(10) }), /discarded before the alarm fires/, 'IteratorAgeThresholdTooHigh'],
    ['AT_TIMESTAMP', () => ({ startingPosition: lambda.StartingPosition.AT_TIMESTAMP }), /use TRIM_HORIZON or LATEST/, 'StartingPosition'],
    ['a reserved environment variable', () => ({ environment: { FLOODGATE_DLQ_URL: 'x' } }), /set by the construct/, 'ReservedEnvironmentVariable'],
    ['margins out of order', () => ({ softDeadlineMargin: Duration.seconds(2), hardDeadlineMargin: Duration.seconds(3) }), /0 < hardMargin/, 'DeadlineMarginsOutOfOrder'],
  ];
  for (const [name, props, message, code] of cases) {
    it(name, () => {
      const s = stack();
      const err = expectInvalid(() => build(props(s), s), message, code || undefined);
      expect(err.constructPath).toBe('TestStack/Consumer');
    });
  }

  it('tokens: a token parallelizationFactor needs reservedConcurrency, and cannot be checked against a budget', () => {
    const s = stack();
    const pf = new CfnParameter(s, 'Pf', { type: 'Number' }).valueAsNumber;
    expectInvalid(() => build({ parallelizationFactor: pf }, s), /reserved concurrency \(shards x factor\) cannot be computed/, 'ReservedConcurrencyRequired');
    const s2 = stack();
    const pf2 = new CfnParameter(s2, 'Pf', { type: 'Number' }).valueAsNumber;
    expectInvalid(() => build({ parallelizationFactor: pf2, downstreamBudget: { maxConnections: 100, connectionsPerExecution: 4 } }, s2), /neither may be a token/, 'BudgetWithTokens');
    const s3 = stack();
    const pf3 = new CfnParameter(s3, 'Pf', { type: 'Number' }).valueAsNumber;
    const { template } = build({ parallelizationFactor: pf3, reservedConcurrency: 40 }, s3);
    expect(mapping(template).ParallelizationFactor).toEqual({ Ref: 'Pf' });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 40 });
  });

  it('a function already consumed by another construct', () => {
    const s = stack();
    const fn = new lambda.Function(s, 'Fn', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>{}') });
    new BoundedQueueConsumer(s, 'Queue', { consumerFunction: fn, maxConcurrency: 2 });
    expectInvalid(() => new BoundedStreamConsumer(s, 'Consumer', { table: tableWithStream(s), consumerFunction: fn }), /already consumes/, 'FunctionAlreadyConsumes');
  });
});
