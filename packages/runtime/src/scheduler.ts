/**
 * Which record of a batch starts next. runBatch asks `take()` whenever a record slot is free and reports
 * every started record back with `settle()`. Pure: no clock, no I/O.
 *
 * - `inOrderScheduler`: a standard queue; any record may start at any time, in batch order.
 * - `createGroupPlanner` (fifo-groups.ts): a FIFO queue; one record per message group at a time.
 */
import type { ClassifiedFailure } from './errors.js';

/** What a settled record means for the records after it: go on, or skip the rest of its group. */
export type SettleVerdict = 'continue' | 'block';

export interface RecordScheduler {
  /** Index of a record that may start now; undefined when none may start until something settles (or ever). */
  take(): number | undefined;
  /** A started record ended. */
  settle(index: number, verdict: SettleVerdict): void;
  /** True when no record will ever be handed out again (all taken or skipped). */
  readonly drained: boolean;
  /** Why a record will never be started (its group was blocked), or undefined. */
  skipped(index: number): ClassifiedFailure | undefined;
}

export function inOrderScheduler(count: number): RecordScheduler {
  let next = 0;
  return {
    take: () => (next < count ? next++ : undefined),
    settle: () => undefined,
    get drained() {
      return next >= count;
    },
    skipped: () => undefined,
  };
}
