/**
 * The FIFO group planner, pure: records of one MessageGroupId run in batch order, one at a time; different
 * groups run side by side (runBatch bounds how many through the lanes and recordConcurrency).
 *
 * - A record that ends `continue` (done, dead-lettered) hands its group to the next record of the group.
 * - A record that ends `block` (a retryable failure: SQS will deliver it again) skips every later record
 *   of its group in this batch: they are reported as batch item failures without being started, so no
 *   later message of the group takes effect before it. Other groups go on.
 *
 * Lambda delivers a FIFO batch in order within each group, so batch order is group order.
 */
import type { SQSRecord } from 'aws-lambda';
import type { ClassifiedFailure } from './errors.js';
import { isFifoQueue } from './dead-letter.js';
import type { RecordScheduler, SettleVerdict } from './scheduler.js';

/** A batch is FIFO when its source queue is (ARN ends in .fifo) or its records carry a MessageGroupId. */
export function isFifoBatch(records: readonly SQSRecord[]): boolean {
  return records.some((r) => isFifoQueue(r.eventSourceARN ?? '') || r.attributes?.MessageGroupId !== undefined);
}

/** The record's message group; a record without one (not seen from SQS FIFO) is a group of its own. */
export function messageGroupOf(record: SQSRecord): string {
  return record.attributes?.MessageGroupId ?? `(none) ${record.messageId}`; // a space: no real group id has one
}

interface Group {
  readonly key: string;
  /** Indexes of the group's records not yet handed out, in batch order. */
  readonly waiting: number[];
  busy: boolean;
}

export interface GroupPlanner extends RecordScheduler {
  /** The group of a record index. */
  groupOf(index: number): string;
}

/** @param groupKeys the message group of each record, in batch order. */
export function createGroupPlanner(groupKeys: readonly string[]): GroupPlanner {
  const groups = new Map<string, Group>();
  const groupOfIndex: Group[] = [];
  groupKeys.forEach((key, index) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, waiting: [], busy: false }));
    g.waiting.push(index);
    groupOfIndex.push(g);
  });
  // Groups that may hand out a record now, in order of first appearance (then of becoming ready again).
  const ready: Group[] = [...groups.values()];
  const skippedBy = new Map<number, ClassifiedFailure>();
  let handedOut = 0;

  return {
    take() {
      const g = ready.shift();
      if (!g) return undefined;
      const index = g.waiting.shift()!;
      g.busy = true;
      handedOut++;
      return index;
    },
    settle(index: number, verdict: SettleVerdict) {
      const g = groupOfIndex[index];
      if (!g || !g.busy) throw new Error(`record ${index} settled but was not running`);
      g.busy = false;
      if (verdict === 'block') {
        for (const later of g.waiting.splice(0)) {
          skippedBy.set(later, {
            kind: 'retryable',
            class: 'GroupBlocked',
            reason: `not started: an earlier message of group ${JSON.stringify(g.key)} in this batch (record ${index}) failed and will be delivered again first`,
          });
          handedOut++;
        }
      } else if (g.waiting.length > 0) {
        ready.push(g);
      }
    },
    get drained() {
      return handedOut >= groupKeys.length;
    },
    skipped: (index) => skippedBy.get(index),
    groupOf: (index) => groupKeys[index]!,
  };
}
