import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Duration, Errors, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { CONSUMER_ENV } from '../src/env.js';
import { BoundedQueueConsumer, type BoundedQueueConsumerProps } from '../src/bounded-queue-consumer/index';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

function build(props: Partial<BoundedQueueConsumerProps> = {}, stack: Stack = unbundledStack()) {
  const consumer = new BoundedQueueConsumer(stack, 'Consumer', {
    entry: props.consumerFunction ? undefined : SAMPLE_ENTRY,
    maxConcurrency: props.downstreamBudget ? undefined : 4,
    ...props,
  });
  return { stack, consumer, template: Template.fromStack(stack) };
}

function importWithRole(stack: Stack): lambda.IFunction {
  return lambda.Function.fromFunctionAttributes(stack, 'Imported', {
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:worker',
    role: iam.Role.fromRoleArn(stack, 'ImportedRole', 'arn:aws:iam::123456789012:role/worker'),
    sameEnvironment: true,
  });
}

function queues(template: Template) {
  const all = template.findResources('AWS::SQS::Queue');
  const entries = Object.entries(all);
  const source = entries.find(([, r]) => r.Properties?.RedrivePolicy);
  const dlq = entries.find(([, r]) => !r.Properties?.RedrivePolicy);
  if (!source || !dlq || entries.length !== 2) throw new Error('expected exactly a source queue and a DLQ');
  return { source: { id: source[0], props: source[1].Properties }, dlq: { id: dlq[0], props: dlq[1].Properties } };
}

describe('BoundedQueueConsumer defaults', () => {
  const { template, consumer } = build();

  it('creates a queue with a redrive policy (maxReceiveCount 5) to an SSE-SQS DLQ', () => {
    const { source, dlq } = queues(template);
    expect(source.props.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlq.id, 'Arn'] }, maxReceiveCount: 5 });
    expect(source.props.SqsManagedSseEnabled).toBe(true);
    expect(dlq.props.SqsManagedSseEnabled).toBe(true);
    expect(source.props.MessageRetentionPeriod).toBe(4 * 86_400);
    expect(dlq.props.MessageRetentionPeriod).toBe(14 * 86_400);
  });

  it('sets visibility to 6 x the default 30 s timeout', () => {
    expect(queues(template).source.props.VisibilityTimeout).toBe(180);
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 30, MemorySize: 1024 });
  });

  it('denies non-TLS access on both queues', () => {
    const { source, dlq } = queues(template);
    for (const id of [source.id, dlq.id]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('maps the queue with ReportBatchItemFailures, batch size 10 and the concurrency cap', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 4 },
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  it('reserves concurrency equal to the cap; Node.js 24 on arm64, ESM handler', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 4,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      LoggingConfig: { LogFormat: 'JSON', LogGroup: Match.anyValue() },
    });
  });

  it('passes the sizing environment the handler reads', () => {
    const { dlq } = queues(template);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [CONSUMER_ENV.ioConcurrency]: '16',
          [CONSUMER_ENV.cpuConcurrency]: '1',
          [CONSUMER_ENV.softMarginMs]: '6000',
          [CONSUMER_ENV.hardMarginMs]: '3000',
          [CONSUMER_ENV.deadLetterQueueUrl]: { Ref: dlq.id },
          [CONSUMER_ENV.maxReceiveCount]: '5',
        },
      },
    });
  });

  it('lets the function send to the DLQ and consume the queue, with no managed policies and no wildcard actions', () => {
    const { source, dlq } = queues(template);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
    );
    const actionsOn = (id: string) =>
      statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })).flatMap((s) => [s.Action].flat());
    expect(actionsOn(dlq.id)).toContain('sqs:SendMessage');
    expect(actionsOn(source.id)).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']));
    for (const action of statements.flatMap((s) => [s.Action].flat())) expect(action).not.toContain('*');
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('creates the four alarms with derived thresholds and no actions', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 150, // 30 s x 5 receives
      AlarmActions: Match.absent(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Namespace: 'AWS/Lambda' });
    expect(consumer.alarms).toHaveLength(4);
  });

  it('exposes the derived settings and metric helpers', () => {
    expect(consumer.settings.visibilityTimeoutSeconds).toBe(180);
    expect(consumer.settings.reservedConcurrency).toBe(4);
    expect(consumer.metricConcurrentExecutions().metricName).toBe('ConcurrentExecutions');
    expect(consumer.metricQueueDepth().metricName).toBe('ApproximateNumberOfMessagesVisible');
    expect(consumer.metricMessagesInFlight().metricName).toBe('ApproximateNumberOfMessagesNotVisible');
    expect(consumer.metricAgeOfOldestMessage().metricName).toBe('ApproximateAgeOfOldestMessage');
    expect(consumer.metricDeadLetterQueueDepth().metricName).toBe('ApproximateNumberOfMessagesVisible');
    expect(consumer.metricErrors().statistic).toBe('Sum');
    expect(consumer.metricThrottles().metricName).toBe('Throttles');
  });
});

