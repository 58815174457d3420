/**
 * Per-message retry backoff end to end (issue 22): a user's stack with `@floodgate/cdk`'s
 * BoundedQueueConsumer (`retryBackoff: { base: 3 s, max: 6 s }`, visibility timeout 60 s) and a handler on
 * `@floodgate/runtime` (fixtures/backoff-app.ts, fixtures/backoff-handler.ts), synthesized and bundled
 * like any app and deployed on the local stack with IAM enforced: the function's ChangeMessageVisibilityBatch
 * is signed with its role and authorized against the role's policy. Six messages each fail their first two
 * receives. Each retry must come back no earlier than the delay the runtime set, and soon after it, long
 * before the queue's 60 s visibility timeout.
 */
import { randomBytes } from 'node:crypto';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalStack, synthesize, type LocalStack } from '@floodgate/local';
import { localEndpoints } from '../support/local-env';

const MESSAGES = 6;
const FAILURES = 2;
const VISIBILITY_MS = 60_000;
/** How late after its delay a retry may arrive: the poller's receive wait (1 s), a cold start of a second execution environment on a loaded 2-core machine (a run saw 5.2 s). */
const SLACK_MS = 8_000;

let stack: LocalStack | undefined;
const refusals: string[] = [];

beforeAll(async () => {
  const { assemblyDir } = await synthesize({
    app: 'npx tsx test/integration/fixtures/backoff-app.ts',
    outDir: '.floodgate/backoff-fixture.out',
    inputs: ['test/integration/fixtures', 'packages/cdk/dist', 'packages/runtime/dist', 'package-lock.json', 'cdk.json'],
  });
  stack = await startLocalStack({
    assembly: assemblyDir,
    emulators: localEndpoints(),
    prefix: `backoff${randomBytes(3).toString('hex')}`,
    waitTimeSeconds: 1,
    log: () => undefined,
    onRefusal: (r) => refusals.push(`${r.service} ${r.operation ?? '?'} ${r.principal}: ${r.error.code}`),
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop({ destroy: true });
});

type Item = Record<string, AttributeValue>;

async function scanAll(s: LocalStack, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let ExclusiveStartKey: Item | undefined;
  do {
    const r = await s.clients.dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }));
    items.push(...(r.Items ?? []));
    ExclusiveStartKey = r.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

it('each retry comes back after the delay the runtime set (not before), long before the visibility timeout', { timeout: 120_000 }, async () => {
  const s = stack!;
  const table = s.outputs.EffectsTable!;
  const ids = Array.from({ length: MESSAGES }, (_, i) => `m${i}`);
  const sent = await s.clients.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: s.outputs.QueueUrl!,
      Entries: [...ids.map((id, i) => ({ Id: String(i), MessageBody: JSON.stringify({ id, failures: FAILURES }) })), { Id: 'probe', MessageBody: JSON.stringify({ id: 'probe', failures: 0, probe: true }) }],
    }),
  );
  expect(sent.Failed ?? []).toEqual([]);

  const key = (it: Item) => it.pk!.S!;
  let items: Item[] = [];
  const end = Date.now() + 90_000;
  for (;;) {
    items = await scanAll(s, table);
    const last = new Set(items.map(key).filter((k) => k.startsWith('receive#') && k.endsWith(`#${FAILURES + 1}`)));
    if (last.size === MESSAGES && items.some((it) => key(it) === 'probe#probe')) break;
    if (Date.now() > end) throw new Error(`not settled: ${items.map(key).sort().join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const byKey = new Map(items.map((it) => [key(it), it]));
  const num = (k: string, attr: string) => {
    const v = byKey.get(k)?.[attr]?.N;
    if (v === undefined) throw new Error(`${k}.${attr} missing; have ${[...byKey.keys()].sort().join(', ')}`);
    return Number(v);
  };

  const delays: number[] = [];
  for (const id of ids) {
    for (let n = 1; n <= FAILURES; n++) {
      const d = byKey.get(`delay#${id}#${n}`)!;
      expect(d, `delay#${id}#${n}`).toBeDefined();
      expect(d.changed?.BOOL, `delay#${id}#${n} set on the queue (${d.failure?.S ?? ''})`).toBe(true);
      expect(Number(d.ceiling!.N)).toBe(Math.min(6, 3 * 2 ** (n - 1))); // base x 2^(n-1), at most max
      const delayMs = Number(d.visibility!.N) * 1000;
      delays.push(delayMs);
      const failedAt = num(`receive#${id}#${n}`, 'at');
      const retriedAt = num(`receive#${id}#${n + 1}`, 'at');
      // Not before its backoff (the delay starts after this receive began) ...
      expect(retriedAt - failedAt, `${id} receive ${n + 1}`).toBeGreaterThanOrEqual(delayMs);
      // ... and when it ends, not at the queue's visibility timeout.
      expect(retriedAt - num(`delay#${id}#${n}`, 'returnedAt'), `${id} receive ${n + 1}`).toBeLessThanOrEqual(delayMs + SLACK_MS);
      expect(retriedAt - failedAt).toBeLessThan(VISIBILITY_MS);
    }
  }
  // Full jitter: the delays are spread, not all zero (12 draws in [0, 3] and [0, 6] s).
  expect(Math.max(...delays)).toBeGreaterThan(0);
  // IAM is evaluated for ChangeMessageVisibilityBatch signed as the function's role: allowed on its source
  // queue (every delay above was set), refused on the DLQ, where the role may only send.
  expect(byKey.get('probe#probe')?.code?.S).toBe('AccessDenied');
  expect(refusals.every((r) => /^sqs (AmazonSQS\.)?ChangeMessageVisibilityBatch .*AccessDenied$/.test(r)), refusals.join('\n')).toBe(true);
  expect(refusals.length).toBeGreaterThanOrEqual(1);
  console.log(`backoff: delays set (s) ${delays.map((d) => d / 1000).join(' ')}`);
});
