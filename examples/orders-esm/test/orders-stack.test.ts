import { join } from 'node:path';
import * as cdk from 'aws-cdk-lib/core';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { BoundedQueueConsumer } from '@floodgate/cdk';
import { expect, test } from 'vitest';
import { OrdersStack } from '../lib/orders-stack.js';

test('the consumer is capped at 2 and backed by reserved concurrency', () => {
  const stack = new OrdersStack(new cdk.App(), 'TestStack');
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

test('limits that cannot work together fail at construction', () => {
  const stack = new cdk.Stack(new cdk.App(), 'Bad');
  expect(
    () =>
      new BoundedQueueConsumer(stack, 'Consumer', {
        entry: join(import.meta.dirname, '..', 'lambda', 'process-order.ts'),
        maxConcurrency: 10,
        reservedConcurrency: 2,
      }),
  ).toThrow(/Bad\/Consumer: .*reserved/i);
});
