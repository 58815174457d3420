/**
 * Lambda's asynchronous invocation, as AWS runs it: every event for a function goes into that
 * function's own internal event queue (in memory here), is answered at once (Invoke's 202), and is run
 * in the background. A failed run (handler error, timeout, crash) is retried MaximumRetryAttempts times
 * (default 2), after a one-minute and then a two-minute wait; an event older than
 * MaximumEventAgeInSeconds (default 6 h) is discarded instead of run. The decisions are pure
 * (async-invoke-policy.ts); EventInvokeConfig changes apply to the next decision (`settings`).
 *
 * Throttling: the function's reserved concurrency (function-concurrency.ts) is shared with its SQS
 * mappings and synchronous Invoke. A throttled event is not failed: it waits in the queue and runs as
 * soon as a slot frees, or is discarded (EventAgeExceeded) when it gets too old. AWS retries throttled
 * events with a backoff from 1 s to 5 min; locally the retry happens when a slot frees, which keeps the
 * order and the outcome and wastes no time. With reserved concurrency 0, new events fail at once.
 *
 * Every settled event (success or discard) goes to `onOutcome`: destinations and the dead-letter queue
 * (async-destinations.ts). Used by the Lambda API's InvocationType=Event, SNS `lambda` subscriptions,
 * S3 Lambda notifications and EventBridge targets: one invoker per function, one implementation.
 */
import { randomUUID } from 'node:crypto';
import type { InvokeResult } from '../../lambda-host/index.js';
import { afterAttempt, AWS_ASYNC_RETRY_DELAYS_MS, beforeAttempt, DEFAULT_ASYNC_RETRY_SETTINGS, msUntilExpiry, type AsyncCondition, type AsyncRetrySettings } from './async-invoke-policy.js';
import type { FunctionConcurrency } from './function-concurrency.js';

export { AWS_ASYNC_RETRY_DELAYS_MS };
export type { AsyncCondition, AsyncRetrySettings };

/** What the invoker runs events on (a FunctionHost). */
export interface AsyncInvokeTarget {
  invoke(event: unknown, options?: { readonly requestId?: string }): Promise<InvokeResult>;
}

/** The outcome of one event after its last attempt (or its discard). */
export interface AsyncInvocationOutcome {
  /** The request id Invoke answered with (x-amzn-RequestId); every attempt runs with it. */
  readonly requestId: string;
  readonly event: unknown;
  /** Attempts made (0 when the event was discarded before running). */
  readonly attempts: number;
  readonly condition: AsyncCondition;
  /** The last attempt's result (also when it was then discarded for its age); absent when the event never ran. */
  readonly result?: InvokeResult;
  /** Why it was discarded without a (further) attempt: too old, or reserved concurrency 0. */
  readonly reason?: string;
  /** When the event was queued (ms, the invoker's clock). */
  readonly enqueuedAt: number;
  /** True when the function had no concurrency free at some point (429). */
  readonly throttled: boolean;
}

/** What the outcome handler reports back (AWS's DestinationDeliveryFailures / DeadLetterErrors metrics). */
export interface OutcomeDelivery {
  readonly destinationDeliveryFailures?: number;
  readonly deadLetterErrors?: number;
}

export interface AsyncInvokerOptions {
  /** For log lines. */
  readonly functionName: string;
  readonly target: AsyncInvokeTarget;
  /** Retries after the first failed attempt, fixed (tests). Without it, `settings().maximumRetryAttempts`. */
  readonly maxRetries?: number;
  /** The current EventInvokeConfig retry settings (read at every decision). @default 2 retries, 6 h */
  readonly settings?: () => AsyncRetrySettings;
  /** Wait before retry n (index n-1). @default [60_000, 120_000] (AWS's) */
  readonly retryDelaysMs?: readonly number[];
  /** Events handled at once (running or waiting for a concurrency slot); the rest wait in the queue. @default 10 */
  readonly concurrency?: number;
  /** The function's reserved concurrency, shared with its other invokers. @default unlimited */
  readonly functionConcurrency?: FunctionConcurrency;
  /** Clock for event ages (tests). @default Date.now */
  readonly now?: () => number;
  /**
   * Every event, once settled. A returned promise (destination delivery) is waited for by `idle()`; an
   * OutcomeDelivery it resolves to (or returns) is added to the stats. Anything else returned is ignored.
   */
  readonly onOutcome?: (outcome: AsyncInvocationOutcome) => unknown;
  /** One line per event that failed for good. */
  readonly log?: (line: string) => void;
}

