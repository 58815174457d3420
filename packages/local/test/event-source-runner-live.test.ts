/**
 * The runner against fauxqs with live changes, FilterCriteria and the scaling modes. In-flight counts are
 * observed OUTSIDE the runner: the function host is wrapped, and every invoke start and end is recorded
 * with the number running at that moment.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventSourceRunner, type EventSourceRunner, type EventSourceRunnerOptions } from '../src/services/lambda/event-source-runner';
import { createFunctionHost, type FunctionHost } from '../src/lambda-host/index';
import { localClients, localEndpoints } from '../../../test/support/local-env';

const assetDir = fileURLToPath(new URL('./fixtures/handlers', import.meta.url));
const endpoints = localEndpoints();
const { sqs } = localClients(endpoints);
const cleanup: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of cleanup.splice(0).reverse()) await x.stop();
});

interface Observed {
  running: number;
  /** One entry per invoke start: when, how many were running before it, and the batch's bodies. */
  starts: Array<{ at: number; runningBefore: number; ids: string[] }>;
  max: number;
}

/** A host that counts what runs, independently of the runner's own counters. */
function observedHost(inner: FunctionHost): { host: FunctionHost; seen: Observed } {
  const seen: Observed = { running: 0, starts: [], max: 0 };
  return {
    seen,
    host: {
      ...inner,
      async invoke(event: unknown) {
        const ids = ((event as { Records: Array<{ body: string }> }).Records ?? []).map((r) => (JSON.parse(r.body) as { id: string }).id);
        seen.starts.push({ at: Date.now(), runningBefore: seen.running, ids });
        seen.running++;
        seen.max = Math.max(seen.max, seen.running);
        try {
          return await inner.invoke(event);
        } finally {
          seen.running--;
        }
      },
    },
  };
}

async function setup(maxEnvironments: number) {
  const id = randomBytes(4).toString('hex');
  const q = await sqs.send(new CreateQueueCommand({ QueueName: `live-${id}`, Attributes: { VisibilityTimeout: '30' } }));
  const queueUrl = q.QueueUrl!;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const inner = createFunctionHost({ functionName: `live-fn-${id}`, assetDir, handler: 'tiny.handler', timeoutSeconds: 30, memoryMb: 128, maxEnvironments, endpoints });
  cleanup.push(inner);
  const { host, seen } = observedHost(inner);
  const send = async (bodies: object[]) => {
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: JSON.stringify(b) })) }));
    }
  };
  const depth = async () => {
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return { visible: Number(a.Attributes!.ApproximateNumberOfMessages), notVisible: Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible) };
  };
  const runner = (o: Partial<EventSourceRunnerOptions> = {}): EventSourceRunner => {
    const r = createEventSourceRunner({ name: `live-${id}`, queueUrl, queueArn, host, endpoints, batchSize: 1, reportBatchItemFailures: true, waitTimeSeconds: 1, ...o });
    cleanup.push(r);
    return r;
  };
  return { seen, send, depth, runner };
}