describe('BoundedQueueConsumer derived settings', () => {
  it('derives the cap from a downstream budget and adds the batching window to visibility', () => {
    const { template } = build({
      downstreamBudget: { maxConnections: 100, connectionsPerExecution: 16 },
      timeout: Duration.seconds(20),
      maxBatchingWindow: Duration.seconds(5),
      batchSize: 100,
      memorySize: 4096,
      reservedConcurrency: 8,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 6 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 8,
      Environment: { Variables: Match.objectLike({ [CONSUMER_ENV.cpuConcurrency]: '2' }) },
    });
    expect(queues(template).source.props.VisibilityTimeout).toBe(125);
  });

  it('uses a KMS key on both queues when given, and alarm actions on an SNS topic', () => {
    const stack = unbundledStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const topic = new sns.Topic(stack, 'Topic');
    const { template } = build({ encryptionKey: key, alarmTopic: topic, maxReceiveCount: 8, architecture: lambda.Architecture.X86_64 }, stack);
    const { source, dlq } = queues(template);
    for (const q of [source, dlq]) expect(q.props.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] });
    expect(source.props.RedrivePolicy.maxReceiveCount).toBe(8);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(4);
    for (const a of alarms) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
      expect(a.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    }
    template.hasResourceProperties('AWS::Lambda::Function', { Architectures: ['x86_64'] });
  });

  it('honours explicit margins, lanes, visibility and alarm threshold', () => {
    const { template } = build({
      timeout: Duration.seconds(60),
      visibilityTimeout: Duration.minutes(10),
      softDeadlineMargin: Duration.seconds(20),
      hardDeadlineMargin: Duration.seconds(8),
      ioConcurrency: 32,
      cpuConcurrency: 3,
      ageOfOldestMessageAlarmThreshold: Duration.minutes(15),
    });
    expect(queues(template).source.props.VisibilityTimeout).toBe(600);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [CONSUMER_ENV.ioConcurrency]: '32',
          [CONSUMER_ENV.cpuConcurrency]: '3',
          [CONSUMER_ENV.softMarginMs]: '20000',
          [CONSUMER_ENV.hardMarginMs]: '8000',
        }),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 900 });
  });

  it('grants producers and redrive tools', () => {
    const stack = unbundledStack();
    const consumer = new BoundedQueueConsumer(stack, 'Consumer', { entry: SAMPLE_ENTRY, maxConcurrency: 2 });
    const producer = new lambda.Function(stack, 'Producer', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => {};'),
    });
    consumer.grantSendMessages(producer);
    consumer.grantRedrive(producer);
    const template = Template.fromStack(stack);
    const producerPolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes('ProducerServiceRole'),
    );
    const actions = JSON.stringify(producerPolicy?.Properties.PolicyDocument.Statement);
    expect(actions).toContain('sqs:SendMessage');
    expect(actions).toContain('sqs:ReceiveMessage');
  });
});

