/**
 * FIFO on the local stack (issue 13): a CDK app (aws-cdk-lib constructs) with a FIFO queue + FIFO DLQ and
 * a plain-JS handler honouring batchItemFailures; many groups, random delays, one poison message and one
 * retryable failure. Checked from the function's own log lines (outside the poller).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';
import { FIFO_STACK, synthControlApp } from './fixtures/control-app';

const CAP = 4;
const GROUPS = 8;
const PER_GROUP = 6;
const POISON = { group: 'g3', seq: 2 };
const RETRY = { group: 'g5', seq: 1 };

let stack: LocalStack;
const lines: Array<Record<string, any>> = [];

beforeAll(async () => {
  const dir = synthControlApp(mkdtempSync(join(tmpdir(), 'fg-fifo-')), { fifo: true, maxConcurrency: CAP, batchSize: 5, visibilitySeconds: 4 });
  stack = await startLocalStack({
    assembly: dir,
    stack: FIFO_STACK,
    emulators: localEndpoints(),
    waitTimeSeconds: 1,
    log: () => undefined,
    onLog: (e) => {
      if (e.json && typeof e.json.evt === 'string') lines.push(e.json);
    },
  });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not met in ${ms} ms`);
}

describe('FIFO queue on the local stack', () => {
  it('each group in order, once; poison in the FIFO DLQ; groups in parallel; cap never exceeded', async () => {
    const queueUrl = stack.outputs.QueueUrl!;
    const dlqUrl = stack.outputs.DlqUrl!;
    expect(queueUrl.endsWith('.fifo') && dlqUrl.endsWith('.fifo')).toBe(true);
    // Interleave the groups in send order: g0#0, g1#0, ..., g0#1, ...
    const all: Array<{ id: string; group: string; seq: number; ms: number; fail?: string }> = [];
    for (let seq = 0; seq < PER_GROUP; seq++) {
      for (let g = 0; g < GROUPS; g++) {
        const group = `g${g}`;
        const fail = group === POISON.group && seq === POISON.seq ? 'always' : group === RETRY.group && seq === RETRY.seq ? 'retry-once' : undefined;
        all.push({ id: `${group}-${seq}`, group, seq, ms: 20 + Math.floor(Math.random() * 250), ...(fail ? { fail } : {}) });
      }
    }
    for (let i = 0; i < all.length; i += 10) {
      await stack.clients.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: all.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m), MessageGroupId: m.group, MessageDeduplicationId: m.id })) }),
      );
    }
    const effects = () => lines.filter((l) => l.evt === 'effect');
    const dlq: string[] = [];
    await until(async () => {
      const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 600 }));
      for (const m of r.Messages ?? []) dlq.push(m.Body!);
      return effects().length >= all.length - 1 && dlq.length >= 1;
    }, 150_000, 'all effects and the poison dead-lettered');

    // Every group's effects: complete (but the poison), in send order, none twice.
    for (let g = 0; g < GROUPS; g++) {
      const group = `g${g}`;
      const seqs = effects().filter((e) => e.group === group).map((e) => e.seq);
      const expected = Array.from({ length: PER_GROUP }, (_, i) => i).filter((s) => !(group === POISON.group && s === POISON.seq));
      expect({ group, seqs }).toEqual({ group, seqs: expected });
    }
    expect(dlq.map((b) => JSON.parse(b).id)).toEqual([`${POISON.group}-${POISON.seq}`]);
    // The retryable failure was retried (second receive) and then took effect.
    expect(effects().find((e) => e.group === RETRY.group && e.seq === RETRY.seq)?.receiveCount).toBe(2);

    // From the function's own start/end lines: no two invocations of one group overlapped, several
    // groups ran at once, and never more than the cap.
    const groupOf = (id: string) => id.split('-')[0]!;
    const intervals = new Map<string, { start: number; end?: number; groups: string[] }>();
    const starts = lines.filter((l) => l.evt === 'start');
    const ends = lines.filter((l) => l.evt === 'end');
    const key = (l: Record<string, any>) => (l.ids as string[]).join(',');
    const pending = new Map<string, number[]>();
    for (const s of starts) pending.set(key(s), [...(pending.get(key(s)) ?? []), s.t]);
    let n = 0;
    for (const e of ends) {
      const st = pending.get(key(e))!.shift()!;
      intervals.set(String(n++), { start: st, end: e.t, groups: [...new Set((e.ids as string[]).map(groupOf))] });
    }
    const list = [...intervals.values()];
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        const overlap = a.start < b.end! && b.start < a.end!;
        if (overlap) expect(a.groups.filter((g) => b.groups.includes(g))).toEqual([]);
      }
    }
    const edges = list.flatMap((x) => [{ t: x.start, d: 1 }, { t: x.end!, d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
    let running = 0;
    let peak = 0;
    for (const e of edges) peak = Math.max(peak, (running += e.d));
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(CAP);
    const st = [...stack.runners.values()][0]!.stats();
    expect(st.maxConcurrentGroups).toBeGreaterThan(1);
    expect(st.maxConcurrentExecutions).toBeLessThanOrEqual(CAP);
  });
});
