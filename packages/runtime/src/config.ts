/**
 * The runtime's configuration, read once per execution environment from the environment the
 * BoundedQueueConsumer construct sets (CONSUMER_ENV). Pure: pass any env object in tests.
 */
import { availableParallelism } from 'node:os';
import { CONSUMER_ENV } from './env.js';
import { validateRetryBackoff, type RetryBackoff } from './retry-backoff.js';

export interface RuntimeConfig {
  /** I/O lane size: S3/DynamoDB/SQS calls in flight at once per invocation. */
  readonly ioConcurrency: number;
  /** CPU lane size: image pipelines in flight at once per invocation. */
  readonly cpuConcurrency: number;
  /** Stop starting records when fewer than this many ms remain. */
  readonly softMarginMs: number;
  /** Abort in-flight work when fewer than this many ms remain. */
  readonly hardMarginMs: number;
  readonly deadLetterQueueUrl: string | undefined;
  readonly maxReceiveCount: number | undefined;
  /** Connections one execution may open (the construct's downstreamBudget), undefined without a budget. */
  readonly connectionsPerExecution: number | undefined;
  /** The construct's retryBackoff bounds (the default of the handler's `retryBackoff` option). */
  readonly retryBackoff: RetryBackoff | undefined;
  /** The source queue's URL, retention and visibility timeout (set by the construct with retryBackoff). */
  readonly queueUrl: string | undefined;
  readonly queueRetentionSeconds: number | undefined;
  readonly visibilityTimeoutSeconds: number | undefined;
}

export const DEFAULT_IO_CONCURRENCY = 16;
export const DEFAULT_SOFT_MARGIN_MS = 10_000;
export const DEFAULT_HARD_MARGIN_MS = 3_000;

function readInt(env: Record<string, string | undefined>, name: string, fallback: number | undefined, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    // A misconfigured lane must fail the cold start loudly, not silently run unbounded.
    throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function readRuntimeConfig(env: Record<string, string | undefined> = process.env): RuntimeConfig {
  const softMarginMs = readInt(env, CONSUMER_ENV.softMarginMs, DEFAULT_SOFT_MARGIN_MS, 0)!;
  const hardMarginMs = readInt(env, CONSUMER_ENV.hardMarginMs, Math.min(DEFAULT_HARD_MARGIN_MS, softMarginMs), 0)!;
  if (hardMarginMs > softMarginMs) {
    throw new Error(`${CONSUMER_ENV.hardMarginMs} (${hardMarginMs}) must not exceed ${CONSUMER_ENV.softMarginMs} (${softMarginMs})`);
  }
  return {
    ioConcurrency: readInt(env, CONSUMER_ENV.ioConcurrency, DEFAULT_IO_CONCURRENCY, 1)!,
    cpuConcurrency: readInt(env, CONSUMER_ENV.cpuConcurrency, availableParallelism(), 1)!,
    softMarginMs,
    hardMarginMs,
    deadLetterQueueUrl: env[CONSUMER_ENV.deadLetterQueueUrl] || undefined,
    maxReceiveCount: readInt(env, CONSUMER_ENV.maxReceiveCount, undefined, 1),
    connectionsPerExecution: readInt(env, CONSUMER_ENV.connectionsPerExecution, undefined, 1),
    retryBackoff: readRetryBackoff(env),
    queueUrl: env[CONSUMER_ENV.queueUrl] || undefined,
    queueRetentionSeconds: readInt(env, CONSUMER_ENV.queueRetentionSeconds, undefined, 60),
    visibilityTimeoutSeconds: readInt(env, CONSUMER_ENV.visibilityTimeoutSeconds, undefined, 0),
  };
}

/** Both bounds or neither: half a backoff is a misconfiguration, refused at cold start. */
function readRetryBackoff(env: Record<string, string | undefined>): RetryBackoff | undefined {
  const baseSeconds = readInt(env, CONSUMER_ENV.retryBackoffBaseSeconds, undefined, 1);
  const maxSeconds = readInt(env, CONSUMER_ENV.retryBackoffMaxSeconds, undefined, 1);
  if (baseSeconds === undefined && maxSeconds === undefined) return undefined;
  if (baseSeconds === undefined || maxSeconds === undefined) {
    throw new Error(`${CONSUMER_ENV.retryBackoffBaseSeconds} and ${CONSUMER_ENV.retryBackoffMaxSeconds} must be set together`);
  }
  const backoff = { baseSeconds, maxSeconds };
  validateRetryBackoff(backoff);
  return backoff;
}
