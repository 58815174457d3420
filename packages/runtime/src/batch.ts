/**
 * The generic batch runtime: runs the records of one SQS batch through bounded lanes under a deadline and
 * turns the outcomes into a partial batch response. It never throws for partial failure.
 *
 * - At most `recordConcurrency` records are started at once (default io + cpu lane sizes, enough to keep
 *   both lanes busy); inside a record, `ctx.io` / `ctx.cpu` bound the calls themselves. A 10,000-record
 *   batch is a queue of ids, not 10,000 live requests.
 * - Soft deadline: records not started by then are reported as failures without being touched.
 * - Hard deadline: `ctx.signal` aborts; the runtime stops waiting for in-flight records and reports them.
 * - Failures are classified (classify.ts): permanent ones go to `onPermanent` (the handler sends them to
 *   the DLQ) and count as done; retryable ones become batch item failures, except on the message's last
 *   receive, where they are dead-lettered with their reason too.
 * - Order: a standard batch starts records in batch order as slots free up; with `fifo`, the group
 *   planner (fifo-groups.ts) runs each message group one record at a time and skips the rest of a group
 *   after a retryable failure.
 */
import type { ClassifiedFailure } from './errors.js';
import { RetryableError } from './errors.js';
import { classify } from './classify.js';
import { canStart, msUntilHard, type DeadlinePlan } from './deadline.js';
import type { Lane, Lanes } from './lanes.js';
import { createGroupPlanner } from './fifo-groups.js';
import { inOrderScheduler, type RecordScheduler, type SettleVerdict } from './scheduler.js';

export interface RecordContext {
  /** Aborts at the hard deadline: pass it to every SDK call and long computation. */
  readonly signal: AbortSignal;
  /** Runs `task` in the I/O lane. */
  io<T>(task: () => Promise<T>): Promise<T>;
  /** Runs `task` in the CPU lane. */
  cpu<T>(task: () => Promise<T>): Promise<T>;
  /** Runs `task` in the memory lane: wrap the span during which the record holds a large buffer. */
  memory<T>(task: () => Promise<T>): Promise<T>;
}

/**
 * done; permanent (dead-lettered at once); exhausted (a retryable failure on the message's last receive,
 * dead-lettered by the handler so the DLQ holds its reason); retryable / not-started (batch item failures).
 */
export type OutcomeStatus = 'done' | 'permanent' | 'exhausted' | 'retryable' | 'not-started';

export interface RecordOutcome {
  readonly id: string;
  readonly status: OutcomeStatus;
  readonly failure?: ClassifiedFailure;
  readonly durationMs: number;
}

export interface BatchReport {
  readonly batchItemFailures: { itemIdentifier: string }[];
  readonly outcomes: RecordOutcome[];
  readonly counts: Record<OutcomeStatus, number>;
  readonly maxInFlight: { readonly io: number; readonly cpu: number; readonly memory: number; readonly records: number };
  readonly hardDeadlineHit: boolean;
}

export interface RunBatchOptions<R> {
  readonly records: readonly R[];
  readonly idOf: (record: R) => string;
  readonly process: (record: R, ctx: RecordContext) => Promise<void>;
  /**
   * Called for a permanent failure (e.g. send to the DLQ). If it throws, the record is reported as a
   * retryable failure instead, so a permanent error is never dropped silently.
   */
  readonly onPermanent?: (record: R, failure: ClassifiedFailure, error: unknown, ctx: RecordContext) => Promise<void>;
  /**
   * True when this is the message's last receive (ApproximateReceiveCount >= maxReceiveCount): a retryable
   * failure is then dead-lettered through `onPermanent` with its reason, instead of being moved there by the
   * redrive policy without one. Records stopped by the deadline are left to the redrive policy.
   */
  readonly isLastReceive?: (record: R) => boolean;
  /** Called for every classified failure (logging, metrics). */
  readonly onFailure?: (record: R, failure: ClassifiedFailure, error: unknown) => void;
  readonly lanes: Lanes;
  readonly plan: DeadlinePlan;
  /** Records started at once. @default lanes.io.size + lanes.cpu.size */
  readonly recordConcurrency?: number;
  /**
   * FIFO order: records of one group run one at a time in batch order; a retryable failure skips the rest
   * of its group (batch item failures, not started). @default undefined (standard queue: any order)
   */
  readonly fifo?: FifoOptions<R>;
  /** Which record starts next (streams: stream-planner.ts). Not with `fifo`. @default in batch order, or the FIFO group planner */
  readonly scheduler?: RecordScheduler;
  readonly now?: () => number;
}

export interface FifoOptions<R> {
  readonly groupOf: (record: R) => string;
  /**
   * `continue`: a permanent failure is dead-lettered at once and its group goes on.
   * `block-group`: a permanent failure is a batch item failure like a retryable one, so the group waits for
   * it; on its last receive it is dead-lettered with its reason and the group then goes on.
   * @default 'continue'
   */
  readonly onPermanentFailure?: 'continue' | 'block-group';
}

function laneRunner(lane: Lane, signal: AbortSignal) {
  return <T>(task: () => Promise<T>): Promise<T> => lane.run(task, signal);
}

