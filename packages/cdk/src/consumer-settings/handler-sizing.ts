/** Handler-side numbers: the CPU lane and the deadline margins (the function's environment). */
import { LAMBDA_MAX_VCPUS, LAMBDA_MB_PER_VCPU, NO_TOKENS, fail, requireInteger, type IsToken } from './limits';

/** CPU lane: one slot per vCPU Lambda gives this memory size, at least 1, at most 6. */
export function cpuLaneSize(memorySizeMb: number): number {
  requireInteger('memorySize (MB)', memorySizeMb, 128, 10_240);
  return Math.max(1, Math.min(LAMBDA_MAX_VCPUS, Math.floor(memorySizeMb / LAMBDA_MB_PER_VCPU)));
}

export interface DeadlineMargins {
  /** Stop starting new records when less than this remains of the invocation. */
  readonly softMs: number;
  /** Abort in-flight I/O when less than this remains, to report failures before Lambda kills us. */
  readonly hardMs: number;
}

/**
 * Default deadline margins from the function timeout:
 * soft = 20 % of the timeout, at least 5 s and at most 60 s; hard = 10 %, at least 2 s and at most 30 s.
 * On short timeouts both are capped (soft <= 50 %, hard <= 25 % of the timeout) so some time is left to
 * work. Explicit margins must satisfy 0 < hard < soft < timeout.
 */
export function deriveDeadlineMargins(
  timeoutMs: number,
  explicit: { readonly softMs?: number; readonly hardMs?: number } = {},
  isToken: IsToken = NO_TOKENS,
): DeadlineMargins {
  if (isToken(timeoutMs) && (explicit.softMs === undefined || explicit.hardMs === undefined)) {
    fail(
      'DeadlineMarginsRequired',
      'timeout is a token, so the deadline margins (20 % / 10 % of it) cannot be computed at synth. Set ' +
        'softDeadlineMargin and hardDeadlineMargin explicitly.',
    );
  }
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  const softMs = explicit.softMs ?? Math.min(clamp(Math.round(timeoutMs * 0.2), 5_000, 60_000), Math.floor(timeoutMs * 0.5));
  const hardMs = explicit.hardMs ?? Math.min(clamp(Math.round(timeoutMs * 0.1), 2_000, 30_000), Math.floor(timeoutMs * 0.25));
  const known = (...v: number[]) => v.every((x) => !isToken(x));
  const bad =
    (known(hardMs) && !(hardMs > 0)) ||
    (known(hardMs, softMs) && !(hardMs < softMs)) ||
    (known(softMs, timeoutMs) && !(softMs < timeoutMs));
  if (bad) {
    fail(
      'DeadlineMarginsOutOfOrder',
      `Deadline margins must satisfy 0 < hardMargin (${hardMs} ms) < softMargin (${softMs} ms) < timeout ` +
        `(${timeoutMs} ms): the handler stops starting records at the soft margin and aborts I/O at the hard one.`,
    );
  }
  return { softMs, hardMs };
}
