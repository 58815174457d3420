/**
 * The numbers a bounded queue consumer is sized by, derived in one place from the construct's props.
 *
 * Pure functions (no CDK, no I/O): BoundedQueueConsumer uses them at synth time, the local runner and the
 * docs can reuse them, and tests check them directly. Every violation throws a ConsumerSettingsError with
 * a message that says what to change.
 */

/** Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (AWS Lambda docs). */
export const LAMBDA_MB_PER_VCPU = 1769;
/** Lambda's ceiling: 6 vCPUs at 10,240 MB. */
export const LAMBDA_MAX_VCPUS = 6;
/** Event-source ScalingConfig.MaximumConcurrency bounds (AWS::Lambda::EventSourceMapping). */
export const MIN_EVENT_SOURCE_CONCURRENCY = 2;
export const MAX_EVENT_SOURCE_CONCURRENCY = 1000;
/** AWS guidance: fewer receives push throttled or capped (not failed) messages to the DLQ. */
export const MIN_MAX_RECEIVE_COUNT = 5;
/** SQS queue visibility timeout ceiling (12 hours). */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** Lambda function timeout ceiling (15 minutes). */
export const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
/** SQS event source MaximumBatchingWindowInSeconds ceiling. */
export const MAX_BATCHING_WINDOW_SECONDS = 300;
/** Standard-queue BatchSize ceiling (needs a batching window above 10). */
export const MAX_BATCH_SIZE = 10_000;
/** Default size of the I/O lane (S3, DynamoDB, SQS calls in flight per invocation). */
export const DEFAULT_IO_CONCURRENCY = 16;

/** Thrown at construction time for settings that cannot work together. */
export class ConsumerSettingsError extends Error {
  override readonly name = 'ConsumerSettingsError';
}

function fail(message: string): never {
  throw new ConsumerSettingsError(message);
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max}, got ${value}.`);
  }
}

/** How many connections the downstream can take in total, and how many one execution opens. */
export interface DownstreamBudget {
  /** Connections (or requests in flight) the downstream dependency can serve at once, across all executions. */
  readonly maxConnections: number;
  /** Connections one execution holds at most (e.g. its I/O lane size, or its database pool size). */
  readonly connectionsPerExecution: number;
}

/**
 * The event-source cap: either given, or derived from a downstream budget as
 * floor(maxConnections / connectionsPerExecution), so the fleet can never open more connections than
 * the downstream accepts. Giving both is an error (they could disagree).
 */
export function deriveMaxConcurrency(input: {
  readonly maxConcurrency?: number;
  readonly downstreamBudget?: DownstreamBudget;
}): number {
  const { maxConcurrency, downstreamBudget } = input;
  if (maxConcurrency !== undefined && downstreamBudget !== undefined) {
    fail(
      'Set either maxConcurrency or downstreamBudget, not both: maxConcurrency is derived from the budget ' +
        `(floor(${downstreamBudget.maxConnections} / ${downstreamBudget.connectionsPerExecution})).`,
    );
  }
  if (downstreamBudget !== undefined) {
    const { maxConnections, connectionsPerExecution } = downstreamBudget;
    requireInteger('downstreamBudget.maxConnections', maxConnections, 1, Number.MAX_SAFE_INTEGER);
    requireInteger('downstreamBudget.connectionsPerExecution', connectionsPerExecution, 1, Number.MAX_SAFE_INTEGER);
    const derived = Math.floor(maxConnections / connectionsPerExecution);
    if (derived < MIN_EVENT_SOURCE_CONCURRENCY) {
      fail(
        `downstreamBudget allows only ${derived} concurrent execution(s) (floor(${maxConnections} / ` +
          `${connectionsPerExecution})), but an SQS event source needs at least ${MIN_EVENT_SOURCE_CONCURRENCY}. ` +
          'Raise maxConnections or lower connectionsPerExecution (e.g. a smaller I/O lane).',
      );
    }
    return Math.min(derived, MAX_EVENT_SOURCE_CONCURRENCY);
  }
  if (maxConcurrency === undefined) {
    // No silent default: the cap is the whole point of the construct, so the user chooses it.
    fail(
      'Set maxConcurrency (how many executions may process the queue at once, 2..1000) or downstreamBudget ' +
        '(from which it is derived).',
    );
  }
  requireInteger('maxConcurrency', maxConcurrency, MIN_EVENT_SOURCE_CONCURRENCY, MAX_EVENT_SOURCE_CONCURRENCY);
  return maxConcurrency;
}

/**
 * Reserved concurrency defaults to the event-source cap. Less than the cap means Lambda throttles the
 * poller's invocations and messages bounce back to the queue (burning receives), so it is an error.
 */
export function deriveReservedConcurrency(maxConcurrency: number, reservedConcurrency?: number): number {
  if (reservedConcurrency === undefined) return maxConcurrency;
  requireInteger('reservedConcurrency', reservedConcurrency, 1, Number.MAX_SAFE_INTEGER);
  if (reservedConcurrency < maxConcurrency) {
    fail(
      `reservedConcurrency (${reservedConcurrency}) is below the event source's maxConcurrency ` +
        `(${maxConcurrency}): Lambda would throttle the SQS poller and throttled messages count as receives ` +
        `toward the DLQ. Set reservedConcurrency >= ${maxConcurrency}, or lower maxConcurrency.`,
    );
  }
  return reservedConcurrency;
}

