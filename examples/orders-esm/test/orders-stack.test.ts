import { join } from 'node:path';
import * as cdk from 'aws-cdk-lib/core';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { BoundedQueueConsumer, FloodgateValidationError } from '@floodgate/cdk';
import { expect, test } from 'vitest';
import { OrdersStack } from '../lib/orders-stack.js';

test('the consumer is capped at 2 and backed by reserved concurrency', () => {
  // No esbuild run per test: `cdk synth` bundles the handler.
  const stack = new OrdersStack(new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'TestStack');
  const template = Template.fromStack(stack);
  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    ScalingConfig: { MaximumConcurrency: 2 },
    FunctionResponseTypes: ['ReportBatchItemFailures'],
  });
  template.hasResourceProperties('AWS::Lambda::Function', {
    ReservedConcurrentExecutions: 2,
    Environment: { Variables: Match.objectLike({ ORDERS_TABLE: Match.anyValue() }) },
  });
});

test('limits that cannot work together fail at construction with a typed error that says what to change', () => {
  let error: unknown;
  try {
    new BoundedQueueConsumer(new cdk.Stack(new cdk.App(), 'Bad'), 'Consumer', {
      entry: join(import.meta.dirname, '..', 'lambda', 'process-order.ts'),
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
