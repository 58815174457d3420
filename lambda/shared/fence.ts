/**
 * Fenced writes, pure: the rule the jobs table applies (as a condition expression) to every result write.
 * A write is accepted only if no newer fence has written and the status moves forward, so a paused stale
 * holder can never overwrite newer results. The same holder may write more than once under its fence
 * (processing, then completed).
 */
import { JOB_STATUS_ORDER, type JobStatus } from './job-record';

export interface FencedState {
  readonly status?: JobStatus;
  readonly fence?: number;
}

export type FenceVerdict = 'accept' | 'stale' | 'not-forward';

export function judgeFencedWrite(current: FencedState | undefined, fence: number, to: JobStatus): FenceVerdict {
  if (current?.fence !== undefined && current.fence > fence) return 'stale';
  if (current?.status !== undefined) {
    // Terminal states are final; otherwise only forward moves (processing -> processing is a re-mark by a newer fence).
    if (current.status === 'completed' || current.status === 'failed') return 'not-forward';
    if (JOB_STATUS_ORDER[to] < JOB_STATUS_ORDER[current.status]) return 'not-forward';
  }
  return 'accept';
}
