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
 */
import type { ClassifiedFailure } from './errors.js';
import { RetryableError } from './errors.js';
import { classify } from './classify.js';
import { canStart, msUntilHard, type DeadlinePlan } from './deadline.js';
import type { Lane, Lanes } from './lanes.js';

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
  readonly now?: () => number;
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
  const recordConcurrency = Math.max(1, options.recordConcurrency ?? lanes.io.size + lanes.cpu.size);
  let next = 0;
  let inFlight = 0;
  let maxRecords = 0;

  const runOne = async (record: R, index: number): Promise<void> => {
    const id = options.idOf(record);
    const started = now();
    const fail = (status: OutcomeStatus, failure?: ClassifiedFailure) => {
      outcomes[index] = { id, status, ...(failure ? { failure } : {}), durationMs: now() - started };
    };
    try {
      await options.process(record, ctx);
      fail('done');
    } catch (err) {
      // An abort surfaces as whatever the SDK throws; the hard deadline is what really happened.
      const failure = hard.signal.aborted ? classify(hard.signal.reason) : classify(err);
      options.onFailure?.(record, failure, err);
      if (failure.kind === 'permanent' && options.onPermanent && !hard.signal.aborted) {
        try {
          await options.onPermanent(record, failure, err, ctx);
          fail('permanent', failure);
        } catch (sendErr) {
          const f2 = classify(sendErr);
          options.onFailure?.(record, f2, sendErr);
          fail('retryable', { kind: 'retryable', class: f2.class, reason: `permanent failure (${failure.class}) not dead-lettered: ${f2.reason}` });
        }
      } else if (failure.kind === 'retryable' && !hard.signal.aborted && options.onPermanent && options.isLastReceive?.(record)) {
        try {
          await options.onPermanent(record, failure, err, ctx);
          fail('exhausted', failure);
        } catch {
          fail('retryable', failure); // the redrive policy still moves it
        }
      } else {
        fail('retryable', failure.kind === 'retryable' ? failure : { kind: 'retryable', class: 'Unknown', reason: `${failure.class}: ${failure.reason} (no dead-letter handler)` });
      }
    }
  };

  // Workers pull the next record while the soft deadline allows; the rest are never started.
  const worker = async (): Promise<void> => {
    while (next < records.length && !hard.signal.aborted && canStart(plan, now())) {
      const index = next++;
      inFlight++;
      if (inFlight > maxRecords) maxRecords = inFlight;
      try {
        await runOne(records[index]!, index);
      } finally {
        inFlight--;
      }
    }
  };
  const workers = Array.from({ length: Math.min(recordConcurrency, records.length) }, () => worker());
  const finished = await Promise.race([Promise.all(workers).then(() => 'all' as const), hardReached]);
  clearTimeout(hardTimer);

  const result: RecordOutcome[] = records.map((record, i) => {
    const o = outcomes[i];
    if (o) return o;
    const id = options.idOf(record);
    return i < next
      ? { id, status: 'retryable', failure: { kind: 'retryable', class: 'Timeout', reason: 'still running at the hard deadline' }, durationMs: 0 }
      : { id, status: 'not-started', failure: { kind: 'retryable', class: 'Timeout', reason: 'not started: soft deadline reached' }, durationMs: 0 };
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
