/**
 * Lambda's asynchronous invocation, as AWS runs it: every event for a function goes into that
 * function's own internal event queue (in memory here), is answered at once (Invoke's 202), and is run
 * in the background. A failed run (handler error, timeout, crash) is retried twice by default, after a
 * one-minute and then a two-minute wait ("Lambda attempts to run it two more times, with a one-minute
 * wait between the first two attempts, and two minutes between the second and third attempts").
 *
 * Used by the Lambda API's InvocationType=Event, SNS `lambda` subscriptions and S3 Lambda notifications:
 * one invoker per function, one implementation. The interface is kept small: EventInvokeConfig
 * (MaximumRetryAttempts, MaximumEventAgeInSeconds, destinations) plugs into `AsyncInvokerOptions` later.
 */
import { randomUUID } from 'node:crypto';
import type { InvokeResult } from '../../lambda-host/index.js';

/** What the invoker runs events on (a FunctionHost). */
export interface AsyncInvokeTarget {
  invoke(event: unknown): Promise<InvokeResult>;
}

/** The outcome of one event after its last attempt. */
export interface AsyncInvocationOutcome {
  /** The request id Invoke answered with (x-amzn-RequestId). */
  readonly requestId: string;
  readonly event: unknown;
  /** Attempts made (1 + retries). */
  readonly attempts: number;
  readonly result: InvokeResult;
}

export interface AsyncInvokerOptions {
  /** For log lines. */
  readonly functionName: string;
  readonly target: AsyncInvokeTarget;
  /** Retries after the first failed attempt (EventInvokeConfig MaximumRetryAttempts, 0-2). @default 2 */
  readonly maxRetries?: number;
  /** Wait before retry n (index n-1). @default [60_000, 120_000] (AWS's) */
  readonly retryDelaysMs?: readonly number[];
  /** Events run at once; the rest wait in the queue. @default 10 */
  readonly concurrency?: number;
  /** Every event, once settled (success, or failure after its last retry). */
  readonly onOutcome?: (outcome: AsyncInvocationOutcome) => void;
  /** One line per event that failed for good (the local stand-in for an on-failure destination). */
  readonly log?: (line: string) => void;
}

export interface AsyncInvokerStats {
  readonly queued: number;
  readonly running: number;
  /** Events waiting for a retry. */
  readonly waitingRetry: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retries: number;
}

export interface AsyncInvoker {
  /** Queues an event and returns its request id at once (Invoke with InvocationType=Event answers 202). */
  enqueue(event: unknown): string;
  stats(): AsyncInvokerStats;
  /** Resolves when nothing is queued, running or waiting for a retry. */
  idle(): Promise<void>;
  /** Drops queued events and pending retries; running ones finish. */
  stop(): void;
}

export const AWS_ASYNC_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

interface Pending {
  readonly requestId: string;
  readonly event: unknown;
  attempts: number;
}

export function createAsyncInvoker(options: AsyncInvokerOptions): AsyncInvoker {
  const maxRetries = options.maxRetries ?? 2;
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 2) throw new RangeError(`maxRetries must be 0, 1 or 2 (got ${maxRetries})`);
  const delays = options.retryDelaysMs ?? AWS_ASYNC_RETRY_DELAYS_MS;
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const queue: Pending[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let running = 0;
  let stopped = false;
  const counters = { succeeded: 0, failed: 0, retries: 0 };
  let idleWaiters: Array<() => void> = [];

  const checkIdle = (): void => {
    if (queue.length === 0 && running === 0 && timers.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const resolve of w) resolve();
    }
  };

  const settle = (p: Pending, result: InvokeResult): void => {
    if (result.ok) counters.succeeded++;
    else {
      counters.failed++;
      options.log?.(`lambda ${options.functionName}: asynchronous event ${p.requestId} failed after ${p.attempts} attempt(s): ${result.error.errorType}: ${result.error.errorMessage}`);
    }
    options.onOutcome?.({ requestId: p.requestId, event: p.event, attempts: p.attempts, result });
  };

  const pump = (): void => {
    while (!stopped && running < concurrency && queue.length > 0) {
      const p = queue.shift()!;
      running++;
      p.attempts++;
      void options.target
        .invoke(p.event)
        .catch((err: unknown): InvokeResult => ({ ok: false, requestId: p.requestId, environmentId: -1, durationMs: 0, error: { kind: 'crash', errorType: 'Runtime.Unknown', errorMessage: (err as Error).message } }))
        .then((result) => {
          running--;
          if (!result.ok && p.attempts <= maxRetries && !stopped) {
            counters.retries++;
            const t = setTimeout(() => {
              timers.delete(t);
              queue.push(p);
              pump();
            }, delays[p.attempts - 1] ?? delays.at(-1) ?? 0);
            t.unref?.();
            timers.add(t);
          } else settle(p, result);
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
      queue.push({ requestId, event, attempts: 0 });
      // Answer first (202), run after: the caller never waits for the function.
      queueMicrotask(pump);
      return requestId;
    },
    stats: () => ({ queued: queue.length, running, waitingRetry: timers.size, ...counters }),
    idle: () => new Promise<void>((resolve) => {
      idleWaiters.push(resolve);
      queueMicrotask(checkIdle);
    }),
    stop() {
      stopped = true;
      queue.length = 0;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      checkIdle();
    },
  };
}
