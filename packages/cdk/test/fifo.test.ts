import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { BoundedQueueConsumer, type BoundedQueueConsumerProps } from '../src/bounded-queue-consumer/index';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

function build(props: Partial<BoundedQueueConsumerProps> = {}, stack: Stack = unbundledStack()) {
  const consumer = new BoundedQueueConsumer(stack, 'Consumer', { entry: SAMPLE_ENTRY, maxConcurrency: 4, fifo: true, ...props });
  return { stack, consumer, template: Template.fromStack(stack) };
}

function queues(template: Template) {
  const entries = Object.entries(template.findResources('AWS::SQS::Queue'));
  const source = entries.find(([, r]) => r.Properties?.RedrivePolicy);
  const dlq = entries.find(([, r]) => !r.Properties?.RedrivePolicy);
  if (!source || !dlq || entries.length !== 2) throw new Error('expected exactly a source queue and a DLQ');
  return { source: { id: source[0], props: source[1].Properties }, dlq: { id: dlq[0], props: dlq[1].Properties } };
}

describe('BoundedQueueConsumer with fifo: true', () => {
  it('creates a FIFO queue redriving to a FIFO DLQ, both encrypted, with the standard derivations', () => {
    const { template, consumer } = build();
    const { source, dlq } = queues(template);
    expect(source.props.FifoQueue).toBe(true);
    expect(dlq.props.FifoQueue).toBe(true);
    expect(source.props.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlq.id, 'Arn'] }, maxReceiveCount: 5 });
    expect(source.props.VisibilityTimeout).toBe(180);
    expect(source.props.SqsManagedSseEnabled).toBe(true);
    expect(source.props.ContentBasedDeduplication).toBeUndefined();
    expect(source.props.DeduplicationScope).toBeUndefined();
    expect(consumer.queue.fifo).toBe(true);
    expect(consumer.deadLetterQueue.fifo).toBe(true);
    expect(consumer.settings.fifo).toBe(true);
  });

  it('maps it with ReportBatchItemFailures, the cap, and no batching window', () => {
    const { template } = build({ batchSize: 10 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 4 },
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 4 });
  });

  it('sets content-based deduplication and high-throughput mode when asked', () => {
    const { template } = build({ contentBasedDeduplication: true, highThroughputFifo: true });
    const { source, dlq } = queues(template);
    expect(source.props).toMatchObject({
      ContentBasedDeduplication: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
    });
    // The DLQ takes the handler's sends with an explicit deduplication id: no content-based dedup there.
    expect(dlq.props.ContentBasedDeduplication).toBeUndefined();
  });

  it('does not compare retentions (FIFO resets the enqueue time on redrive)', () => {
    expect(() => build({ retentionPeriod: Duration.days(14), deadLetterRetentionPeriod: Duration.days(4) })).not.toThrow();
  });

  it('accepts a FIFO dead-letter queue of the user', () => {
    const stack = unbundledStack();
    const mine = new sqs.Queue(stack, 'MyDlq', { fifo: true, enforceSSL: true });
    const { template, consumer } = build({ deadLetterQueue: mine }, stack);
    expect(consumer.deadLetterQueue).toBe(mine);
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MyDlq'), 'Arn'] }, maxReceiveCount: 5 },
    });
  });

  const errors: Array<[string, Partial<BoundedQueueConsumerProps>, RegExp, string]> = [
    ['batching window', { maxBatchingWindow: Duration.seconds(5) }, /maxBatchingWindow is not supported on FIFO queues.*Remove maxBatchingWindow/, 'FifoBatchingWindow'],
    ['batch above 10', { batchSize: 11 }, /batchSize 11 is above 10, the most a FIFO event source accepts/, 'FifoBatchSize'],
    ['batch above 10 even with a window', { batchSize: 100, maxBatchingWindow: Duration.seconds(1) }, /not supported on FIFO/, 'FifoBatchingWindow'],
  ];
  it.each(errors)('refuses a %s', (_name, props, message, code) => {
    expectInvalid(() => build(props), message, code);
  });

  it('refuses a standard DLQ for a FIFO queue, and a FIFO DLQ for a standard queue', () => {
    const stack = unbundledStack();
    const standard = new sqs.Queue(stack, 'Standard');
    expectInvalid(() => build({ deadLetterQueue: standard }, stack), /deadLetterQueue TestStack\/Standard is a standard queue, but the source queue is FIFO.*Pass a FIFO queue/, 'DeadLetterQueueNotFifo');
    const stack2 = unbundledStack();
    const fifo = sqs.Queue.fromQueueArn(stack2, 'Fifo', 'arn:aws:sqs:us-east-1:123456789012:dlq.fifo');
    expectInvalid(() => build({ fifo: false, deadLetterQueue: fifo }, stack2), /is a FIFO queue, but the source queue is standard/, 'DeadLetterQueueIsFifo');
  });

  it('refuses deadLetterRetentionPeriod with a DLQ of the user', () => {
    const stack = unbundledStack();
    const mine = new sqs.Queue(stack, 'MyDlq', { fifo: true });
    expectInvalid(() => build({ deadLetterQueue: mine, deadLetterRetentionPeriod: Duration.days(14) }, stack), /set the retention on your deadLetterQueue/, 'DeadLetterRetentionWithQueue');
  });
});