async function until(pred: () => boolean | Promise<boolean>, ms = 60_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not met in ${ms} ms`);
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live control of a running poller', () => {
  it('lowering MaximumConcurrency: no invocation starts until in flight is under the new cap', async () => {
    const s = await setup(6);
    await s.send(Array.from({ length: 30 }, (_, i) => ({ id: `m${i}`, ms: 1200 })));
    const r = s.runner({ maximumConcurrency: 6 });
    r.start();
    await until(() => s.seen.running === 6, 60_000, '6 in flight');
    const changedAt = Date.now();
    r.update({ maximumConcurrency: 2 });
    expect(r.concurrencyCap).toBe(2);
    await until(() => s.seen.starts.filter((x) => x.at > changedAt).length >= 6, 90_000, '6 starts after the change');
    const after = s.seen.starts.filter((x) => x.at > changedAt);
    // Every start after the change found fewer than 2 running: it waited for the 6 to drain below 2.
    expect(after.every((x) => x.runningBefore < 2)).toBe(true);
    expect(Math.max(...after.map((x) => x.runningBefore + 1))).toBe(2);
    expect(r.stats().settings.maximumConcurrency).toBe(2);
  });

  it('disabled: nothing more is received and new messages stay in the queue; re-enabled with cap 2 drains them, never above 2', async () => {
    const s = await setup(4);
    await s.send(Array.from({ length: 4 }, (_, i) => ({ id: `a${i}`, ms: 300 })));
    const r = s.runner({ maximumConcurrency: 4 });
    r.start();
    await until(() => r.stats().messagesDeleted === 4, 60_000, 'first 4 done');
    r.update({ enabled: false });
    expect(r.concurrencyCap).toBe(0);
    expect(['Disabling', 'Disabled']).toContain(r.state()); // Disabling while its waiting polls are out
    await until(() => r.state() === 'Disabled', 10_000, 'Disabled');
    const startsBefore = s.seen.starts.length;
    await s.send(Array.from({ length: 8 }, (_, i) => ({ id: `b${i}`, ms: 500 })));
    await pause(3000); // several long polls' worth
    expect(s.seen.starts.length).toBe(startsBefore);
    expect(await s.depth()).toEqual({ visible: 8, notVisible: 0 });
    const reenabledAt = Date.now();
    r.update({ enabled: true, maximumConcurrency: 2 });
    await until(() => r.stats().messagesDeleted === 12, 60_000, 'all 12 done');
    const after = s.seen.starts.filter((x) => x.at >= reenabledAt);
    expect(after.length).toBe(8);
    expect(Math.max(...after.map((x) => x.runningBefore + 1))).toBeLessThanOrEqual(2);
    expect(r.stats().maxConcurrentExecutions).toBe(4); // before the change
  });

  it('reserved concurrency 0 throttles the mapping; BatchSize and the window change live', async () => {
    const s = await setup(2);
    const r = s.runner({ maximumConcurrency: 2, reservedConcurrency: 0, batchSize: 1 });
    r.start();
    await s.send(Array.from({ length: 10 }, (_, i) => ({ id: `c${i}` })));
    await pause(2500);
    expect(s.seen.starts.length).toBe(0);
    expect((await s.depth()).visible).toBe(10);
    r.update({ reservedConcurrency: null, batchSize: 5, maximumBatchingWindowSeconds: 1 });
    await until(() => r.stats().messagesDeleted === 10, 60_000, 'all 10 done');
    // With BatchSize 5 and a 1 s window, some invocation got more than one record.
    expect(Math.max(...s.seen.starts.map((x) => x.ids.length))).toBeGreaterThan(1);
    expect(() => r.update({ batchSize: 0 })).toThrow(/BatchSize must be 1\.\.10000/);
    expect(() => r.update({ provisionedPollerConfig: { minimumPollers: 2 } })).toThrow(/mutually exclusive/);
    expect(r.settings().batchSize).toBe(5); // a rejected change changes nothing
  });
});

describe('FilterCriteria on the running poller', () => {
  it('deletes what no filter matches without an invocation, delivers the rest', async () => {
    const s = await setup(2);
    const filterCriteria = { Filters: [{ Pattern: JSON.stringify({ body: { kind: ['thumb'], size: [{ numeric: ['<', 100] }] } }) }, { Pattern: JSON.stringify({ body: { kind: [{ prefix: 'urgent-' }] } }) }] };
    const bodies = [
      { id: 'k1', kind: 'thumb', size: 10 },
      { id: 'd1', kind: 'thumb', size: 500 },
      { id: 'k2', kind: 'urgent-resize' },
      { id: 'd2', kind: 'full' },
      { id: 'd3' },
      { id: 'k3', kind: 'thumb', size: 99 },
    ];
    await s.send(bodies);
    const r = s.runner({ maximumConcurrency: 2, batchSize: 10, maximumBatchingWindowSeconds: 1, filterCriteria });
    r.start();
    await until(async () => { const d = await s.depth(); return d.visible + d.notVisible === 0; }, 60_000, 'queue empty');
    await until(() => r.stats().messagesDeleted === 3, 20_000, 'matching deleted');
    const delivered = s.seen.starts.flatMap((x) => x.ids).sort();
    expect(delivered).toEqual(['k1', 'k2', 'k3']);
    expect(r.stats().messagesFilteredOut).toBe(3);
  });
});

describe('scaling modes on the running poller', () => {
  it('no caps: starts at 5 concurrent invokes and grows at 300 a minute (injected clock) up to the local ceiling', async () => {
    const s = await setup(8);
    let fake = 0;
    await s.send(Array.from({ length: 40 }, (_, i) => ({ id: `s${i}`, ms: 700 })));
    const r = s.runner({ localCeiling: 8, now: () => fake, scalingIntervalMs: 100 });
    expect(r.stats().scalingMode).toBe('standard');
    expect(r.concurrencyCap).toBe(5);
    r.start();
    await until(() => s.seen.starts.length >= 10, 60_000, '10 starts');
    expect(s.seen.max).toBe(5);
    // A minute of saturation: +300, capped at the local ceiling. The clock moves in steps, because a
    // scaling period that happened not to be saturated (a gap between invocations on a loaded machine)
    // rightly consumes its time without growth.
    for (let i = 0; i < 60 && r.concurrencyCap < 8; i++) {
      fake += 2_000;
      await pause(200);
    }
    await until(() => r.concurrencyCap === 8, 10_000, 'limit 8');
    await until(() => s.seen.max === 8, 60_000, '8 in flight');
    await until(() => r.stats().messagesDeleted === 40, 90_000, 'all done');
    expect(s.seen.max).toBe(8);
  });

  it('provisioned mode: the minimum pollers are warm at once (10 invokes each), bounded by the ceiling', async () => {
    const s = await setup(12);
    await s.send(Array.from({ length: 30 }, (_, i) => ({ id: `p${i}`, ms: 1500 })));
    const r = s.runner({ provisionedPollerConfig: { minimumPollers: 2, maximumPollers: 4 }, localCeiling: 12, now: () => 0 });
    expect(r.stats().scalingMode).toBe('provisioned');
    expect(r.stats().pollers).toBe(2);
    expect(r.concurrencyCap).toBe(12); // 2 pollers x 10 = 20, local ceiling 12
    r.start();
    await until(() => s.seen.max === 12, 90_000, '12 in flight');
    await until(() => r.stats().messagesDeleted === 30, 90_000, 'all done');
    expect(s.seen.max).toBe(12);
  });
});