export function validateTimeoutSeconds(timeoutSeconds: number): void {
  requireInteger('timeout (seconds)', timeoutSeconds, 1, MAX_FUNCTION_TIMEOUT_SECONDS);
}

export function validateBatching(batchSize: number, maxBatchingWindowSeconds: number): void {
  requireInteger('batchSize', batchSize, 1, MAX_BATCH_SIZE);
  requireInteger('maxBatchingWindow (seconds)', maxBatchingWindowSeconds, 0, MAX_BATCHING_WINDOW_SECONDS);
  if (batchSize > 10 && maxBatchingWindowSeconds < 1) {
    fail(`batchSize ${batchSize} is above 10, which SQS event sources only accept with maxBatchingWindow >= 1 second.`);
  }
}

export function validateMaxReceiveCount(maxReceiveCount: number): void {
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < MIN_MAX_RECEIVE_COUNT) {
    fail(
      `maxReceiveCount must be an integer >= ${MIN_MAX_RECEIVE_COUNT}, got ${maxReceiveCount}: AWS recommends at ` +
        'least 5 so that messages throttled or returned by a capped event source are not dead-lettered.',
    );
  }
}

/**
 * Queue visibility timeout: default 6 x function timeout + batching window (AWS guidance: a message in
 * a batch that waits out the window and whose invocations are retried must stay invisible). An explicit
 * smaller value is an error: the message would reappear while the first invocation still works on it.
 */
export function deriveVisibilityTimeoutSeconds(input: {
  readonly timeoutSeconds: number;
  readonly maxBatchingWindowSeconds: number;
  readonly visibilityTimeoutSeconds?: number;
}): number {
  const minimum = 6 * input.timeoutSeconds + input.maxBatchingWindowSeconds;
  if (minimum > MAX_VISIBILITY_TIMEOUT_SECONDS) {
    fail(
      `6 x timeout + maxBatchingWindow = ${minimum} s exceeds the SQS visibility timeout limit of ` +
        `${MAX_VISIBILITY_TIMEOUT_SECONDS} s. Lower the function timeout or the batching window.`,
    );
  }
  const explicit = input.visibilityTimeoutSeconds;
  if (explicit === undefined) return minimum;
  requireInteger('visibilityTimeout (seconds)', explicit, 0, MAX_VISIBILITY_TIMEOUT_SECONDS);
  if (explicit < minimum) {
    fail(
      `visibilityTimeout ${explicit} s is below 6 x timeout (${input.timeoutSeconds} s) + maxBatchingWindow ` +
        `(${input.maxBatchingWindowSeconds} s) = ${minimum} s. AWS guidance for SQS event sources: a shorter ` +
        'visibility timeout lets a message reappear (and be processed twice) while an invocation, or its ' +
        `retries after throttling, still holds it. Remove visibilityTimeout or set it to at least ${minimum} s.`,
    );
  }
  return explicit;
}

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
): DeadlineMargins {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  const softMs = explicit.softMs ?? Math.min(clamp(Math.round(timeoutMs * 0.2), 5_000, 60_000), Math.floor(timeoutMs * 0.5));
  const hardMs = explicit.hardMs ?? Math.min(clamp(Math.round(timeoutMs * 0.1), 2_000, 30_000), Math.floor(timeoutMs * 0.25));
  if (!(hardMs > 0 && hardMs < softMs && softMs < timeoutMs)) {
    fail(
      `Deadline margins must satisfy 0 < hardMargin (${hardMs} ms) < softMargin (${softMs} ms) < timeout ` +
        `(${timeoutMs} ms): the handler stops starting records at the soft margin and aborts I/O at the hard one.`,
    );
  }
  return { softMs, hardMs };
}

