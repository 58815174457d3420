import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { BoundedQueueConsumer, type BoundedQueueConsumerProps } from '../src/bounded-queue-consumer/index';
import { deriveProvisionedScaling } from '../src/consumer-settings/index';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

function build(props: Partial<BoundedQueueConsumerProps> = {}, stack: Stack = unbundledStack()) {
  const consumer = new BoundedQueueConsumer(stack, 'Consumer', { entry: SAMPLE_ENTRY, ...props });
  return { stack, consumer, template: Template.fromStack(stack) };
}

describe('BoundedQueueConsumer in SQS provisioned mode', () => {
  it('sets ProvisionedPollerConfig instead of ScalingConfig, and reserves 10 invokes per maximum poller', () => {
    const { template, consumer } = build({ provisionedPollerConfig: { minimumPollers: 3, maximumPollers: 8 } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ProvisionedPollerConfig: { MinimumPollers: 3, MaximumPollers: 8 },
      ScalingConfig: Match.absent(),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 80 });
    expect(consumer.settings).toMatchObject({
      scalingMode: 'provisioned',
      provisionedPollers: { minimumPollers: 3, maximumPollers: 8 },
      maxConcurrency: 80,
      reservedConcurrency: 80,
    });
  });

  it('defaults minimumPollers to 2', () => {
    const { template } = build({ provisionedPollerConfig: { maximumPollers: 5 } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 5 } });
  });

  it('derives maximumPollers from a downstream budget, reserving the budget so Lambda throttles before the downstream refuses', () => {
    // 100 connections / 4 per execution = 25 executions -> 2 pollers (20 invokes), reserved 25.
    const { template, consumer } = build({
      provisionedPollerConfig: {},
      downstreamBudget: { maxConnections: 100, connectionsPerExecution: 4 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 2 } });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 25 });
    expect(consumer.settings.maxConcurrency).toBe(20);
  });

  it('accepts more reserved concurrency than the pollers drive', () => {
    const { template } = build({ provisionedPollerConfig: { maximumPollers: 2 }, reservedConcurrency: 50 });
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 50 });
  });

  const errors: Array<[string, Partial<BoundedQueueConsumerProps>, RegExp, string]> = [
    ['with maxConcurrency', { provisionedPollerConfig: { maximumPollers: 4 }, maxConcurrency: 10 }, /mutually exclusive.*Remove maxConcurrency/, 'ProvisionedWithMaxConcurrency'],
    ['without maximumPollers or budget', { provisionedPollerConfig: { minimumPollers: 2 } }, /Set provisionedPollerConfig.maximumPollers .* or downstreamBudget/, 'MaximumPollersRequired'],
    ['with maximumPollers and a budget', { provisionedPollerConfig: { maximumPollers: 4 }, downstreamBudget: { maxConnections: 100, connectionsPerExecution: 1 } }, /not both/, 'MaximumPollersAndBudget'],
    ['minimumPollers below 2', { provisionedPollerConfig: { minimumPollers: 1, maximumPollers: 4 } }, /minimumPollers must be an integer from 2 to 200, got 1/, 'OutOfRange'],
    ['minimumPollers above 200', { provisionedPollerConfig: { minimumPollers: 201, maximumPollers: 300 } }, /minimumPollers must be an integer from 2 to 200/, 'OutOfRange'],
    ['maximumPollers above 2000', { provisionedPollerConfig: { maximumPollers: 2001 } }, /maximumPollers must be an integer from 2 to 2000, got 2001/, 'OutOfRange'],
    ['minimum above maximum', { provisionedPollerConfig: { minimumPollers: 6, maximumPollers: 4 } }, /minimumPollers \(6\) is above maximumPollers \(4\)/, 'MinimumPollersAboveMaximum'],
    ['minimum above the derived maximum', { provisionedPollerConfig: { minimumPollers: 5 }, downstreamBudget: { maxConnections: 40, connectionsPerExecution: 1 } }, /minimumPollers \(5\) is above maximumPollers \(4\).*derived from downstreamBudget/, 'MinimumPollersAboveMaximum'],
    ['budget below 2 pollers', { provisionedPollerConfig: {}, downstreamBudget: { maxConnections: 100, connectionsPerExecution: 6 } }, /allows 16 concurrent executions, fewer than the 20 that 2 provisioned pollers/, 'BudgetTooSmallForProvisioned'],
    ['reserved below what the pollers drive', { provisionedPollerConfig: { maximumPollers: 4 }, reservedConcurrency: 30 }, /reservedConcurrency \(30\) is below the 40 concurrent invokes the provisioned pollers can drive.*lower maximumPollers/, 'ReservedConcurrencyBelowCap'],
  ];
  it.each(errors)('refuses provisioned mode %s', (_name, props, message, code) => {
    expectInvalid(() => build(props), message, code);
  });

  it('checks a reserved concurrency already set on an existing function against the pollers', () => {
    const stack = unbundledStack();
    const fn = new lambda.Function(stack, 'Existing', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('x'),
      reservedConcurrentExecutions: 10,
    });
    expectInvalid(() => build({ entry: undefined, consumerFunction: fn, provisionedPollerConfig: { maximumPollers: 2 } }, stack), /reservedConcurrency \(10\) is below the 20 concurrent invokes/, 'ReservedConcurrencyBelowCap');
  });
});

describe('deriveProvisionedScaling', () => {
  it('caps the derived pollers at 2000 and the reserved concurrency at 20,000', () => {
    expect(deriveProvisionedScaling({ provisionedPollerConfig: {}, downstreamBudget: { maxConnections: 1_000_000, connectionsPerExecution: 1 } })).toEqual({
      minimumPollers: 2,
      maximumPollers: 2000,
      maxConcurrency: 20_000,
      defaultReservedConcurrency: 20_000,
    });
  });
});