describe('BoundedQueueConsumer with an existing function', () => {
  it('adds the environment to a lambda.Function, sets its reserved concurrency and reads its timeout', () => {
    const stack = unbundledStack();
    const fn = new lambda.Function(stack, 'Existing', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => ({ batchItemFailures: [] });'),
      timeout: Duration.seconds(45),
      memorySize: 3538,
    });
    const { template, consumer } = build({ consumerFunction: fn, maxConcurrency: 3 }, stack);
    expect(consumer.function).toBe(fn);
    expect(queues(template).source.props.VisibilityTimeout).toBe(270);
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 3,
      Environment: { Variables: Match.objectLike({ [CONSUMER_ENV.cpuConcurrency]: '2', [CONSUMER_ENV.maxReceiveCount]: '5' }) },
    });
  });

  it('refuses a second consumer on the same function', () => {
    const stack = unbundledStack();
    const fn = new lambda.Function(stack, 'Existing', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('x'),
    });
    new BoundedQueueConsumer(stack, 'First', { consumerFunction: fn, maxConcurrency: 2 });
    expectInvalid(() => new BoundedQueueConsumer(stack, 'Second', { consumerFunction: fn, maxConcurrency: 2 }), /TestStack\/Second: consumerFunction already consumes TestStack\/First/);
  });

  it('validates a reserved concurrency already set on the function', () => {
    const stack = unbundledStack();
    const fn = new lambda.Function(stack, 'Existing', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('x'),
      reservedConcurrentExecutions: 2,
    });
    expectInvalid(() => build({ consumerFunction: fn, maxConcurrency: 5 }, stack), /reservedConcurrency \(2\) is below .*maxConcurrency \(5\)/);
  });

  it('rejects a timeout prop that disagrees with the function', () => {
    const stack = unbundledStack();
    const fn = new lambda.Function(stack, 'Existing', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('x'),
      timeout: Duration.seconds(10),
    });
    expectInvalid(() => build({ consumerFunction: fn, timeout: Duration.seconds(20) }, stack), /differs from consumerFunction's timeout \(10 s\)/);
  });

  it('requires the timeout of an imported function and warns about what it cannot set', () => {
    const stack = unbundledStack();
    const imported = importWithRole(stack);
    expectInvalid(() => build({ consumerFunction: imported }, stack), /imported consumerFunction's timeout cannot be read; pass 'timeout'/);

    const stack2 = unbundledStack();
    build({ consumerFunction: importWithRole(stack2), timeout: Duration.seconds(30) }, stack2);
    Annotations.fromStack(stack2).hasWarning('/TestStack/Consumer', Match.stringLikeRegexp('reserved concurrency >= 4, timeout 30 s'));
    Template.fromStack(stack2).hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 4 } });
  });

  it('rejects assetFiles that escape the asset or name no existing absolute file', () => {
    expectInvalid(() => build({ assetFiles: { '../outside.txt': SAMPLE_ENTRY } }), /destination '\.\.\/outside\.txt' must be a relative path inside the asset/);
    expectInvalid(() => build({ assetFiles: { '/etc/x': SAMPLE_ENTRY } }), /must be a relative path inside the asset/);
    expectInvalid(() => build({ assetFiles: { 'data/x.txt': 'relative/x.txt' } }), /source 'relative\/x\.txt' \(for 'data\/x\.txt'\) must be an absolute path to an existing file/);
    expectInvalid(() => build({ assetFiles: { 'data/x.txt': '/nonexistent/x.txt' } }), /must be an absolute path to an existing file/);
    expect(() => build({ assetFiles: { 'data/sample.ts': SAMPLE_ENTRY } })).not.toThrow();
  });

  it('rejects entry-only options, environment, and an imported function without a role', () => {
    const stack = unbundledStack();
    const imported = importWithRole(stack);
    expectInvalid(() => build({ consumerFunction: imported, timeout: Duration.seconds(30), nodeModules: ['sharp'] }, stack), /'nodeModules' applies only with 'entry'/);
    const stack2 = unbundledStack();
    expectInvalid(() => build({ consumerFunction: importWithRole(stack2), timeout: Duration.seconds(30), environment: { A: 'b' } }, stack2), /cannot set 'environment' on an imported consumerFunction/);
    const stack3 = unbundledStack();
    const roleless = lambda.Function.fromFunctionArn(stack3, 'Roleless', 'arn:aws:lambda:us-east-1:123456789012:function:x');
    expectInvalid(() => build({ consumerFunction: roleless, timeout: Duration.seconds(30) }, stack3), /has no role.*fromFunctionAttributes\(\{ functionArn, role \}\)/);
  });
});

