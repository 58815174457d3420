import { join } from 'node:path';
import * as cdk from 'aws-cdk-lib/core';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Template } from 'aws-cdk-lib/assertions';
import { BoundedStreamConsumer, FloodgateValidationError } from '@floodgate/cdk';
import { createStreamHandler, RetryableError } from '@floodgate/runtime';
import type { DynamoDBRecord } from 'aws-lambda';
import { expect, test } from 'vitest';

const entry = join(import.meta.dirname, '..', 'lambda', 'process-order.ts');

test('a DynamoDB stream consumer: parallelization and reserved concurrency from the budget, refusals typed', () => {
  const stack = new cdk.Stack(new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Streams');
  const table = new dynamodb.Table(stack, 'Orders', {
    partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
    stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  });
  new BoundedStreamConsumer(stack, 'Indexer', { table, entry, expectedShards: 3, downstreamBudget: { maxConnections: 100, connectionsPerExecution: 4 } });
  const template = Template.fromStack(stack);
  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ParallelizationFactor: 8, FunctionResponseTypes: ['ReportBatchItemFailures'], BisectBatchOnFunctionError: true });
  template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 24 });

  const plain = new dynamodb.Table(stack, 'Plain', { partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING } });
  let error: unknown;
  try {
    new BoundedStreamConsumer(stack, 'Bad', { table: plain, entry });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(FloodgateValidationError);
  expect(error).toMatchObject({ code: 'TableWithoutStream', constructPath: 'Streams/Bad' });
});

test('createStreamHandler: one item key in order, a checkpoint at the first failure', async () => {
  const record = (orderId: string, seq: string, eventName: 'INSERT' | 'MODIFY'): DynamoDBRecord => ({
    eventID: seq,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: { Keys: { orderId: { S: orderId } }, NewImage: { orderId: { S: orderId } }, SequenceNumber: seq, SizeBytes: 20, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-12-01T00:00:00.000',
  });
  const seen: string[] = [];
  const handler = createStreamHandler<DynamoDBRecord>({
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    processRecord: async (r) => {
      seen.push(`${r.dynamodb!.Keys!['orderId']!.S}:${r.eventName}`);
      if (r.dynamodb!.SequenceNumber === '300000000000000000003') throw new RetryableError('Throttled', 'slow down');
    },
  });
  const out = await handler(
    { Records: [record('o-1', '100000000000000000001', 'INSERT'), record('o-2', '200000000000000000002', 'INSERT'), record('o-1', '300000000000000000003', 'MODIFY'), record('o-1', '400000000000000000004', 'MODIFY')] },
    { getRemainingTimeInMillis: () => 60_000 },
  );
  expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: '300000000000000000003' }] });
  expect(seen.filter((s) => s.startsWith('o-1'))).toEqual(['o-1:INSERT', 'o-1:MODIFY']);
});
