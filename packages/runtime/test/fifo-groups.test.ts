/** The FIFO group planner, pure, and runBatch driving it (no I/O). */
import fc from 'fast-check';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createGroupPlanner, isFifoBatch, messageGroupOf } from '../src/fifo-groups';
import { runBatch } from '../src/batch';
import { createLanes } from '../src/lanes';
import { planDeadline } from '../src/deadline';
import { PermanentError, RetryableError } from '../src/errors';

describe('group planner', () => {
  it('hands out the head of each group, one record per group at a time, in batch order', () => {
    const p = createGroupPlanner(['A', 'A', 'B', 'A', 'C']);
    expect([p.take(), p.take(), p.take()]).toEqual([0, 2, 4]);
    expect(p.take()).toBeUndefined(); // every group busy
    expect(p.drained).toBe(false);
    p.settle(2, 'continue'); // B has nothing left
    expect(p.take()).toBeUndefined();
    p.settle(0, 'continue');
    expect(p.take()).toBe(1);
    p.settle(1, 'continue');
    expect(p.take()).toBe(3);
    expect(p.drained).toBe(true);
  });

  it('a blocked group skips its later records (with the reason), other groups go on', () => {
    const p = createGroupPlanner(['A', 'B', 'A', 'B', 'A']);
    expect([p.take(), p.take()]).toEqual([0, 1]);
    p.settle(0, 'block');
    expect(p.skipped(2)).toMatchObject({ kind: 'retryable', class: 'GroupBlocked' });
    expect(p.skipped(4)?.reason).toMatch(/group "A".*failed/);
    expect(p.skipped(3)).toBeUndefined();
    expect(p.take()).toBeUndefined(); // A is done, B busy
    p.settle(1, 'continue');
    expect(p.take()).toBe(3);
    expect(p.drained).toBe(true);
  });

  it('refuses to settle a record that is not running', () => {
    const p = createGroupPlanner(['A']);
    expect(() => p.settle(0, 'continue')).toThrow(/not running/);
  });

  it('for any groups and verdicts: order kept in each group, one at a time, nothing after a block, every record accounted once', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }), fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), fc.array(fc.nat(), { minLength: 60, maxLength: 60 }), (groups, blocks, picks) => {
        const keys = groups.map((g) => `g${g}`);
        const p = createGroupPlanner(keys);
        const running: number[] = [];
        const handed: number[] = [];
        let step = 0;
        while (!p.drained || running.length > 0) {
          // Take everything takeable, then settle one running record chosen by the arbitrary.
          for (let i = p.take(); i !== undefined; i = p.take()) {
            expect(running.some((r) => keys[r] === keys[i])).toBe(false); // one per group at a time
            running.push(i);
            handed.push(i);
          }
          if (running.length === 0) break;
          const [done] = running.splice((picks[step++ % picks.length] ?? 0) % running.length, 1);
          p.settle(done!, blocks[done!] ? 'block' : 'continue');
        }
        for (const key of new Set(keys)) {
          const mine = keys.map((k, i) => (k === key ? i : -1)).filter((i) => i >= 0);
          const handedMine = handed.filter((i) => keys[i] === key);
          // Handed out in batch order, as a prefix of the group that stops right after the first block.
          const firstBlock = mine.findIndex((i) => blocks[i]);
          const expected = firstBlock === -1 ? mine : mine.slice(0, firstBlock + 1);
          expect(handedMine).toEqual(expected);
          for (const i of mine) expect(handed.includes(i) !== (p.skipped(i) !== undefined)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('detects a FIFO batch from the source ARN or a MessageGroupId', () => {
    const r = (arn: string, group?: string) => ({ messageId: 'm', eventSourceARN: arn, attributes: group ? { MessageGroupId: group } : {} }) as unknown as SQSRecord;
    expect(isFifoBatch([r('arn:aws:sqs:eu-west-1:1:orders.fifo')])).toBe(true);
    expect(isFifoBatch([r('arn:aws:sqs:eu-west-1:1:orders', 'g')])).toBe(true);
    expect(isFifoBatch([r('arn:aws:sqs:eu-west-1:1:orders')])).toBe(false);
    expect(messageGroupOf(r('x.fifo', 'g1'))).toBe('g1');
    expect(messageGroupOf(r('x.fifo'))).not.toBe(messageGroupOf({ ...r('x.fifo'), messageId: 'other' } as SQSRecord));
  });
});

describe('runBatch on a FIFO batch', () => {
  interface Rec { id: string; group: string; seq: number }
  const batch = (spec: string): Rec[] => spec.split(' ').map((g, i) => ({ id: `${g}${i}`, group: g, seq: i }));
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const base = { idOf: (r: Rec) => r.id, lanes: createLanes(8, 4), plan: planDeadline(Date.now(), 60_000, 1_000, 500) };

  it('runs each group in order, one at a time, and several groups at once', async () => {
    const records = batch('A B C A B C A B C A');
    const seen: Rec[] = [];
    const active = new Set<string>();
    let maxGroups = 0;
    const report = await runBatch({
      ...base,
      records,
      fifo: { groupOf: (r) => r.group },
      process: async (r) => {
        expect(active.has(r.group)).toBe(false);
        active.add(r.group);
        maxGroups = Math.max(maxGroups, active.size);
        await tick(5 + ((r.seq * 7) % 11)); // uneven delays
        seen.push(r);
        active.delete(r.group);
      },
    });
    expect(report.batchItemFailures).toEqual([]);
    for (const g of ['A', 'B', 'C']) expect(seen.filter((r) => r.group === g).map((r) => r.seq)).toEqual(records.filter((r) => r.group === g).map((r) => r.seq));
    expect(maxGroups).toBeGreaterThan(1);
  });

  it('a retryable failure fails its record and every later record of its group, not started; other groups go on', async () => {
    const records = batch('A B A B A');
    const started: string[] = [];
    const report = await runBatch({
      ...base,
      records,
      fifo: { groupOf: (r) => r.group },
      process: async (r) => {
        started.push(r.id);
        if (r.id === 'A0') throw new RetryableError('Throttled', 'slow down');
      },
    });
    expect(report.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['A0', 'A2', 'A4']);
    expect(started.sort()).toEqual(['A0', 'B1', 'B3']);
    expect(report.outcomes.find((o) => o.id === 'A2')).toMatchObject({ status: 'not-started', failure: { class: 'GroupBlocked' } });
    expect(report.counts).toMatchObject({ done: 2, retryable: 1, 'not-started': 2 });
  });

  it('a permanent failure is dead-lettered and its group goes on (onPermanentFailure continue, the default)', async () => {
    const records = batch('A A A');
    const dlq: string[] = [];
    const done: string[] = [];
    const report = await runBatch({
      ...base,
      records,
      fifo: { groupOf: (r) => r.group },
      process: async (r) => {
        if (r.id === 'A1') throw new PermanentError('OrderRejected', 'account closed');
        done.push(r.id);
      },
      onPermanent: async (r, f) => { dlq.push(`${r.id}:${f.class}:${f.reason}`); },
    });
    expect(report.batchItemFailures).toEqual([]);
    expect(dlq).toEqual(['A1:OrderRejected:account closed']);
    expect(done).toEqual(['A0', 'A2']);
  });

  it('block-group: a permanent failure holds its group until its last receive, then is dead-lettered and the group goes on', async () => {
    const records = batch('A A B');
    const dlq: string[] = [];
    const run = (lastReceive: boolean) =>
      runBatch({
        ...base,
        records,
        fifo: { groupOf: (r) => r.group, onPermanentFailure: 'block-group' },
        isLastReceive: () => lastReceive,
        process: async (r) => { if (r.id === 'A0') throw new PermanentError('OrderRejected', 'account closed'); },
        onPermanent: async (r) => { dlq.push(r.id); },
      });
    const held = await run(false);
    expect(held.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['A0', 'A1']);
    expect(dlq).toEqual([]);
    const last = await run(true);
    expect(last.batchItemFailures).toEqual([]);
    expect(dlq).toEqual(['A0']);
    expect(last.counts).toMatchObject({ done: 2, permanent: 1 });
  });

  it('a permanent failure that cannot be dead-lettered blocks its group (nothing overtakes it)', async () => {
    const report = await runBatch({
      ...base,
      records: batch('A A'),
      fifo: { groupOf: (r) => r.group },
      process: async (r) => { if (r.id === 'A0') throw new PermanentError('X', 'y'); },
      onPermanent: async () => { throw Object.assign(new Error('down'), { name: 'ServiceUnavailable' }); },
    });
    expect(report.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['A0', 'A1']);
  });
});
