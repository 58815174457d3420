/** The stream planner and checkpoint decision, pure (no I/O), and runBatch driving the planner. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkpointResponse, createStreamPlanner } from '../src/stream-planner';
import { runBatch } from '../src/batch';
import { createLanes } from '../src/lanes';
import { planDeadline } from '../src/deadline';
import { RetryableError } from '../src/errors';
import { compareSequenceNumbers, partitionKeyOf, sequenceNumberOf } from '../src/stream-records';
import { ddbRecord, kinesisRecord } from './support/stream-events';

describe('stream planner', () => {
  it('runs each key in order, one at a time, keys side by side', () => {
    const p = createStreamPlanner(['A', 'A', 'B', 'A']);
    expect([p.take(), p.take(), p.take()]).toEqual([0, 2, undefined]);
    p.settle(0, 'continue');
    expect(p.take()).toBe(1);
    p.settle(2, 'continue');
    p.settle(1, 'continue');
    expect(p.take()).toBe(3);
    p.settle(3, 'continue');
    expect(p.drained).toBe(true);
    expect(p.checkpoint).toBe(4);
  });

  it('after a failure, records after it are held back (other keys too) and records before it still run', () => {
    // 0:A 1:B 2:C 3:B 4:D. A(0) and B(1) start; B fails: C(2) is before the checkpoint? no: 2 > 1, held back.
    const p = createStreamPlanner(['A', 'B', 'C', 'B', 'D', 'A']);
    expect([p.take(), p.take()]).toEqual([0, 1]);
    p.settle(1, 'block');
    expect(p.checkpoint).toBe(1);
    expect(p.take()).toBeUndefined(); // C(2), D(4) held back; B(3) skipped with its key
    expect(p.skipped(2)).toMatchObject({ kind: 'retryable', class: 'AfterCheckpoint' });
    expect(p.skipped(4)).toMatchObject({ class: 'AfterCheckpoint' });
    expect(p.skipped(3)).toMatchObject({ class: 'GroupBlocked' });
    expect(p.skipped(3)!.reason).toMatch(/partition key "B"/);
    p.settle(0, 'continue');
    expect(p.take()).toBeUndefined(); // A(5) is after the checkpoint
    expect(p.drained).toBe(true);
  });

  it('a later failure below the checkpoint lowers it', () => {
    const p = createStreamPlanner(['A', 'B', 'C']);
    expect([p.take(), p.take(), p.take()]).toEqual([0, 1, 2]);
    p.settle(2, 'block');
    p.settle(0, 'block');
    p.settle(1, 'continue');
    expect(p.checkpoint).toBe(0);
  });

  it('for any keys, verdicts and settle order: key order, one per key, nothing started after the checkpoint known at that time, everything before the final checkpoint started', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 80, maxLength: 80 }),
        fc.integer({ min: 1, max: 6 }),
        (groups, fails, picks, width) => {
          const keys = groups.map((g) => `k${g}`);
          const p = createStreamPlanner(keys);
          const running: number[] = [];
          const handed: number[] = [];
          let step = 0;
          for (;;) {
            // Take up to `width` records at once (the record concurrency), then settle one.
            while (running.length < width) {
              const i = p.take();
              if (i === undefined) break;
              expect(i).toBeLessThan(p.checkpoint);
              expect(running.some((r) => keys[r] === keys[i])).toBe(false);
              running.push(i);
              handed.push(i);
            }
            if (running.length === 0) break;
            const [done] = running.splice((picks[step++ % picks.length] ?? 0) % running.length, 1);
            p.settle(done!, fails[done!] ? 'block' : 'continue');
          }
          expect(p.drained).toBe(true);
          const firstFail = handed.filter((i) => fails[i]).sort((a, b) => a - b)[0] ?? keys.length;
          expect(p.checkpoint).toBe(firstFail);
          for (let i = 0; i < keys.length; i++) {
            // Everything before the checkpoint ran; everything after either ran before the failure was known, or was skipped.
            if (i < p.checkpoint) expect(handed).toContain(i);
            expect(handed.includes(i) !== (p.skipped(i) !== undefined)).toBe(true);
          }
          for (const key of new Set(keys)) {
            const mine = handed.filter((i) => keys[i] === key);
            expect(mine).toEqual([...mine].sort((a, b) => a - b));
            // Nothing of a key after its first failure.
            const f = mine.findIndex((i) => fails[i]);
            if (f !== -1) expect(mine.length).toBe(f + 1);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('checkpointResponse: the lowest failed sequence number, or nothing', () => {
    expect(checkpointResponse(['1', '2', '3'], ['done', 'done', 'done'])).toEqual({ batchItemFailures: [] });
    expect(checkpointResponse(['1', '2', '3'], ['done', 'failed', 'failed'])).toEqual({ batchItemFailures: [{ itemIdentifier: '2' }] });
  });
});

describe('stream records', () => {
  it('DynamoDB: the partition key is the item key, whatever the attribute order', () => {
    const a = ddbRecord('order#1', 1);
    const b = { ...ddbRecord('order#1', 2), dynamodb: { ...ddbRecord('order#1', 2).dynamodb, Keys: { sk: { N: '1' }, pk: { S: 'order#1' } } } };
    expect(partitionKeyOf(a)).toBe(partitionKeyOf(b));
    expect(partitionKeyOf(a)).not.toBe(partitionKeyOf(ddbRecord('order#2', 3)));
    expect(partitionKeyOf(kinesisRecord('device-7', 1))).toBe('device-7');
    const withKeys = (Keys: Record<string, unknown>) => ({ ...ddbRecord('x', 1), dynamodb: { ...ddbRecord('x', 1).dynamodb, Keys } }) as ReturnType<typeof ddbRecord>;
    expect(partitionKeyOf(withKeys({ id: { S: '1' } }))).not.toBe(partitionKeyOf(withKeys({ id: { N: '1' } })));
    expect(partitionKeyOf(withKeys({ a: { S: 'bS"c' } }))).not.toBe(partitionKeyOf(withKeys({ a: { S: 'b' }, c: { S: '' } })));
  });

  it('sequence numbers compare as the big integers they are', () => {
    const x = '49590338271490256608559692538361571095921575989136588898';
    const y = '49590338271490256608559692538361571095921575989136588899';
    expect(Number(x) === Number(y)).toBe(true); // why strings must not go through Number
    expect(compareSequenceNumbers(x, y)).toBe(-1);
    expect(compareSequenceNumbers('9', '10')).toBe(-1);
    expect(sequenceNumberOf(kinesisRecord('k', 5))).toMatch(/^\d{56}$/);
    expect(() => sequenceNumberOf({ ...ddbRecord('k', 1), dynamodb: { Keys: {} } })).toThrow(/no decimal sequence number/);
  });
});

describe('runBatch with the stream planner', () => {
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('for any keys, failures and delays: key order, parallelism within bounds, and the checkpoint is the lowest failure', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 5 }), fail: fc.boolean(), delay: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        async (specs, recordConcurrency, ioSize) => {
          const recs = specs.map((s, i) => ({ ...s, i, key: `k${s.key}`, fail: s.fail && i % 3 === 0 }));
          const inner = createStreamPlanner(recs.map((r) => r.key));
          let firstFailureSettled = Infinity;
          // The planner, watching settles: a failure counts from the moment the planner is told of it.
          const planner = {
            take: () => inner.take(),
            settle: (i: number, v: 'continue' | 'block') => {
              if (v === 'block') firstFailureSettled = Math.min(firstFailureSettled, i);
              inner.settle(i, v);
            },
            get drained() {
              return inner.drained;
            },
            skipped: (i: number) => inner.skipped(i),
          };
          const lanes = createLanes(ioSize, 1);
          const activeKeys = new Set<string>();
          let active = 0;
          let peak = 0;
          const started: number[] = [];
          const violations: string[] = [];
          const report = await runBatch({
            records: recs,
            idOf: (r) => String(r.i),
            lanes,
            plan: planDeadline(Date.now(), 60_000, 1_000, 500),
            recordConcurrency,
            scheduler: planner,
            process: async (r, ctx) => {
              // Nothing starts after a failure that has already been settled before it; one record per key.
              // (Collected, not thrown: a throw here would only become a record failure.)
              if (r.i >= firstFailureSettled) violations.push(`record ${r.i} started after failure ${firstFailureSettled}`);
              if (activeKeys.has(r.key)) violations.push(`two records of ${r.key} at once`);
              activeKeys.add(r.key);
              active++;
              peak = Math.max(peak, active);
              started.push(r.i);
              try {
                await ctx.io(() => tick(r.delay));
                if (r.fail) throw new RetryableError('Throttled', `record ${r.i}`);
              } finally {
                active--;
                activeKeys.delete(r.key);
              }
            },
          });
          expect(violations).toEqual([]);
          expect(peak).toBeLessThanOrEqual(recordConcurrency);
          expect(report.maxInFlight.io).toBeLessThanOrEqual(ioSize);
          for (const key of new Set(recs.map((r) => r.key))) {
            const mine = started.filter((i) => recs[i]!.key === key);
            expect(mine).toEqual([...mine].sort((a, b) => a - b));
          }
          const statuses = report.outcomes.map((o) => (o.status === 'done' ? 'done' : 'failed') as 'done' | 'failed');
          const response = checkpointResponse(recs.map((r) => String(r.i)), statuses);
          const lowestFailed = recs.find((r) => r.fail && started.includes(r.i));
          expect(response.batchItemFailures).toEqual(lowestFailed ? [{ itemIdentifier: String(lowestFailed.i) }] : []);
          // Everything before the checkpoint is done.
          for (const o of report.outcomes.slice(0, lowestFailed?.i ?? recs.length)) expect(o.status).toBe('done');
        },
      ),
      { numRuns: 60 },
    );
  });
});
