/**
 * The stream planner, pure: which record of a DynamoDB Streams / Kinesis batch starts next, and where the
 * batch checkpoints.
 *
 * - Order: records with one partition key run one at a time in sequence order, different keys side by
 *   side (the FIFO group planner, fifo-groups.ts, keyed by partition key). A retryable failure skips the
 *   rest of its key: nothing of that key may take effect before the failed record does.
 * - Checkpoint: Lambda retries a stream batch from the LOWEST failed sequence number, every record after
 *   it included. So once a record has failed, no record after it is started any more (held back: it
 *   will be delivered again anyway); records before it still run, since the checkpoint only holds if they
 *   succeed. Records of other keys after the checkpoint that had already started when the failure came
 *   are delivered again: their effects must be idempotent to happen once (as AWS's docs say).
 *
 * Indexes are positions in sequence-number order.
 */
import type { ClassifiedFailure } from './errors.js';
import { createGroupPlanner } from './fifo-groups.js';
import type { RecordScheduler, SettleVerdict } from './scheduler.js';

export interface StreamPlanner extends RecordScheduler {
  /** Lowest index that failed so far (retryable): Lambda retries from there. `count` when none. */
  readonly checkpoint: number;
}

/** @param keys the partition key of each record, in sequence-number order. */
export function createStreamPlanner(keys: readonly string[]): StreamPlanner {
  const groups = createGroupPlanner(keys);
  let checkpoint = keys.length;
  const heldBack = new Map<number, ClassifiedFailure>();
  return {
    take() {
      for (let index = groups.take(); index !== undefined; index = groups.take()) {
        if (index < checkpoint) return index;
        // After the checkpoint: Lambda delivers it again, so running it now is a duplicate effect. Blocking
        // it also skips the later records of its key (they are after the checkpoint too).
        heldBack.set(index, {
          kind: 'retryable',
          class: 'AfterCheckpoint',
          reason: `not started: record ${checkpoint} of this batch failed first, and Lambda retries from it`,
        });
        groups.settle(index, 'block');
      }
      return undefined;
    },
    settle(index: number, verdict: SettleVerdict) {
      if (verdict === 'block' && index < checkpoint) checkpoint = index;
      groups.settle(index, verdict);
    },
    get drained() {
      return groups.drained;
    },
    skipped(index) {
      const held = heldBack.get(index);
      if (held) return held;
      if (groups.skipped(index) === undefined) return undefined;
      return {
        kind: 'retryable',
        class: 'GroupBlocked',
        reason: `not started: an earlier record with partition key ${JSON.stringify(keys[index])} in this batch failed or was held back; Lambda retries from the checkpoint`,
      };
    },
    get checkpoint() {
      return checkpoint;
    },
  };
}

/** What a record came to, as far as the checkpoint is concerned. */
export type CheckpointStatus = 'done' | 'failed';

/**
 * The stream batch response: the LOWEST failed sequence number (Lambda checkpoints there and retries every
 * record from it), or none. One item is enough: Lambda uses only the lowest anyway.
 *
 * @param sequenceNumbers in ascending order; `statuses` at the same positions.
 */
export function checkpointResponse(sequenceNumbers: readonly string[], statuses: readonly CheckpointStatus[]): { batchItemFailures: { itemIdentifier: string }[] } {
  const first = statuses.indexOf('failed');
  return { batchItemFailures: first === -1 ? [] : [{ itemIdentifier: sequenceNumbers[first]! }] };
}