export interface AsyncInvokerStats {
  readonly queued: number;
  readonly running: number;
  /** Events waiting for a retry. */
  readonly waitingRetry: number;
  readonly succeeded: number;
  /** Events that failed all attempts, or were discarded (too old, reserved concurrency 0). */
  readonly failed: number;
  readonly retries: number;
  /** Events that found no concurrency free and waited (AWS: throttles, 429). */
  readonly throttles: number;
  /** Events discarded for their age (EventAgeExceeded). */
  readonly expired: number;
  readonly destinationDeliveryFailures: number;
  readonly deadLetterErrors: number;
}

export interface AsyncInvoker {
  /** Queues an event and returns its request id at once (Invoke with InvocationType=Event answers 202). */
  enqueue(event: unknown): string;
  stats(): AsyncInvokerStats;
  /** Resolves when nothing is queued, running, waiting for a retry or being delivered to a destination. */
  idle(): Promise<void>;
  /** Drops queued events and pending retries; running ones finish. */
  stop(): void;
  /** Drops queued events and pending retries and goes on taking new ones (the reset); returns how many. */
  clear(): number;
}

interface Pending {
  readonly requestId: string;
  readonly event: unknown;
  readonly enqueuedAt: number;
  attempts: number;
  throttled: boolean;
  /** The last attempt's result (what a discard after a failed attempt reports). */
  last?: InvokeResult;
}

