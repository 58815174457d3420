/**
 * The decisions of Lambda's asynchronous invocation, pure (no timers, no I/O), so they are unit-tested
 * on their own: when an event is too old to run, whether a failed attempt is retried and after how long,
 * and what a throttled event does. The invoker (async-invoke.ts) applies them.
 *
 * AWS: a function error is retried MaximumRetryAttempts times (0-2, default 2) after one and then two
 * minutes; an event older than MaximumEventAgeInSeconds (60-21600, default 6 h) is discarded instead of
 * run; throttled events (no concurrency free) go back to the queue and are tried again until they are too
 * old; with reserved concurrency 0 new events go to the on-failure destination / DLQ without retries.
 */

/** Why an event was settled: the `requestContext.condition` of its invocation record. */
export type AsyncCondition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';

/** EventInvokeConfig's retry settings. */
export interface AsyncRetrySettings {
  /** 0-2. */
  readonly maximumRetryAttempts: number;
  /** 60-21600. */
  readonly maximumEventAgeInSeconds: number;
}

export const DEFAULT_ASYNC_RETRY_SETTINGS: AsyncRetrySettings = { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 };
/** AWS's waits before the first and second retry. */
export const AWS_ASYNC_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

/** Whether an event queued at `enqueuedAt` is past its maximum age at `now` (ms). */
export function eventExpired(enqueuedAt: number, now: number, settings: AsyncRetrySettings): boolean {
  return now - enqueuedAt > settings.maximumEventAgeInSeconds * 1000;
}

/** Milliseconds left before the event expires (>= 0). */
export function msUntilExpiry(enqueuedAt: number, now: number, settings: AsyncRetrySettings): number {
  return Math.max(0, enqueuedAt + settings.maximumEventAgeInSeconds * 1000 - now);
}

export type BeforeAttempt =
  | { readonly kind: 'run' }
  /** The event is discarded without running. */
  | { readonly kind: 'discard'; readonly condition: Exclude<AsyncCondition, 'Success'>; readonly reason: string };

/** What to do with an event about to be attempted (attempt `attempts + 1`). */
export function beforeAttempt(input: { readonly enqueuedAt: number; readonly now: number; readonly settings: AsyncRetrySettings; readonly reservedConcurrency?: number }): BeforeAttempt {
  if (eventExpired(input.enqueuedAt, input.now, input.settings)) return { kind: 'discard', condition: 'EventAgeExceeded', reason: `older than MaximumEventAgeInSeconds (${input.settings.maximumEventAgeInSeconds})` };
  // AWS: "When you set reserved concurrency to zero for an asynchronously invoked function, Lambda begins
  // sending new events to the configured dead-letter queue or the on-failure event destination, without any retries."
  if (input.reservedConcurrency === 0) return { kind: 'discard', condition: 'RetriesExhausted', reason: 'reserved concurrency is 0 (throttled)' };
  return { kind: 'run' };
}

export type AfterAttempt =
  | { readonly kind: 'settle'; readonly condition: 'Success' | 'RetriesExhausted' }
  | { readonly kind: 'retry'; readonly delayMs: number };

/** What follows attempt number `attempts` (1-based) that succeeded (`ok`) or failed. */
export function afterAttempt(input: { readonly ok: boolean; readonly attempts: number; readonly settings: AsyncRetrySettings; readonly retryDelaysMs?: readonly number[] }): AfterAttempt {
  if (input.ok) return { kind: 'settle', condition: 'Success' };
  if (input.attempts > input.settings.maximumRetryAttempts) return { kind: 'settle', condition: 'RetriesExhausted' };
  const delays = input.retryDelaysMs ?? AWS_ASYNC_RETRY_DELAYS_MS;
  return { kind: 'retry', delayMs: delays[input.attempts - 1] ?? delays.at(-1) ?? 0 };
}

export class AsyncSettingsError extends Error {
  override readonly name = 'AsyncSettingsError';
}

/** Validates MaximumRetryAttempts and MaximumEventAgeInSeconds as Lambda does (InvalidParameterValueException). */
export function checkRetrySettings(s: Partial<AsyncRetrySettings>, where: string): void {
  const r = s.maximumRetryAttempts;
  if (r !== undefined && (!Number.isInteger(r) || r < 0 || r > 2)) throw new AsyncSettingsError(`${where}: MaximumRetryAttempts must be an integer from 0 to 2 (got ${r})`);
  const a = s.maximumEventAgeInSeconds;
  if (a !== undefined && (!Number.isInteger(a) || a < 60 || a > 21_600)) throw new AsyncSettingsError(`${where}: MaximumEventAgeInSeconds must be an integer from 60 to 21600 (got ${a})`);
}
