/**
 * A DynamoDB Streams consumer built with `@floodgate/cdk`'s BoundedStreamConsumer and
 * `@floodgate/runtime`'s createStreamHandler (fixtures/stream-app.ts, fixtures/stream-handler.ts),
 * synthesized and bundled like any app and run on the local stack's stream poller with IAM enforced.
 * Six keys, eight versions each, written interleaved: every record takes effect once, each key's effects
 * happen in version order (no overlap), at most ParallelizationFactor (3) batches run at once, the I/O
 * lane (2) bounds the records in flight in an invocation, and a poison record goes to the on-failure
 * queue with its class and reason while the shard goes on.
 */
import { randomBytes } from 'node:crypto';
import { PutItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalStack, synthesize, type LocalStack } from '@floodgate/local';
import { localEndpoints } from '../support/local-env';

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
const VERSIONS = 8;

let stack: LocalStack | undefined;
const refusals: string[] = [];

beforeAll(async () => {
  const { assemblyDir } = await synthesize({
    app: 'npx tsx test/integration/fixtures/stream-app.ts',
    outDir: '.floodgate/stream-fixture.out',
    inputs: ['test/integration/fixtures', 'packages/cdk/dist', 'packages/runtime/dist', 'package-lock.json', 'cdk.json'],
  });
  stack = await startLocalStack({
    assembly: assemblyDir,
    emulators: localEndpoints(),
    prefix: `stream${randomBytes(3).toString('hex')}`,
    log: () => undefined,
    onRefusal: (r) => refusals.push(`${r.service} ${r.operation ?? '?'} ${r.principal}: ${r.error.code}`),
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop({ destroy: true });
});

type Item = Record<string, AttributeValue>;

it('keeps key order with bounded lanes on the local stream poller; a poison record goes to the on-failure queue', { timeout: 150_000 }, async () => {
  const s = stack!;
  for (let v = 1; v <= VERSIONS; v++) {
    for (const pk of KEYS) {
      const poison = pk === 'k2' && v === 4;
      await s.clients.dynamodb.send(new PutItemCommand({ TableName: s.outputs.SourceTable!, Item: { pk: { S: pk }, v: { N: String(v) }, delayMs: { N: '40' }, ...(poison ? { poison: { BOOL: true } } : {}) } }));
    }
  }
  const expected = KEYS.length * VERSIONS - 1;
  let effects: Item[] = [];
  const end = Date.now() + 120_000;
  while (effects.length < expected) {
    if (Date.now() > end) throw new Error(`only ${effects.length} of ${expected} effects`);
    await new Promise((r) => setTimeout(r, 500));
    effects = (await s.clients.dynamodb.send(new ScanCommand({ TableName: s.outputs.EffectsTable!, ConsistentRead: true }))).Items ?? [];
  }
  expect(effects).toHaveLength(expected); // once each (the conditional put refuses a second effect)
  for (const pk of KEYS) {
    const mine = effects.filter((e) => e.key!.S === pk).sort((a, b) => Number(a.v!.N) - Number(b.v!.N));
    for (let i = 1; i < mine.length; i++) {
      expect(BigInt(mine[i]!.seq!.S!)).toBeGreaterThan(BigInt(mine[i - 1]!.seq!.S!));
      expect(Number(mine[i]!.startedAt!.N)).toBeGreaterThanOrEqual(Number(mine[i - 1]!.endedAt!.N)); // no overlap within a key
    }
  }
  expect(Math.max(...effects.map((e) => Number(e.active!.N)))).toBeLessThanOrEqual(2); // the I/O lane

  const failed = await s.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: s.outputs.OnFailureQueueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: 5, MessageAttributeNames: ['All'] }));
  expect(failed.Messages).toHaveLength(1);
  expect(JSON.stringify(failed.Messages![0])).toContain('Poison');

  const poller = [...s.streamPollers.values()][0]!.stats();
  expect(poller.maxConcurrentExecutions).toBeLessThanOrEqual(3); // ParallelizationFactor 3 on one shard = reserved concurrency
  expect(new Set(poller.invocationLog.map((r) => r.lane)).size).toBeGreaterThan(1); // the keys spread over lanes
  expect(poller.recordsDiscarded).toBe(0);
  expect(refusals).toEqual([]);
});
