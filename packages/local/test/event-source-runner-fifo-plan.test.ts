import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { InFlightGroups, isFifoQueueUrl, planFifoBatch } from '../src/services/lambda/event-source-fifo';

const msg = (id: string, group: string, seq: number): Message => ({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: id, Attributes: { MessageGroupId: group, SequenceNumber: String(10_000_000_000_000_000_000n + BigInt(seq)) } });

describe('FIFO group planner', () => {
  it('keeps each group contiguous and in SequenceNumber order; groups in order of first appearance', () => {
    const plan = planFifoBatch([msg('a2', 'A', 2), msg('b1', 'B', 3), msg('a1', 'A', 1), msg('c1', 'C', 4), msg('b2', 'B', 5)], new Set());
    expect(plan.deliver.map((m) => m.MessageId)).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);
    expect(plan.groups).toEqual(['A', 'B', 'C']);
    expect(plan.holdBack).toEqual([]);
  });

  it('holds back every message of a group that is already in flight', () => {
    const plan = planFifoBatch([msg('a3', 'A', 3), msg('b1', 'B', 4)], new Set(['A']));
    expect(plan.deliver.map((m) => m.MessageId)).toEqual(['b1']);
    expect(plan.holdBack.map((m) => m.MessageId)).toEqual(['a3']);
    expect(plan.groups).toEqual(['B']);
  });

  it('counts in-flight batches per group', () => {
    const g = new InFlightGroups();
    g.add(['A', 'B']);
    g.add(['A']);
    g.remove(['A']);
    expect(g.has('A')).toBe(true);
    g.remove(['A', 'B']);
    expect(g.size).toBe(0);
    expect(isFifoQueueUrl('http://x/000000000000/q.fifo')).toBe(true);
    expect(isFifoQueueUrl('http://x/000000000000/q')).toBe(false);
  });
});
