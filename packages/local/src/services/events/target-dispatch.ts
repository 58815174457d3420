/**
 * One delivery to one target, with the target's RetryPolicy and DeadLetterConfig, shared by rules and
 * Scheduler schedules. A retryable failure is retried with exponential backoff (base doubled each
 * attempt, capped at one minute; AWS uses backoff with jitter) until MaximumRetryAttempts (default 185)
 * or MaximumEventAgeInSeconds (default 86400) runs out; a permanent one (access denied, target not found,
 * invalid input) is not retried, as EventBridge does. Then the event goes to the target's dead-letter
 * queue with the message attributes AWS adds (ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION,
 * RETRY_ATTEMPTS, and RULE_ARN/TARGET_ARN or SCHEDULE_ARN/TARGET_ARN), or, without one, is counted as a
 * failed invocation and logged: never lost silently.
 */
import { deliver, DeliveryError, type Credentials, type DeliveryTarget } from './deliver.js';

export interface TargetSpec extends DeliveryTarget {
  readonly id: string;
  readonly deadLetterArn?: string;
  /** RetryPolicy.MaximumRetryAttempts. @default 185 */
  readonly maximumRetryAttempts?: number;
  /** RetryPolicy.MaximumEventAgeInSeconds. @default 86400 */
  readonly maximumEventAgeSeconds?: number;
}

export type DeliveryOutcome =
  | { readonly status: 'delivered'; readonly attempts: number }
  | { readonly status: 'dead-lettered' | 'failed'; readonly attempts: number; readonly errorCode: string; readonly errorMessage: string };

export interface DispatchStats {
  invocations: number;
  failedInvocations: number;
  deadLetterInvocations: number;
  retries: number;
}

export interface TargetDispatcher {
  /**
   * Delivers `payload` (the target's input) for an event first seen at `eventTime`; the promise settles
   * with the outcome after the last attempt. `dlqBody` is what the DLQ receives, `dlqAttributes` the
   * caller's own attributes (RULE_ARN or SCHEDULE_ARN, ...).
   */
  send(
    target: TargetSpec,
    payload: string,
    options: {
      credentials: Credentials;
      stats: DispatchStats;
      dlqBody: string;
      dlqAttributes: Record<string, string>;
      dlqCredentials?: Credentials;
      eventTime?: number;
      /** The destination's resource policy (target, then dead-letter queue): a denial message, or undefined. */
      authorize?: (arn: string) => Promise<string | undefined>;
    },
  ): Promise<DeliveryOutcome>;
  /** Resolves when nothing is being delivered or waiting for a retry. */
  idle(): Promise<void>;
  stop(): void;
}

export function newStats(): DispatchStats {
  return { invocations: 0, failedInvocations: 0, deadLetterInvocations: 0, retries: 0 };
}

export function createTargetDispatcher(options: { endpoint: () => string; region: string; retryBaseMs?: number; log: (line: string) => void }): TargetDispatcher {
  const base = options.retryBaseMs ?? 1000;
  let pending = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  let waiters: Array<() => void> = [];
  const settleIdle = (): void => {
    if (pending > 0) return;
    const w = waiters;
    waiters = [];
    for (const r of w) r();
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => (timers.delete(t), resolve()), ms);
      t.unref?.();
      timers.add(t);
    });

  return {
    async send(target, payload, o) {
      pending++;
      const started = o.eventTime ?? Date.now();
      const maxRetries = target.maximumRetryAttempts ?? 185;
      const maxAgeMs = (target.maximumEventAgeSeconds ?? 86_400) * 1000;
      let attempts = 0;
      try {
        for (;;) {
          attempts++;
          o.stats.invocations++;
          let err: DeliveryError;
          try {
            const denied = await o.authorize?.(target.arn);
            // AWS does not retry a target whose policy refuses EventBridge (a permanent error).
            if (denied !== undefined) throw new DeliveryError('AccessDenied', denied, false);
            await deliver(options.endpoint(), options.region, o.credentials, target, payload);
            return { status: 'delivered', attempts };
          } catch (e) {
            err = e instanceof DeliveryError ? e : new DeliveryError('InternalException', (e as Error).message, true);
          }
          const delay = Math.min(base * 2 ** (attempts - 1), 60_000);
          const exhausted = !err.retryable ? undefined : attempts > maxRetries ? 'MaximumRetryAttempts' : Date.now() + delay - started > maxAgeMs ? 'MaximumEventAgeInSeconds' : stopped ? 'Stopped' : undefined;
          if (err.retryable && exhausted === undefined) {
            o.stats.retries++;
            await sleep(delay);
            continue;
          }
          o.stats.failedInvocations++;
          const attrs: Record<string, string> = { ERROR_CODE: err.code, ERROR_MESSAGE: err.message, ...o.dlqAttributes, TARGET_ARN: target.arn, RETRY_ATTEMPTS: String(attempts - 1), ...(exhausted ? { EXHAUSTED_RETRY_CONDITION: exhausted } : {}) };
          if (target.deadLetterArn) {
            try {
              const dlqDenied = await o.authorize?.(target.deadLetterArn);
              if (dlqDenied !== undefined) throw new DeliveryError('AccessDenied', dlqDenied, false);
              await deliverToDlq(options.endpoint(), options.region, o.dlqCredentials ?? o.credentials, target.deadLetterArn, o.dlqBody, attrs);
              o.stats.deadLetterInvocations++;
              options.log(`events: target ${target.id} (${target.arn}) failed (${err.code}: ${err.message}); event sent to its dead-letter queue ${target.deadLetterArn}`);
              return { status: 'dead-lettered', attempts, errorCode: err.code, errorMessage: err.message };
            } catch (dlqErr) {
              options.log(`events: target ${target.id}: the dead-letter queue ${target.deadLetterArn} refused the event too (${(dlqErr as Error).message})`);
            }
          }
          options.log(`events: target ${target.id} (${target.arn}) failed after ${attempts} attempt(s): ${err.code}: ${err.message} (no dead-letter queue took it: counted as a failed invocation)`);
          return { status: 'failed', attempts, errorCode: err.code, errorMessage: err.message };
        }
      } finally {
        pending--;
        settleIdle();
      }
    },
    idle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        settleIdle();
      }),
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

function deliverToDlq(endpoint: string, region: string, credentials: Credentials, dlqArn: string, body: string, attributes: Record<string, string>): Promise<void> {
  const fifo = dlqArn.endsWith('.fifo');
  return deliver(endpoint, region, credentials, { arn: dlqArn, messageAttributes: attributes, ...(fifo ? { messageGroupId: 'dead-letter' } : {}) }, body);
}
