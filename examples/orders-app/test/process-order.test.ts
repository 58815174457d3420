// A unit test of one's own handler, built with createConsumerHandler: jest (CommonJS, @swc/jest) loads
// @floodgate/runtime with require(), with the jest configuration `cdk init` wrote, unchanged.
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PermanentError } from '@floodgate/runtime';
import { handler } from '../lambda/process-order';

function record(messageId: string, body: unknown): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:orders',
    awsRegion: 'us-east-1',
  };
}

const context = {
  awsRequestId: 'req-1',
  functionName: 'process-order',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

afterEach(() => jest.restoreAllMocks());

test('writes a valid order and reports an invalid one as a batch item failure (no DLQ configured here)', async () => {
  // One copy of the SDK in the project: the handler's DynamoDBClient is this one, so this spy sees its calls.
  const send = jest.spyOn(DynamoDBClient.prototype, 'send').mockImplementation(async () => ({}));
  const event: SQSEvent = { Records: [record('m-good', { orderId: 'o-1', quantity: 3 }), record('m-bad', { orderId: 'o-2', quantity: 0 })] };

  const result = await handler(event, context);

  expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-bad' }] });
  expect(send).toHaveBeenCalledTimes(1);
  const command = send.mock.calls[0]![0] as PutItemCommand;
  expect(command).toBeInstanceOf(PutItemCommand);
  expect(command.input.Item?.['orderId']).toEqual({ S: 'o-1' });
});

test('the runtime and its subpaths load with require() under jest, with one PermanentError class', () => {
  const runtime = require('@floodgate/runtime') as typeof import('@floodgate/runtime');
  const idempotency = require('@floodgate/runtime/idempotency') as Record<string, unknown>;
  const lock = require('@floodgate/runtime/lock') as Record<string, unknown>;
  const faults = require('@floodgate/runtime/faults') as Record<string, unknown>;
  expect(runtime.PermanentError).toBe(PermanentError);
  expect(new PermanentError('X', 'y')).toBeInstanceOf(runtime.PermanentError);
  expect(typeof idempotency['IdempotencyStore']).toBe('function');
  expect(typeof lock['LeaseLock']).toBe('function');
  expect(typeof faults['faultPoint']).toBe('function');
});
