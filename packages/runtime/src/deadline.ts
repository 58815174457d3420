/**
 * Deadline planning from the Lambda context. Pure: time is passed in, so tests need no clock.
 *
 * - soft deadline: stop STARTING records (what has started may still finish);
 * - hard deadline: abort in-flight work (AbortSignal) so the invocation returns before Lambda kills it,
 *   and every unfinished record is reported in batchItemFailures instead of the whole batch failing.
 */
export interface DeadlinePlan {
  /** Epoch ms when Lambda kills the invocation. */
  readonly deadlineAt: number;
  /** Epoch ms after which no new record is started. */
  readonly softAt: number;
  /** Epoch ms at which in-flight work is aborted. */
  readonly hardAt: number;
}

export function planDeadline(now: number, remainingMs: number, softMarginMs: number, hardMarginMs: number): DeadlinePlan {
  const deadlineAt = now + Math.max(0, remainingMs);
  return {
    deadlineAt,
    softAt: Math.max(now, deadlineAt - softMarginMs),
    hardAt: Math.max(now, deadlineAt - hardMarginMs),
  };
}

/** May a record start now? */
export function canStart(plan: DeadlinePlan, now: number): boolean {
  return now < plan.softAt;
}

/** Milliseconds until the hard deadline (0 when passed). */
export function msUntilHard(plan: DeadlinePlan, now: number): number {
  return Math.max(0, plan.hardAt - now);
}
