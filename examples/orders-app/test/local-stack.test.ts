// The stack on the local stack from jest: @floodgate/local/testing is CommonJS and runs
// `floodgate-local up --keep --json` as a child process. It deploys the synthesized cdk.out when there is
// one (else it synthesizes the cdk.json app), and runs the consumer on its queue as Lambda would.
import { existsSync } from 'node:fs';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startLocalStack, type TestLocalStack } from '@floodgate/local/testing';

let stack: TestLocalStack;

beforeAll(async () => {
  stack = await startLocalStack(existsSync('cdk.out') ? { assembly: 'cdk.out' } : {});
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

test('a valid order is written, an invalid one reaches the DLQ with its reason', async () => {
  const { OrderQueueUrl, OrderDeadLetterQueueUrl, OrdersTableName } = stack.outputs;
  const { sqs, dynamodb } = stack.clients;
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: OrderQueueUrl,
      Entries: [
        { Id: 'good', MessageBody: JSON.stringify({ orderId: 'jest-1', quantity: 2 }) },
        { Id: 'bad', MessageBody: JSON.stringify({ orderId: 'jest-bad', quantity: 0 }) },
      ],
    }),
  );
  let items: Record<string, { S?: string }>[] = [];
  for (let i = 0; i < 60 && items.length < 1; i++) {
    items = ((await dynamodb.send(new ScanCommand({ TableName: OrdersTableName }))).Items ?? []) as typeof items;
    if (items.length < 1) await new Promise((r) => setTimeout(r, 1000));
  }
  expect(items.map((it) => it['orderId']?.S)).toEqual(['jest-1']);
  const dead = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: OrderDeadLetterQueueUrl, MessageAttributeNames: ['All'], WaitTimeSeconds: 20, MaxNumberOfMessages: 10 }),
  );
  expect(dead.Messages?.map((m) => JSON.parse(m.Body!).orderId)).toEqual(['jest-bad']);
  expect(dead.Messages?.[0]?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('OrderRejected');
}, 120_000);
