import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib/core';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { BoundedQueueConsumer, FloodgateValidationError } from '@floodgate/cdk';
import { OrdersAppStack } from '../lib/orders-app-stack';

test('the order consumer is capped, backed by reserved concurrency and reports batch item failures', () => {
  // No esbuild run per test: `cdk synth` bundles the handler.
  const app = new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new OrdersAppStack(app, 'TestStack');
  const template = Template.fromStack(stack);

  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    BatchSize: 5,
    ScalingConfig: { MaximumConcurrency: 2 },
    FunctionResponseTypes: ['ReportBatchItemFailures'],
  });
  template.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'nodejs24.x',
    ReservedConcurrentExecutions: 2,
    Environment: { Variables: Match.objectLike({ ORDERS_TABLE: Match.anyValue() }) },
  });
  template.hasResourceProperties('AWS::SQS::Queue', {
    RedrivePolicy: Match.objectLike({ maxReceiveCount: stack.orders.settings.maxReceiveCount }),
    VisibilityTimeout: stack.orders.settings.visibilityTimeoutSeconds,
  });
  expect(stack.orders.settings.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * 30);
});

test('limits that cannot work together fail at construction with a typed error that says what to change', () => {
  let error: unknown;
  try {
    new BoundedQueueConsumer(new cdk.Stack(new cdk.App(), 'Bad'), 'Consumer', {
      entry: path.join(__dirname, '..', 'lambda', 'process-order.ts'),
      maxConcurrency: 10,
      reservedConcurrency: 2,
    });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(FloodgateValidationError);
  expect(error).toMatchObject({ code: 'ReservedConcurrencyBelowCap', constructPath: 'Bad/Consumer' });
  expect((error as Error).message).toMatch(/Set reservedConcurrency >= 10/);
});
