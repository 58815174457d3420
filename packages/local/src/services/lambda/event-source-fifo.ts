/**
 * FIFO semantics of Lambda's SQS poller, as pure functions: while a message group has a batch in
 * flight, no other message of that group is delivered; a batch keeps each group's messages in queue
 * order (SequenceNumber); a batch may mix groups, so concurrency grows with the number of active groups.
 *
 * SQS itself hides the messages of a group while one of them is in flight, and fauxqs does too; the
 * runner still checks, so that a backend that does not (or a receive racing a settle) cannot break the
 * order. What it holds back it returns to the queue at once, where the group's order is kept.
 */
import type { Message } from '@aws-sdk/client-sqs';

export const isFifoQueueUrl = (queueUrl: string): boolean => queueUrl.endsWith('.fifo');

export const messageGroupOf = (m: Message): string | undefined => m.Attributes?.MessageGroupId;

export interface FifoPlan {
  /** Messages to deliver in one batch: each group's messages contiguous, in SequenceNumber order. */
  readonly deliver: readonly Message[];
  /** Messages of groups already in flight: to be returned to the queue undelivered. */
  readonly holdBack: readonly Message[];
  /** Groups the delivered batch holds (they are in flight until it is settled). */
  readonly groups: readonly string[];
}

const seq = (m: Message): bigint => {
  const s = m.Attributes?.SequenceNumber;
  return s !== undefined && /^\d+$/.test(s) ? BigInt(s) : 0n;
};

/**
 * Plans one FIFO batch from what a receive returned, given the groups already in flight. Groups appear
 * in the order of their first message; inside a group, messages are sorted by SequenceNumber (stable).
 */
export function planFifoBatch(received: readonly Message[], inFlightGroups: ReadonlySet<string>): FifoPlan {
  const byGroup = new Map<string, Message[]>();
  const holdBack: Message[] = [];
  for (const m of received) {
    const g = messageGroupOf(m) ?? '';
    if (inFlightGroups.has(g)) {
      holdBack.push(m);
      continue;
    }
    const list = byGroup.get(g) ?? [];
    list.push(m);
    byGroup.set(g, list);
  }
  const deliver: Message[] = [];
  for (const list of byGroup.values()) {
    deliver.push(...list.map((m, i) => ({ m, i })).sort((a, b) => (seq(a.m) < seq(b.m) ? -1 : seq(a.m) > seq(b.m) ? 1 : a.i - b.i)).map((x) => x.m));
  }
  return { deliver, holdBack, groups: [...byGroup.keys()] };
}

/** Counts of in-flight batches per message group (a group is free when its count is back to 0). */
export class InFlightGroups {
  private readonly counts = new Map<string, number>();
  get size(): number {
    return this.counts.size;
  }
  has(group: string): boolean {
    return this.counts.has(group);
  }
  asSet(): ReadonlySet<string> {
    return new Set(this.counts.keys());
  }
  add(groups: Iterable<string>): void {
    for (const g of groups) this.counts.set(g, (this.counts.get(g) ?? 0) + 1);
  }
  remove(groups: Iterable<string>): void {
    for (const g of groups) {
      const n = (this.counts.get(g) ?? 1) - 1;
      if (n <= 0) this.counts.delete(g);
      else this.counts.set(g, n);
    }
  }
}
