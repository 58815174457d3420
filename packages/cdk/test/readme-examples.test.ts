/** The numbers README.md quotes for its examples, checked on the synthesized templates. */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueueConsumer } from '../src/bounded-queue-consumer/index';
import { deriveProvisionedScaling, INVOKES_PER_POLLER } from '../src/consumer-settings/index';
import { FloodgateValidationError } from '../src/errors';
import { IdempotencyTable } from '../src/idempotency-table';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';

describe('README examples', () => {
  it('a complete stack: budget 100 / 4 -> cap 25, reserved 25', () => {
    const stack: Stack = unbundledStack();
    const idempotency = new IdempotencyTable(stack, 'Idempotency');
    const orders = new BoundedQueueConsumer(stack, 'Orders', {
      entry: SAMPLE_ENTRY,
      downstreamBudget: { maxConnections: 100, connectionsPerExecution: 4 },
      ioConcurrency: 4,
      environment: { IDEMPOTENCY_TABLE: idempotency.tableName },
    });
    idempotency.grantReadWrite(orders.function);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 25 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 25 });
  });

  it('FIFO: FIFO queue with high throughput, no batching window', () => {
    const stack = unbundledStack();
    new BoundedQueueConsumer(stack, 'Ledger', { entry: SAMPLE_ENTRY, fifo: true, highThroughputFifo: true, contentBasedDeduplication: false, maxConcurrency: 20 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 20 }, MaximumBatchingWindowInSeconds: Match.absent() });
  });

  it('provisioned mode: budget 100 / 4 -> 25 executions -> 2 pollers, reserved 25', () => {
    const stack = unbundledStack();
    new BoundedQueueConsumer(stack, 'Orders', {
      entry: SAMPLE_ENTRY,
      provisionedPollerConfig: { minimumPollers: 2 },
      downstreamBudget: { maxConnections: 100, connectionsPerExecution: 4 },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 2 } });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 25 });
  });
});

describe('provisioned mode from a budget (property)', () => {
  it('the pollers never drive more than the budget, and reserved concurrency covers them without exceeding it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 64 }), (maxConnections, connectionsPerExecution) => {
        const executions = Math.floor(maxConnections / connectionsPerExecution);
        try {
          const p = deriveProvisionedScaling({ provisionedPollerConfig: {}, downstreamBudget: { maxConnections, connectionsPerExecution } });
          const reserved = p.defaultReservedConcurrency!;
          return (
            p.maxConcurrency === p.maximumPollers * INVOKES_PER_POLLER &&
            p.maxConcurrency <= executions &&
            reserved >= p.maxConcurrency &&
            reserved <= executions &&
            p.maximumPollers >= 2 &&
            p.maximumPollers <= 2000
          );
        } catch (err) {
          return err instanceof FloodgateValidationError && err.code === 'BudgetTooSmallForProvisioned' && executions < 20;
        }
      }),
    );
  });
});
