/**
 * Every failure a handler can meet is classified as permanent (retrying cannot help: the message goes
 * to the dead-letter queue at once, with its reason) or retryable (report a batch item failure and let
 * SQS redeliver; after maxReceiveCount the redrive policy moves it to the DLQ).
 */
export type FailureKind = 'permanent' | 'retryable';

/** Permanent error classes: the `class` in job records, API errors and DLQ attributes. */
export type PermanentErrorClass =
  | 'InvalidMessage' // not JSON, wrong shape, unknown version
  | 'InvalidKey' // traversal, outside the uploads prefix
  | 'SourceNotFound' // the upload does not exist
  | 'UnsupportedFormat' // SVG, PDF, HEIC, text...: detected from magic bytes
  | 'CorruptImage' // truncated or undecodable
  | 'TooLarge' // bytes, pixels (decompression bombs), channels, frames
  | 'ImageTimeout' // one image took longer than its per-image budget
  | 'PayloadMismatch'; // idempotency key reused with another payload

/** Retryable error classes. */
export type RetryableErrorClass =
  | 'Throttled'
  | 'ServiceUnavailable' // 5xx, network errors
  | 'Timeout' // I/O aborted at the deadline
  | 'InProgressElsewhere' // another invocation holds the job's claim
  | 'LockContention'
  | 'Unknown'; // unclassified bugs are retried; redrive delivers them to the DLQ eventually

export type ErrorClass = PermanentErrorClass | RetryableErrorClass;

export abstract class FloodgateError extends Error {
  abstract readonly kind: FailureKind;
  abstract readonly errorClass: ErrorClass;
}

export class PermanentError extends FloodgateError {
  readonly kind = 'permanent' as const;
  override readonly name = 'PermanentError';
  constructor(
    readonly errorClass: PermanentErrorClass,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class RetryableError extends FloodgateError {
  readonly kind = 'retryable' as const;
  override readonly name = 'RetryableError';
  constructor(
    readonly errorClass: RetryableErrorClass,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a classified failure looks like in job records, API responses and DLQ attributes. */
export interface ClassifiedFailure {
  readonly kind: FailureKind;
  readonly class: ErrorClass;
  readonly reason: string;
}
