// The README's jest example, run by jest in CommonJS: @floodgate/local/testing from a plain require.
// FLOODGATE_TEST_ASSEMBLY is the synthesized fixture app (set by testing-entry.test.ts).
const { startLocalStack } = require('@floodgate/local/testing');
const { SendMessageCommand } = require('@aws-sdk/client-sqs');
const { GetItemCommand } = require('@aws-sdk/client-dynamodb');

let stack;
beforeAll(async () => {
  stack = await startLocalStack({ assembly: process.env.FLOODGATE_TEST_ASSEMBLY });
});
afterAll(() => stack?.stop());

test('a message sent to the queue is processed by the function', async () => {
  const { QueueUrl, TableName } = stack.outputs;
  await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify({ id: 'jest-1', action: 'ok' }) }));
  let item;
  for (let i = 0; i < 200 && !item; i++) {
    await new Promise((r) => setTimeout(r, 250));
    item = (await stack.clients.dynamodb.send(new GetItemCommand({ TableName, Key: { pk: { S: 'jest-1' } } }))).Item;
  }
  expect(item.attempts).toEqual({ N: '1' });
  // The CLI's pid, for the outer test to check that nothing is left running after stop().
  console.log(`floodgate-pid=${stack.pid}`);
});