export async function runBatch<R>(options: RunBatchOptions<R>): Promise<BatchReport> {
  const now = options.now ?? Date.now;
  const { lanes, plan, records } = options;
  const hard = new AbortController();
  const hardTimer = setTimeout(
    () => hard.abort(new RetryableError('Timeout', 'hard deadline reached: in-flight work aborted')),
    msUntilHard(plan, now()),
  );
  const hardReached = new Promise<'hard'>((resolve) => hard.signal.addEventListener('abort', () => resolve('hard'), { once: true }));
  const ctx: RecordContext = { signal: hard.signal, io: laneRunner(lanes.io, hard.signal), cpu: laneRunner(lanes.cpu, hard.signal), memory: laneRunner(lanes.memory, hard.signal) };

  const outcomes: (RecordOutcome | undefined)[] = new Array(records.length);
  const started: boolean[] = new Array(records.length).fill(false);
  const recordConcurrency = Math.max(1, options.recordConcurrency ?? lanes.io.size + lanes.cpu.size);
  if (options.scheduler && options.fifo) throw new Error('runBatch: pass either fifo or scheduler, not both');
  const scheduler: RecordScheduler =
    options.scheduler ?? (options.fifo ? createGroupPlanner(records.map((r) => options.fifo!.groupOf(r))) : inOrderScheduler(records.length));
  const holdPermanent = options.fifo?.onPermanentFailure === 'block-group';
  let inFlight = 0;
  let maxRecords = 0;

  /** Runs one record to a settled outcome; the verdict says whether its FIFO group may go on. */
  const runOne = async (record: R, index: number): Promise<SettleVerdict> => {
    const id = options.idOf(record);
    const startedAt = now();
    const settle = (status: OutcomeStatus, failure?: ClassifiedFailure): SettleVerdict => {
      outcomes[index] = { id, status, ...(failure ? { failure } : {}), durationMs: now() - startedAt };
      return status === 'retryable' ? 'block' : 'continue';
    };
    /** Dead-letters through onPermanent; if that fails the record stays a batch item failure. */
    const deadLetter = async (status: 'permanent' | 'exhausted', failure: ClassifiedFailure, err: unknown): Promise<SettleVerdict> => {
      try {
        await options.onPermanent!(record, failure, err, ctx);
        return settle(status, failure);
      } catch (sendErr) {
        if (status === 'exhausted') return settle('retryable', failure); // the redrive policy still moves it
        const f2 = classify(sendErr);
        options.onFailure?.(record, f2, sendErr);
        return settle('retryable', { kind: 'retryable', class: f2.class, reason: `permanent failure (${failure.class}) not dead-lettered: ${f2.reason}` });
      }
    };
    try {
      await options.process(record, ctx);
      return settle('done');
    } catch (err) {
      // An abort surfaces as whatever the SDK throws; the hard deadline is what really happened.
      const failure = hard.signal.aborted ? classify(hard.signal.reason) : classify(err);
      options.onFailure?.(record, failure, err);
      if (hard.signal.aborted) return settle('retryable', failure);
      const lastReceive = options.isLastReceive?.(record) ?? false;
      if (failure.kind === 'permanent') {
        if (!options.onPermanent) return settle('retryable', { kind: 'retryable', class: 'Unknown', reason: `${failure.class}: ${failure.reason} (no dead-letter handler)` });
        // block-group: keep the message in the queue (and its group behind it) until its last receive.
        if (holdPermanent && !lastReceive) return settle('retryable', failure);
        return deadLetter('permanent', failure, err);
      }
      if (lastReceive && options.onPermanent) return deadLetter('exhausted', failure, err);
      return settle('retryable', failure);
    }
  };

  // Workers take the next record the scheduler allows while the soft deadline allows; the rest are never
  // started. A worker with nothing to take (FIFO: every remaining group busy) waits for the next settle.
  const waiting: (() => void)[] = [];
  const wake = () => {
    for (const resume of waiting.splice(0)) resume();
  };
  hard.signal.addEventListener('abort', wake, { once: true });
  const worker = async (): Promise<void> => {
    while (!hard.signal.aborted && canStart(plan, now())) {
      const index = scheduler.take();
      if (index === undefined) {
        if (scheduler.drained) return;
        await new Promise<void>((resume) => waiting.push(resume));
        continue;
      }
      started[index] = true;
      inFlight++;
      if (inFlight > maxRecords) maxRecords = inFlight;
      let verdict: SettleVerdict = 'block';
      try {
        verdict = await runOne(records[index]!, index);
      } finally {
        inFlight--;
        scheduler.settle(index, verdict);
        wake();
      }
    }
    wake(); // the soft deadline passed: let waiting workers see it too
  };
  const workers = Array.from({ length: Math.min(recordConcurrency, records.length) }, () => worker());
  const finished = await Promise.race([Promise.all(workers).then(() => 'all' as const), hardReached]);
  clearTimeout(hardTimer);
  hard.signal.removeEventListener('abort', wake);

  const result: RecordOutcome[] = records.map((record, i) => {
    const o = outcomes[i];
    if (o) return o;
    const id = options.idOf(record);
    if (started[i]) return { id, status: 'retryable', failure: { kind: 'retryable', class: 'Timeout', reason: 'still running at the hard deadline' }, durationMs: 0 };
    const skipped = scheduler.skipped(i);
    return { id, status: 'not-started', failure: skipped ?? { kind: 'retryable', class: 'Timeout', reason: 'not started: soft deadline reached' }, durationMs: 0 };
  });
  const counts: Record<OutcomeStatus, number> = { done: 0, permanent: 0, exhausted: 0, retryable: 0, 'not-started': 0 };
  for (const o of result) counts[o.status]++;
  return {
    batchItemFailures: result.filter((o) => o.status === 'retryable' || o.status === 'not-started').map((o) => ({ itemIdentifier: o.id })),
    outcomes: result,
    counts,
    maxInFlight: { io: lanes.io.maxInFlight, cpu: lanes.cpu.maxInFlight, memory: lanes.memory.maxInFlight, records: maxRecords },
    hardDeadlineHit: finished === 'hard',
  };
}
