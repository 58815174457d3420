/**
 * The other two ways real stacks feed queues and consumers (issue 21), end to end from one app
 * (fixtures/event-sources-app.ts, aws-cdk-lib constructs only), deployed once: `aws events put-events`
 * on a custom bus reaches the rule's SQS target only for the event its numeric + anything-but pattern
 * matches; an item put in a table reaches the function mapped to its stream (DynamoEventSource), whose
 * effect is read back from another table; a failing record lands on the mapping's on-failure queue with
 * its DDBStreamBatchInfo. Runs on the embedded emulators, and against FLOODGATE_ENDPOINT (moto_server in
 * .ci/run), where all three passed (moto_server 5.2): there the queues, the tables and the table's stream
 * are moto's (our stream poller reads moto's DynamoDB Streams API), while the bus and the rule are the
 * floodgate endpoint's EventBridge on any target (it answers the `events` API itself), delivering to
 * moto's queue under the queue policy. Nothing is skipped; a part that stops working there gets a named
 * skip (test/support/target.ts), not silence.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalStack, synthesize, type LocalStack } from '@floodgate/local';
import { localEndpoints } from '../support/local-env';
import { onExternalEndpoint } from '../support/target';

let stack: LocalStack | undefined;
const refusals: string[] = [];

beforeAll(async () => {
  const { assemblyDir } = await synthesize({
    app: 'npx tsx test/integration/fixtures/event-sources-app.ts',
    // Its own directory: synthesize() prunes old assemblies per directory.
    outDir: '.floodgate/event-sources-fixture.out',
    inputs: ['test/integration/fixtures', 'package-lock.json', 'cdk.json'],
  });
  stack = await startLocalStack({
    assembly: assemblyDir,
    emulators: localEndpoints(),
    prefix: `evsrc${randomBytes(3).toString('hex')}`,
    waitTimeSeconds: 1,
    log: () => undefined,
    onRefusal: (r) => refusals.push(`${r.service} ${r.operation ?? '?'} ${r.principal}: ${r.error.code}`),
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop({ destroy: true });
});

async function until<T>(get: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not seen in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every message on the queue, until it has been empty for `quietMs` after at least `min` arrived. */
async function drain(s: LocalStack, queueUrl: string, min: number, quietMs = 1500, ms = 10_000): Promise<Message[]> {
  const got: Message[] = [];
  const end = Date.now() + ms;
  let quietSince = Date.now();
  while (Date.now() < end) {
    const r = await s.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600 }));
    if ((r.Messages ?? []).length > 0) {
      got.push(...r.Messages!);
      quietSince = Date.now();
    } else if (got.length >= min && Date.now() - quietSince >= quietMs) break;
  }
  return got;
}

/** The AWS CLI v1 against the stack's endpoint: a client independent of ours, as a user drives it. */
async function aws(s: LocalStack, ...args: string[]): Promise<any> {
  const { stdout } = await promisify(execFile)('aws', ['--endpoint-url', s.endpoint, '--output', 'json', ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: s.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s.credentials.secretAccessKey, AWS_DEFAULT_REGION: s.region, AWS_PAGER: '', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    timeout: 60_000,
  });
  return stdout.trim() ? JSON.parse(stdout) : undefined;
}

it('aws events put-events on the custom bus reaches the rule\'s queue only for the matching event', { timeout: 60_000 }, async () => {
  const s = stack!;
  const bus = s.outputs.BusName!;
  const entries = [
    { Source: 'shop', DetailType: 'order', Detail: JSON.stringify({ id: 'small', total: 20, status: 'paid' }), EventBusName: bus },
    { Source: 'shop', DetailType: 'order', Detail: JSON.stringify({ id: 'cancelled', total: 500, status: 'cancelled' }), EventBusName: bus },
    { Source: 'other', DetailType: 'order', Detail: JSON.stringify({ id: 'other', total: 999, status: 'paid' }), EventBusName: bus },
    { Source: 'shop', DetailType: 'order', Detail: JSON.stringify({ id: 'big', total: 250, status: 'paid' }), EventBusName: bus },
  ];
  const res = await aws(s, 'events', 'put-events', '--entries', JSON.stringify(entries));
  expect(res.FailedEntryCount).toBe(0);
  expect(res.Entries).toHaveLength(4);
  const got = await drain(s, s.outputs.BigOrdersQueueUrl!, 1);
  expect(got.map((m) => JSON.parse(m.Body!).detail.id), JSON.stringify(s.deliveryFailures())).toEqual(['big']);
  expect(s.stats().events.rules.find((r) => r.name.includes('BigOrdersRule'))).toMatchObject({ matchedEvents: 1, invocations: 1, failedInvocations: 0 });
  expect(JSON.parse(got[0]!.Body!)).toMatchObject({ version: '0', id: res.Entries[3].EventId, 'detail-type': 'order', source: 'shop', region: s.region, detail: { total: 250, status: 'paid' } });
  expect(refusals).toEqual([]);
});

it('an item put in the table reaches the stream-mapped function, whose effect is in the other table', { timeout: 60_000 }, async () => {
  const s = stack!;
  await s.clients.dynamodb.send(new PutItemCommand({ TableName: s.outputs.SourceTable!, Item: { pk: { S: 'order-1' }, total: { N: '250' } } }));
  const effect = await until(async () => (await s.clients.dynamodb.send(new GetItemCommand({ TableName: s.outputs.EffectsTable!, Key: { pk: { S: 'effect#order-1' } }, ConsistentRead: true }))).Item, 30_000, 'the function\'s effect');
  expect(effect).toMatchObject({ eventName: { S: 'INSERT' }, eventSource: { S: 'aws:dynamodb' } });
  expect(effect.seq!.S).toMatch(/^\d+$/);
  expect(refusals).toEqual([]);
});

it('a failing record lands on the mapping\'s on-failure queue with its DDBStreamBatchInfo', { timeout: 60_000 }, async () => {
  const s = stack!;
  await s.clients.dynamodb.send(new PutItemCommand({ TableName: s.outputs.SourceTable!, Item: { pk: { S: 'poison-1' }, poison: { BOOL: true } } }));
  const [failure, ...more] = await drain(s, s.outputs.StreamFailuresQueueUrl!, 1);
  expect(more).toEqual([]);
  const record = JSON.parse(failure!.Body!);
  expect(record).toMatchObject({
    requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 1 },
    responseContext: { functionError: 'Unhandled' },
    DDBStreamBatchInfo: { batchSize: 1, streamArn: s.outputs.StreamArn },
  });
  expect(record.DDBStreamBatchInfo.shardId).toMatch(/^shardId-/);
  expect(record.DDBStreamBatchInfo.startSequenceNumber).toBe(record.DDBStreamBatchInfo.endSequenceNumber);
  // The good record before it took effect; the poison one did not.
  const poisonEffect = await s.clients.dynamodb.send(new GetItemCommand({ TableName: s.outputs.EffectsTable!, Key: { pk: { S: 'effect#poison-1' } }, ConsistentRead: true }));
  expect(poisonEffect.Item).toBeUndefined();
  expect(refusals).toEqual([]);
});