/**
 * Threshold for the "age of oldest message" alarm: timeout x maxReceiveCount. A healthy consumer takes a
 * message within one timeout; a message older than every retry could have taken means the queue is
 * backing up (or the consumer is stuck), well before retention drops messages.
 */
export function ageOfOldestMessageThresholdSeconds(timeoutSeconds: number, maxReceiveCount: number): number {
  return timeoutSeconds * maxReceiveCount;
}

/** Source retention must not exceed the DLQ's: a redriven message keeps its original enqueue time. */
export function validateRetention(queueRetentionSeconds: number, deadLetterRetentionSeconds: number): void {
  const min = 60;
  const max = 1_209_600;
  requireInteger('retentionPeriod (seconds)', queueRetentionSeconds, min, max);
  requireInteger('deadLetterRetentionPeriod (seconds)', deadLetterRetentionSeconds, min, max);
  if (deadLetterRetentionSeconds < queueRetentionSeconds) {
    fail(
      `deadLetterRetentionPeriod (${deadLetterRetentionSeconds} s) is shorter than retentionPeriod ` +
        `(${queueRetentionSeconds} s): SQS keeps a standard message's original enqueue time when it moves to ` +
        'the DLQ, so it could expire there before anyone looks. Make the DLQ retention at least as long.',
    );
  }
}

export interface ConsumerSettingsInput {
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly batchSize?: number;
  readonly maxBatchingWindowSeconds?: number;
  readonly maxConcurrency?: number;
  readonly downstreamBudget?: DownstreamBudget;
  readonly reservedConcurrency?: number;
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly ioConcurrency?: number;
  readonly cpuConcurrency?: number;
  readonly softMarginMs?: number;
  readonly hardMarginMs?: number;
}

/** Every derived number, consistent with each other. */
export interface ConsumerSettings {
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly maxConcurrency: number;
  readonly reservedConcurrency: number;
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
  readonly ioConcurrency: number;
  readonly cpuConcurrency: number;
  readonly margins: DeadlineMargins;
  readonly ageOfOldestMessageThresholdSeconds: number;
}

/** Derive and validate everything at once (what BoundedQueueConsumer calls). */
export function deriveConsumerSettings(input: ConsumerSettingsInput): ConsumerSettings {
  validateTimeoutSeconds(input.timeoutSeconds);
  const batchSize = input.batchSize ?? 10;
  const maxBatchingWindowSeconds = input.maxBatchingWindowSeconds ?? 0;
  validateBatching(batchSize, maxBatchingWindowSeconds);
  const maxConcurrency = deriveMaxConcurrency(input);
  const reservedConcurrency = deriveReservedConcurrency(maxConcurrency, input.reservedConcurrency);
  const maxReceiveCount = input.maxReceiveCount ?? MIN_MAX_RECEIVE_COUNT;
  validateMaxReceiveCount(maxReceiveCount);
  const visibilityTimeoutSeconds = deriveVisibilityTimeoutSeconds({
    timeoutSeconds: input.timeoutSeconds,
    maxBatchingWindowSeconds,
    visibilityTimeoutSeconds: input.visibilityTimeoutSeconds,
  });
  const ioConcurrency = input.ioConcurrency ?? DEFAULT_IO_CONCURRENCY;
  requireInteger('ioConcurrency', ioConcurrency, 1, 1024);
  const derivedCpu = cpuLaneSize(input.memorySizeMb);
  const cpuConcurrency = input.cpuConcurrency ?? derivedCpu;
  requireInteger('cpuConcurrency', cpuConcurrency, 1, 64);
  const margins = deriveDeadlineMargins(input.timeoutSeconds * 1000, {
    softMs: input.softMarginMs,
    hardMs: input.hardMarginMs,
  });
  return {
    timeoutSeconds: input.timeoutSeconds,
    memorySizeMb: input.memorySizeMb,
    batchSize,
    maxBatchingWindowSeconds,
    maxConcurrency,
    reservedConcurrency,
    maxReceiveCount,
    visibilityTimeoutSeconds,
    ioConcurrency,
    cpuConcurrency,
    margins,
    ageOfOldestMessageThresholdSeconds: ageOfOldestMessageThresholdSeconds(input.timeoutSeconds, maxReceiveCount),
  };
}
