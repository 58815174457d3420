// The stack on the local stack (@floodgate/local): no Docker, no AWS account. startLocalStack synthesizes
// the cdk.json app, starts the emulators, deploys the template and runs the consumer function on its
// queue as Lambda's SQS poller would; stop() leaves nothing running.
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { startLocalStack, type LocalStack } from '@floodgate/local';
import { afterAll, beforeAll, expect, test } from 'vitest';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ stack: 'OrdersEsmStack', log: () => {} });
});

afterAll(async () => {
  await stack?.stop();
});

/** Calls `probe` until `done` holds for its result, at most `timeoutMs`; returns the last result. */
async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 500));
    value = await probe();
  }
  return value;
}

test('valid orders are written (a retried one after its backoff); invalid and over-limit ones reach the DLQ with their reason', async () => {
  const { OrderQueueUrl, OrderDeadLetterQueueUrl, OrdersTableName } = stack.outputs;
  const { sqs, dynamodb } = stack.clients;

  const bodies = [
    ...Array.from({ length: 6 }, (_, i) => JSON.stringify({ orderId: `o-${i + 1}`, quantity: i + 1 })),
    JSON.stringify({ orderId: 'flaky-1', quantity: 1 }),
    JSON.stringify({ orderId: 'bad-type', quantity: 'three' }),
    JSON.stringify({ orderId: 'too-many', quantity: 500 }),
    'not json',
  ];
  const sent = await sqs.send(
    new SendMessageBatchCommand({ QueueUrl: OrderQueueUrl, Entries: bodies.map((MessageBody, i) => ({ Id: String(i), MessageBody })) }),
  );
  expect(sent.Failed ?? []).toEqual([]);
  const sentAt = Date.now();

  const scan = await eventually(
    () => dynamodb.send(new ScanCommand({ TableName: OrdersTableName })),
    (r) => (r.Items?.length ?? 0) >= 7,
  );
  expect(scan.Items?.map((item) => item.orderId?.S).sort()).toEqual(['flaky-1', 'o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6']);
  // The retried order was written long before the queue's 3-minute visibility timeout: the handler set
  // its visibility to the backoff delay (at most 2 s on the first retry).
  expect(Date.now() - sentAt).toBeLessThan(60_000);

  const dead: Message[] = [];
  await eventually(
    async () => {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: OrderDeadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }),
      );
      dead.push(...(r.Messages ?? []));
      return dead.length;
    },
    (n) => n >= 3,
  );
  const reasons = Object.fromEntries(
    dead.map((m) => [m.Body, { errorClass: m.MessageAttributes?.ErrorClass?.StringValue, reason: m.MessageAttributes?.ErrorReason?.StringValue }]),
  );
  expect(reasons[bodies[7]!]).toEqual({ errorClass: 'InvalidMessage', reason: expect.stringContaining('quantity') });
  expect(reasons[bodies[8]!]).toEqual({ errorClass: 'OverOrderLimit', reason: 'order too-many: 500 items is above the limit of 100' });
  expect(reasons['not json']?.errorClass).toBe('InvalidMessage');

  // The event source's cap (maxConcurrency: 2) held.
  expect(stack.stats().maxConcurrentExecutions).toBeLessThanOrEqual(2);
});