export function createAsyncInvoker(options: AsyncInvokerOptions): AsyncInvoker {
  if (options.maxRetries !== undefined && (!Number.isInteger(options.maxRetries) || options.maxRetries < 0 || options.maxRetries > 2)) {
    throw new RangeError(`maxRetries must be 0, 1 or 2 (got ${options.maxRetries})`);
  }
  const settingsNow = (): AsyncRetrySettings => {
    const s = options.settings?.() ?? DEFAULT_ASYNC_RETRY_SETTINGS;
    return options.maxRetries !== undefined ? { ...s, maximumRetryAttempts: options.maxRetries } : s;
  };
  const now = options.now ?? Date.now;
  const delays = options.retryDelaysMs ?? AWS_ASYNC_RETRY_DELAYS_MS;
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const slots = options.functionConcurrency;
  const queue: Pending[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const delivering = new Set<Promise<unknown>>();
  const stopSignal = new AbortController();
  let running = 0;
  let stopped = false;
  const counters = { succeeded: 0, failed: 0, retries: 0, throttles: 0, expired: 0, destinationDeliveryFailures: 0, deadLetterErrors: 0 };
  let idleWaiters: Array<() => void> = [];

  const checkIdle = (): void => {
    if (queue.length === 0 && running === 0 && timers.size === 0 && delivering.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const resolve of w) resolve();
    }
  };

  const settle = (p: Pending, condition: AsyncCondition, result?: InvokeResult, reason?: string): void => {
    if (condition === 'Success') counters.succeeded++;
    else {
      counters.failed++;
      if (condition === 'EventAgeExceeded') counters.expired++;
      const why = result && !result.ok ? `${result.error.errorType}: ${result.error.errorMessage}` : (reason ?? condition);
      options.log?.(`lambda ${options.functionName}: asynchronous event ${p.requestId} failed after ${p.attempts} attempt(s): ${why} (${condition})`);
    }
    if (!options.onOutcome) return;
    const outcome: AsyncInvocationOutcome = { requestId: p.requestId, event: p.event, attempts: p.attempts, condition, ...(result ? { result } : {}), ...(reason ? { reason } : {}), enqueuedAt: p.enqueuedAt, throttled: p.throttled };
    const count = (v: unknown): void => {
      if (typeof v !== 'object' || v === null) return;
      const d = v as OutcomeDelivery;
      counters.destinationDeliveryFailures += d.destinationDeliveryFailures ?? 0;
      counters.deadLetterErrors += d.deadLetterErrors ?? 0;
    };
    try {
      const r = options.onOutcome(outcome);
      if (r && typeof (r as Promise<unknown>).then === 'function') {
        const d = (r as Promise<unknown>).then(count, (err: unknown) => {
          counters.destinationDeliveryFailures++;
          options.log?.(`lambda ${options.functionName}: outcome of ${p.requestId} not delivered: ${(err as Error).message}`);
        });
        delivering.add(d);
        void d.finally(() => {
          delivering.delete(d);
          checkIdle();
        });
      } else count(r);
    } catch (err) {
      options.log?.(`lambda ${options.functionName}: outcome of ${p.requestId} not delivered: ${(err as Error).message}`);
    }
  };

  /** Holds one of the function's slots for the attempt; false when the event expired (or stop) first. */
  const takeSlot = async (p: Pending): Promise<boolean> => {
    if (!slots) return true;
    if (slots.tryAcquire()) return true;
    counters.throttles++;
    p.throttled = true;
    const wait = new AbortController();
    const t = setTimeout(() => wait.abort(), msUntilExpiry(p.enqueuedAt, now(), settingsNow()) + 1);
    const onStop = (): void => wait.abort();
    stopSignal.signal.addEventListener('abort', onStop, { once: true });
    try {
      return await slots.acquire(wait.signal);
    } finally {
      clearTimeout(t);
      stopSignal.signal.removeEventListener('abort', onStop);
    }
  };

  const runOne = async (p: Pending): Promise<void> => {
    const before = beforeAttempt({ enqueuedAt: p.enqueuedAt, now: now(), settings: settingsNow(), ...(slots?.reserved !== undefined ? { reservedConcurrency: slots.reserved } : {}) });
    if (before.kind === 'discard') return settle(p, before.condition, p.last, before.reason);
    if (!(await takeSlot(p))) {
      if (stopped) return;
      // Woken by its expiry: re-decide (the slot may have been given meanwhile by a raised limit).
      return settle(p, 'EventAgeExceeded', p.last, `throttled until older than MaximumEventAgeInSeconds (${settingsNow().maximumEventAgeInSeconds})`);
    }
    p.attempts++;
    let result: InvokeResult;
    try {
      result = await options.target.invoke(p.event, { requestId: p.requestId }).catch(
        (err: unknown): InvokeResult => ({ ok: false, requestId: p.requestId, environmentId: -1, durationMs: 0, error: { kind: 'crash', errorType: 'Runtime.Unknown', errorMessage: (err as Error).message } }),
      );
    } finally {
      slots?.release();
    }
    p.last = result;
    const next = afterAttempt({ ok: result.ok, attempts: p.attempts, settings: settingsNow(), retryDelaysMs: delays });
    if (next.kind === 'settle' || stopped) return settle(p, next.kind === 'settle' ? next.condition : 'RetriesExhausted', result);
    counters.retries++;
    const t = setTimeout(() => {
      timers.delete(t);
      queue.push(p);
      pump();
    }, next.delayMs);
    t.unref?.();
    timers.add(t);
  };

  const pump = (): void => {
    while (!stopped && running < concurrency && queue.length > 0) {
      const p = queue.shift()!;
      running++;
      void runOne(p).finally(() => {
        running--;
        pump();
        checkIdle();
      });
    }
    checkIdle();
  };

  return {
    enqueue(event) {
      const requestId = randomUUID();
      if (stopped) return requestId;
      queue.push({ requestId, event, enqueuedAt: now(), attempts: 0, throttled: false });
      // Answer first (202), run after: the caller never waits for the function.
      queueMicrotask(pump);
      return requestId;
    },
    stats: () => ({ queued: queue.length, running, waitingRetry: timers.size, ...counters }),
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        queueMicrotask(checkIdle);
      }),
    clear() {
      const dropped = queue.length + timers.size;
      queue.length = 0;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      checkIdle();
      return dropped;
    },
    stop() {
      stopped = true;
      stopSignal.abort();
      queue.length = 0;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      checkIdle();
    },
  };
}