describe('BoundedQueueConsumer validation errors name the construct and the fix', () => {
  const cases: Array<[string, Partial<BoundedQueueConsumerProps>, RegExp, string]> = [
    ['reserved below cap', { maxConcurrency: 10, reservedConcurrency: 5 }, /^TestStack\/Consumer: reservedConcurrency \(5\) is below/, 'ReservedConcurrencyBelowCap'],
    ['budget below 2', { downstreamBudget: { maxConnections: 10, connectionsPerExecution: 8 } }, /allows only 1 concurrent execution/, 'BudgetTooSmall'],
    ['cap above 1000', { maxConcurrency: 1001 }, /maxConcurrency must be an integer from 2 to 1000/, 'OutOfRange'],
    ['cap below 2', { maxConcurrency: 1 }, /maxConcurrency must be an integer from 2 to 1000/, 'OutOfRange'],
    ['receive count below 5', { maxReceiveCount: 3 }, /maxReceiveCount must be an integer >= 5, got 3/, 'MaxReceiveCountTooLow'],
    ['visibility too short', { timeout: Duration.seconds(60), visibilityTimeout: Duration.seconds(120) }, /visibilityTimeout 120 s is below 6 x timeout \(60 s\)/, 'VisibilityTimeoutTooShort'],
    ['batch above 10 without window', { batchSize: 50 }, /maxBatchingWindow >= 1 second/, 'BatchSizeNeedsWindow'],
    ['DLQ retention too short', { retentionPeriod: Duration.days(14), deadLetterRetentionPeriod: Duration.days(4) }, /deadLetterRetentionPeriod/, 'DeadLetterRetentionTooShort'],
    ['margins out of order', { softDeadlineMargin: Duration.seconds(2), hardDeadlineMargin: Duration.seconds(3) }, /0 < hardMargin/, 'DeadlineMarginsOutOfOrder'],
    ['sizing env overridden', { environment: { [CONSUMER_ENV.ioConcurrency]: '99' } }, /environment.FLOODGATE_IO_CONCURRENCY is set by the construct/, 'ReservedEnvironmentVariable'],
    ['memory out of range', { memorySize: 100 }, /memorySize/, 'OutOfRange'],
    ['no cap at all', { maxConcurrency: undefined }, /Set maxConcurrency/, 'ScalingRequired'],
    ['cap and budget', { maxConcurrency: 5, downstreamBudget: { maxConnections: 100, connectionsPerExecution: 10 } }, /not both/, 'MaxConcurrencyAndBudget'],
    ['FIFO option on a standard queue', { contentBasedDeduplication: true }, /'contentBasedDeduplication' applies only to FIFO queues; set fifo: true/, 'FifoOptionWithoutFifo'],
    ['high throughput on a standard queue', { highThroughputFifo: true }, /'highThroughputFifo' applies only to FIFO queues/, 'FifoOptionWithoutFifo'],
    ['timeout above 15 min', { timeout: Duration.minutes(16) }, /timeout \(seconds\) must be an integer from 1 to 900/, 'OutOfRange'],
    ['duration token in another unit', { timeout: Duration.seconds(30), softDeadlineMargin: Duration.seconds(Token.asNumber({ Ref: 'X' })), hardDeadlineMargin: Duration.millis(1000) }, /softDeadlineMargin is a token in another unit; give it as Duration.millis\(token\)/, 'TokenDurationUnit'],
  ];
  it.each(cases)('%s', (_name, props, message, code) => {
    const err = expectInvalid(() => build(props), message, code);
    expect(err.constructPath).toBe('TestStack/Consumer');
    expect(Errors.isValidationError(err)).toBe(true);
  });

  it('needs exactly one of entry and consumerFunction', () => {
    const stack = unbundledStack();
    expectInvalid(() => new BoundedQueueConsumer(stack, 'None', { maxConcurrency: 2 }), /exactly one of 'entry'.*'consumerFunction'/);
    const fn = lambda.Function.fromFunctionArn(stack, 'F', 'arn:aws:lambda:us-east-1:123456789012:function:f');
    expectInvalid(() => new BoundedQueueConsumer(stack, 'Both', { entry: SAMPLE_ENTRY, consumerFunction: fn, maxConcurrency: 2 }), /exactly one of/);
  });
});
