/** Queue-side numbers: timeout, batching, receives, visibility, retention, and the age alarm. */
import { MAX_MESSAGE_RETENTION_SECONDS } from '@floodgate/contract';
import {
  MAX_BATCH_SIZE,
  MAX_BATCHING_WINDOW_SECONDS,
  MAX_FIFO_BATCH_SIZE,
  MAX_FUNCTION_TIMEOUT_SECONDS,
  MAX_VISIBILITY_TIMEOUT_SECONDS,
  MIN_MAX_RECEIVE_COUNT,
  NO_TOKENS,
  fail,
  requireInteger,
  type IsToken,
} from './limits';

export function validateTimeoutSeconds(timeoutSeconds: number, isToken: IsToken = NO_TOKENS): void {
  requireInteger('timeout (seconds)', timeoutSeconds, 1, MAX_FUNCTION_TIMEOUT_SECONDS, isToken);
}

export function validateBatching(batchSize: number, maxBatchingWindowSeconds: number, isToken: IsToken = NO_TOKENS): void {
  requireInteger('batchSize', batchSize, 1, MAX_BATCH_SIZE, isToken);
  requireInteger('maxBatchingWindow (seconds)', maxBatchingWindowSeconds, 0, MAX_BATCHING_WINDOW_SECONDS, isToken);
  if (!isToken(batchSize) && !isToken(maxBatchingWindowSeconds) && batchSize > 10 && maxBatchingWindowSeconds < 1) {
    fail(
      'BatchSizeNeedsWindow',
      `batchSize ${batchSize} is above 10, which SQS event sources only accept with maxBatchingWindow >= 1 second.`,
    );
  }
}

/** FIFO event sources: no batching window, at most 10 records per batch. */
export function validateFifoBatching(batchSize: number, maxBatchingWindowSeconds: number | undefined, isToken: IsToken = NO_TOKENS): void {
  if (maxBatchingWindowSeconds !== undefined && (isToken(maxBatchingWindowSeconds) || maxBatchingWindowSeconds > 0)) {
    fail(
      'FifoBatchingWindow',
      'maxBatchingWindow is not supported on FIFO queues (Lambda invokes as soon as a group has messages). Remove maxBatchingWindow.',
    );
  }
  requireInteger('batchSize', batchSize, 1, MAX_BATCH_SIZE, isToken);
  if (!isToken(batchSize) && batchSize > MAX_FIFO_BATCH_SIZE) {
    fail('FifoBatchSize', `batchSize ${batchSize} is above ${MAX_FIFO_BATCH_SIZE}, the most a FIFO event source accepts. Set batchSize <= 10.`);
  }
}

export function validateMaxReceiveCount(maxReceiveCount: number, isToken: IsToken = NO_TOKENS): void {
  if (isToken(maxReceiveCount)) return;
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < MIN_MAX_RECEIVE_COUNT) {
    fail(
      'MaxReceiveCountTooLow',
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
  readonly isToken?: IsToken;
}): number {
  const isToken = input.isToken ?? NO_TOKENS;
  const explicit = input.visibilityTimeoutSeconds;
  if (isToken(input.timeoutSeconds) || isToken(input.maxBatchingWindowSeconds)) {
    if (explicit === undefined) {
      fail(
        'VisibilityTimeoutRequired',
        'timeout or maxBatchingWindow is a token, so the visibility timeout (6 x timeout + maxBatchingWindow) ' +
          'cannot be computed at synth. Set visibilityTimeout explicitly (at least that much).',
      );
    }
    requireInteger('visibilityTimeout (seconds)', explicit, 0, MAX_VISIBILITY_TIMEOUT_SECONDS, isToken);
    return explicit;
  }
  const minimum = 6 * input.timeoutSeconds + input.maxBatchingWindowSeconds;
  if (minimum > MAX_VISIBILITY_TIMEOUT_SECONDS) {
    fail(
      'VisibilityTimeoutAboveLimit',
      `6 x timeout + maxBatchingWindow = ${minimum} s exceeds the SQS visibility timeout limit of ` +
        `${MAX_VISIBILITY_TIMEOUT_SECONDS} s. Lower the function timeout or the batching window.`,
    );
  }
  if (explicit === undefined) return minimum;
  requireInteger('visibilityTimeout (seconds)', explicit, 0, MAX_VISIBILITY_TIMEOUT_SECONDS, isToken);
  if (!isToken(explicit) && explicit < minimum) {
    fail(
      'VisibilityTimeoutTooShort',
      `visibilityTimeout ${explicit} s is below 6 x timeout (${input.timeoutSeconds} s) + maxBatchingWindow ` +
        `(${input.maxBatchingWindowSeconds} s) = ${minimum} s. AWS guidance for SQS event sources: a shorter ` +
        'visibility timeout lets a message reappear (and be processed twice) while an invocation, or its ' +
        `retries after throttling, still holds it. Remove visibilityTimeout or set it to at least ${minimum} s.`,
    );
  }
  return explicit;
}

/**
 * Threshold for the "age of oldest message" alarm: timeout x maxReceiveCount. A healthy consumer takes a
 * message within one timeout; a message older than every retry could have taken means the queue is
 * backing up (or the consumer is stuck), well before retention drops messages.
 */
export function ageOfOldestMessageThresholdSeconds(timeoutSeconds: number, maxReceiveCount: number, isToken: IsToken = NO_TOKENS): number {
  if (isToken(timeoutSeconds) || isToken(maxReceiveCount)) {
    fail(
      'AlarmThresholdRequired',
      'timeout or maxReceiveCount is a token, so the age-of-oldest-message threshold (timeout x maxReceiveCount) ' +
        'cannot be computed at synth. Set ageOfOldestMessageAlarmThreshold explicitly.',
    );
  }
  return timeoutSeconds * maxReceiveCount;
}

/**
 * Source retention must not exceed the DLQ's: a redriven standard message keeps its original enqueue time.
 * (FIFO queues reset it when the message moves, so `fifo` skips the comparison.)
 */
export function validateRetention(
  queueRetentionSeconds: number,
  deadLetterRetentionSeconds: number | undefined,
  options: { readonly fifo?: boolean; readonly isToken?: IsToken } = {},
): void {
  const isToken = options.isToken ?? NO_TOKENS;
  const min = 60;
  const max = MAX_MESSAGE_RETENTION_SECONDS;
  requireInteger('retentionPeriod (seconds)', queueRetentionSeconds, min, max, isToken);
  if (deadLetterRetentionSeconds === undefined) return;
  requireInteger('deadLetterRetentionPeriod (seconds)', deadLetterRetentionSeconds, min, max, isToken);
  if (options.fifo || isToken(queueRetentionSeconds) || isToken(deadLetterRetentionSeconds)) return;
  if (deadLetterRetentionSeconds < queueRetentionSeconds) {
    fail(
      'DeadLetterRetentionTooShort',
      `deadLetterRetentionPeriod (${deadLetterRetentionSeconds} s) is shorter than retentionPeriod ` +
        `(${queueRetentionSeconds} s): SQS keeps a standard message's original enqueue time when it moves to ` +
        'the DLQ, so it could expire there before anyone looks. Make the DLQ retention at least as long.',
    );
  }
}
