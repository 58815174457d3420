/** The retry backoff decision and its batch plan, pure (no I/O): examples and fast-check properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideBackoff,
  DEFAULT_HELD_SECONDS,
  MAX_VISIBILITY_TIMEOUT_SECONDS,
  planBatchBackoff,
  retentionShareSeconds,
  validateRetryBackoff,
  type BackoffQueue,
  type BackoffRecord,
  type RetryBackoff,
} from '../src/retry-backoff';
import { runBatch } from '../src/batch';
import { createLanes } from '../src/lanes';
import { planDeadline } from '../src/deadline';
import { PermanentError, RetryableError } from '../src/errors';
import { readRuntimeConfig } from '../src/config';
import { CONSUMER_ENV } from '../src/env';

const delayOf = (b: RetryBackoff, q: BackoffQueue, receiveCount: number, random: number, sentAtMs?: number, nowMs = 0) => {
  const d = decideBackoff(b, q, { receiveCount, random, nowMs, sentAtMs });
  if (d.action !== 'delay') throw new Error(`expected a delay, got ${JSON.stringify(d)}`);
  return d;
};

const backoffArb = fc
  .record({ baseSeconds: fc.integer({ min: 1, max: 600 }), extra: fc.integer({ min: 0, max: MAX_VISIBILITY_TIMEOUT_SECONDS }) })
  .map(({ baseSeconds, extra }) => ({ baseSeconds, maxSeconds: Math.min(MAX_VISIBILITY_TIMEOUT_SECONDS, baseSeconds + extra) }));
const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('decideBackoff', () => {
  it('full jitter: the ceiling is base x 2^(receiveCount - 1), the delay spans [0, ceiling]', () => {
    const b = { baseSeconds: 5, maxSeconds: 3_600 };
    expect([1, 2, 3, 4].map((n) => delayOf(b, {}, n, 0.999_999).ceilingSeconds)).toEqual([5, 10, 20, 40]);
    expect(delayOf(b, {}, 3, 0).visibilityTimeoutSeconds).toBe(0);
    expect(delayOf(b, {}, 3, 0.999_999).visibilityTimeoutSeconds).toBe(20);
    expect(delayOf(b, {}, 3, 0.5).visibilityTimeoutSeconds).toBe(10);
    expect(delayOf(b, {}, 1, 0.5).cappedBy).toBeUndefined();
  });

  it('caps at maxSeconds, then at 12 h minus the visibility timeout', () => {
    expect(delayOf({ baseSeconds: 5, maxSeconds: 30 }, {}, 10, 0.999_999)).toMatchObject({ ceilingSeconds: 30, cappedBy: 'max' });
    expect(delayOf({ baseSeconds: 5, maxSeconds: 43_200 }, { visibilityTimeoutSeconds: 180 }, 40, 0.999_999)).toMatchObject({ ceilingSeconds: 43_020, cappedBy: 'visibility-limit' });
    // Visibility timeout unknown: a receive may have held the message a Lambda timeout plus a batching window.
    expect(delayOf({ baseSeconds: 5, maxSeconds: 43_200 }, {}, 40, 0.999_999).ceilingSeconds).toBe(43_200 - DEFAULT_HELD_SECONDS);
  });

  it('no delay on the last receive (the runtime dead-letters it)', () => {
    expect(decideBackoff({ baseSeconds: 5, maxSeconds: 60 }, { maxReceiveCount: 5 }, { receiveCount: 5, nowMs: 0, random: 0.5 })).toEqual({ action: 'none', reason: 'last-receive' });
  });

  it('retention: the delay leaves each receive still to come its visibility timeout, and shares the rest', () => {
    const q = { maxReceiveCount: 5, retentionSeconds: 4 * 86_400, visibilityTimeoutSeconds: 180 };
    // Sent 4 days minus 1 hour ago, failed its 2nd receive: 3 receives left, 3600 - 2 x 180 = 3240 s to share.
    const sentAtMs = -(4 * 86_400 - 3_600) * 1000;
    expect(retentionShareSeconds(q, 2, sentAtMs, 0)).toBe(1_080);
    expect(delayOf({ baseSeconds: 1_000, maxSeconds: 43_000 }, q, 2, 0.999_999, sentAtMs)).toMatchObject({ ceilingSeconds: 1_080, cappedBy: 'retention' });
    // Past what retention can still give: no delay at all (visible at once), never a negative one.
    expect(retentionShareSeconds(q, 2, -4 * 86_400 * 1000, 0)).toBe(0);
    expect(delayOf({ baseSeconds: 10, maxSeconds: 60 }, q, 2, 0.7, -4 * 86_400 * 1000).visibilityTimeoutSeconds).toBe(0);
    // Unknown send time or retention: no retention cap.
    expect(retentionShareSeconds(q, 2, undefined, 0)).toBeUndefined();
    expect(retentionShareSeconds({ maxReceiveCount: 5 }, 2, 0, 0)).toBeUndefined();
  });

  it('property: an integer in [0, ceiling], ceiling <= min(base x 2^(n-1), max, 12 h - visibility)', () => {
    fc.assert(
      fc.property(backoffArb, fc.integer({ min: 1, max: 200 }), randomArb, fc.integer({ min: 0, max: 43_200 }), (b, n, random, vis) => {
        const d = delayOf(b, { visibilityTimeoutSeconds: vis }, n, random);
        expect(Number.isInteger(d.visibilityTimeoutSeconds) && Number.isInteger(d.ceilingSeconds)).toBe(true);
        expect(d.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(0);
        expect(d.visibilityTimeoutSeconds).toBeLessThanOrEqual(d.ceilingSeconds);
        expect(d.ceilingSeconds).toBeLessThanOrEqual(Math.min(b.baseSeconds * 2 ** (n - 1), b.maxSeconds));
        expect(d.visibilityTimeoutSeconds + vis).toBeLessThanOrEqual(MAX_VISIBILITY_TIMEOUT_SECONDS);
      }),
    );
  });

  it('property: the delay grows with the draw (full jitter is a uniform pick, not a fixed delay)', () => {
    fc.assert(
      fc.property(backoffArb, fc.integer({ min: 1, max: 30 }), randomArb, randomArb, (b, n, r1, r2) => {
        const [lo, hi] = r1 <= r2 ? [r1, r2] : [r2, r1];
        expect(delayOf(b, {}, n, lo).visibilityTimeoutSeconds).toBeLessThanOrEqual(delayOf(b, {}, n, hi).visibilityTimeoutSeconds);
      }),
    );
  });

  it('property: a message that fails every receive still reaches its last receive within retention', () => {
    // A message waits w before its first receive; each receive holds it p <= visibility before failing;
    // each failure delays it by the decision (draws near 1 included: the worst case). Whenever the
    // schedule without any delay fits (w + (M - 1) x V <= retention), the last receive starts in time.
    fc.assert(
      fc.property(
        // Long delays and whole-timeout holds are the dangerous cases: the arbitraries lean on them.
        fc.oneof(backoffArb, fc.integer({ min: 1, max: 43_200 }).map((max) => ({ baseSeconds: max, maxSeconds: max }))),
        fc.integer({ min: 2, max: 20 }),
        fc.integer({ min: 0, max: 43_200 }),
        fc.integer({ min: 60, max: 1_209_600 }),
        fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1)),
        fc.array(
          fc.record({ held: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(1)), random: fc.oneof(randomArb, fc.constant(1 - 1e-12)) }),
          { minLength: 20, maxLength: 20 },
        ),
        (b, maxReceiveCount, vis, retention, waitShare, steps) => {
          const slack = retention - (maxReceiveCount - 1) * vis;
          fc.pre(slack >= 0);
          const q = { maxReceiveCount, retentionSeconds: retention, visibilityTimeoutSeconds: vis };
          let t = waitShare * slack * 1000; // ms since SentTimestamp (= 0)
          for (let n = 1; n < maxReceiveCount; n++) {
            const step = steps[n - 1]!;
            t += step.held * vis * 1000; // the failed receive held it
            const d = decideBackoff(b, q, { receiveCount: n, sentAtMs: 0, nowMs: t, random: step.random });
            if (d.action !== 'delay') throw new Error('only the last receive has no delay');
            t += d.visibilityTimeoutSeconds * 1000;
          }
          expect(t).toBeLessThanOrEqual(retention * 1000);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('property: with bounds the construct accepts, a fresh message is never cut short by the retention cap', () => {
    // BoundedQueueConsumer refuses (M - 1) x (V + max) > retention; then the first receive's share is >= max.
    fc.assert(
      fc.property(backoffArb, fc.integer({ min: 2, max: 20 }), fc.integer({ min: 0, max: 43_200 }), fc.integer({ min: 60, max: 1_209_600 }), (b, m, vis, retention) => {
        fc.pre((m - 1) * (vis + b.maxSeconds) <= retention && vis + b.maxSeconds <= MAX_VISIBILITY_TIMEOUT_SECONDS);
        const share = retentionShareSeconds({ maxReceiveCount: m, retentionSeconds: retention, visibilityTimeoutSeconds: vis }, 1, 0, vis * 1000)!;
        expect(share).toBeGreaterThanOrEqual(b.maxSeconds);
      }),
    );
  });
});

describe('validateRetryBackoff', () => {
  it('refuses what SQS could not honour, saying what to change', () => {
    expect(() => validateRetryBackoff({ baseSeconds: 0, maxSeconds: 10 })).toThrow(/baseSeconds must be an integer >= 1, got 0/);
    expect(() => validateRetryBackoff({ baseSeconds: 1.5, maxSeconds: 10 })).toThrow(/baseSeconds/);
    expect(() => validateRetryBackoff({ baseSeconds: 10, maxSeconds: 5 })).toThrow(/maxSeconds must be an integer from baseSeconds \(10\) to 43200/);
    expect(() => validateRetryBackoff({ baseSeconds: 10, maxSeconds: 43_201 })).toThrow(/12-hour/);
    expect(() => validateRetryBackoff({ baseSeconds: 10, maxSeconds: 43_200 })).not.toThrow();
  });
});

describe('planBatchBackoff', () => {
  const b = { baseSeconds: 10, maxSeconds: 100 };
  const rec = (id: string, receiveCount = 1, group?: string): BackoffRecord => ({ id, receiptHandle: `rh-${id}`, receiveCount, ...(group ? { group } : {}) });
  const half = () => 0.5;

  it('delays retryable failures only: not successes, dead-lettered, held permanent or never-started records, nor a last receive', () => {
    const records = [rec('ok'), rec('busy', 2), rec('dead'), rec('held'), rec('late'), rec('last', 5)];
    const entries = planBatchBackoff(b, { maxReceiveCount: 5 }, records, [
      { id: 'ok', status: 'done', durationMs: 1 },
      { id: 'busy', status: 'retryable', failure: { kind: 'retryable', class: 'Throttled', reason: '' }, durationMs: 1 },
      { id: 'dead', status: 'permanent', failure: { kind: 'permanent', class: 'Poison', reason: '' }, durationMs: 1 },
      { id: 'held', status: 'retryable', failure: { kind: 'permanent', class: 'Poison', reason: '' }, durationMs: 1 },
      { id: 'late', status: 'not-started', failure: { kind: 'retryable', class: 'Timeout', reason: 'soft deadline' }, durationMs: 0 },
      { id: 'last', status: 'retryable', failure: { kind: 'retryable', class: 'Throttled', reason: '' }, durationMs: 1 },
    ], { nowMs: 0, random: half, fifo: false });
    expect(entries.map((e) => [e.id, e.receiptHandle, e.visibilityTimeoutSeconds])).toEqual([['busy', 'rh-busy', 10]]);
  });

  it('FIFO: the records skipped behind a failure get its delay, so the group comes back together', () => {
    const records = [rec('a1', 1, 'A'), rec('b1', 1, 'B'), rec('a2', 1, 'A'), rec('a3', 1, 'A')];
    let draw = 0;
    const entries = planBatchBackoff(b, {}, records, [
      { id: 'a1', status: 'retryable', failure: { kind: 'retryable', class: 'Throttled', reason: '' }, durationMs: 1 },
      { id: 'b1', status: 'done', durationMs: 1 },
      { id: 'a2', status: 'not-started', failure: { kind: 'retryable', class: 'GroupBlocked', reason: '' }, durationMs: 0 },
      { id: 'a3', status: 'not-started', failure: { kind: 'retryable', class: 'GroupBlocked', reason: '' }, durationMs: 0 },
    ], { nowMs: 0, random: () => [0.35, 0.9][draw++]!, fifo: true });
    expect(entries.map((e) => [e.id, e.visibilityTimeoutSeconds, e.follows])).toEqual([['a1', 3, undefined], ['a2', 3, 'a1'], ['a3', 3, 'a1']]);
  });

  it('property (FIFO, through runBatch): only failures are delayed, a group shares one delay, every eligible failure and its skipped records get it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ group: fc.integer({ min: 0, max: 3 }), result: fc.constantFrom('ok', 'retry', 'poison'), receive: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 10 }),
        fc.constantFrom<'continue' | 'block-group'>('continue', 'block-group'),
        randomArb,
        async (spec, onPermanentFailure, random) => {
          const records = spec.map((s, i) => ({ ...rec(`m${i}`, s.receive, `g${s.group}`), result: s.result }));
          const report = await runBatch({
            records,
            idOf: (r) => r.id,
            lanes: createLanes(4, 2),
            plan: planDeadline(Date.now(), 60_000, 1_000, 500),
            fifo: { groupOf: (r) => r.group!, onPermanentFailure },
            isLastReceive: (r) => r.receiveCount >= 5,
            onPermanent: async () => undefined,
            process: async (r) => {
              if (r.result === 'retry') throw new RetryableError('Throttled', 'slow down');
              if (r.result === 'poison') throw new PermanentError('Poison', 'never');
            },
          });
          const entries = planBatchBackoff(b, { maxReceiveCount: 5 }, records, report.outcomes, { nowMs: 0, random: () => random, fifo: true });
          const failures = new Set(report.batchItemFailures.map((f) => f.itemIdentifier));
          const byId = new Map(entries.map((e) => [e.id, e]));
          // Nothing that SQS deletes (done, dead-lettered) is touched.
          for (const e of entries) expect(failures.has(e.id)).toBe(true);
          // One delay per group.
          const perGroup = new Map<string, Set<number>>();
          for (const e of entries) {
            const g = records.find((r) => r.id === e.id)!.group!;
            perGroup.set(g, (perGroup.get(g) ?? new Set()).add(e.visibilityTimeoutSeconds));
          }
          for (const delays of perGroup.values()) expect(delays.size).toBe(1);
          report.outcomes.forEach((o, i) => {
            const r = records[i]!;
            const eligible = o.status === 'retryable' && o.failure?.kind === 'retryable' && r.receiveCount < 5;
            if (eligible) expect(byId.has(r.id)).toBe(true);
            if (o.status === 'retryable' && o.failure?.kind === 'permanent') expect(byId.has(r.id)).toBe(false);
            if (o.failure?.class === 'GroupBlocked') {
              const head = report.outcomes.find((h, j) => records[j]!.group === r.group && h.status === 'retryable');
              expect(byId.has(r.id)).toBe(head !== undefined && byId.has(head.id));
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('the construct\'s environment', () => {
  it('reads the bounds, queue URL, retention and visibility; half a backoff or a bad bound fails the cold start', () => {
    const env = {
      [CONSUMER_ENV.retryBackoffBaseSeconds]: '5',
      [CONSUMER_ENV.retryBackoffMaxSeconds]: '900',
      [CONSUMER_ENV.queueUrl]: 'http://127.0.0.1:4566/000000000000/orders',
      [CONSUMER_ENV.queueRetentionSeconds]: '345600',
      [CONSUMER_ENV.visibilityTimeoutSeconds]: '180',
    };
    expect(readRuntimeConfig(env)).toMatchObject({ retryBackoff: { baseSeconds: 5, maxSeconds: 900 }, queueUrl: env[CONSUMER_ENV.queueUrl], queueRetentionSeconds: 345_600, visibilityTimeoutSeconds: 180 });
    expect(readRuntimeConfig({}).retryBackoff).toBeUndefined();
    expect(() => readRuntimeConfig({ [CONSUMER_ENV.retryBackoffBaseSeconds]: '5' })).toThrow(/must be set together/);
    expect(() => readRuntimeConfig({ ...env, [CONSUMER_ENV.retryBackoffMaxSeconds]: '2' })).toThrow(/maxSeconds must be an integer from baseSeconds \(5\)/);
    expect(() => readRuntimeConfig({ ...env, [CONSUMER_ENV.queueRetentionSeconds]: 'soon' })).toThrow(/FLOODGATE_QUEUE_RETENTION_SECONDS must be an integer/);
  });
});
