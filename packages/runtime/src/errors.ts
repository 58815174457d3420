/**
 * Every failure a handler can meet is classified as permanent (retrying cannot help: the message goes
 * to the dead-letter queue at once, with its reason) or retryable (report a batch item failure and let
 * SQS redeliver; after maxReceiveCount the redrive policy moves it to the DLQ).
 *
 * Error classes are open strings: a handler throws `new PermanentError('OrderRejected', 'customer 42 is
 * closed')` with any class of its own. The classes the runtime itself assigns are listed below.
 */
export type FailureKind = 'permanent' | 'retryable';

/** Permanent classes the runtime assigns itself. */
export type RuntimePermanentClass =
  | 'InvalidMessage' // the body failed the handler's schema, or is not JSON
  | 'PayloadMismatch' // an idempotency key reused with another payload
  | 'AccessDenied'; // the function's role does not allow the call: retrying cannot grant it

/** Retryable classes the runtime assigns itself. */
export type RuntimeRetryableClass =
  | 'Throttled'
  | 'ServiceUnavailable' // 5xx, network errors
  | 'Timeout' // I/O aborted at the deadline
  | 'InProgressElsewhere' // another invocation holds the record's claim
  | 'LockContention'
  | 'GroupBlocked' // FIFO: an earlier message of the same group failed in this batch, so this one did not start
  | 'AfterCheckpoint' // streams: an earlier record of the batch failed; Lambda retries from it, so this one did not start
  | 'Unknown'; // unclassified bugs are retried; redrive delivers them to the DLQ eventually

/**
 * A permanent class: one of the runtime's or any string of the user's. (`string & {}` keeps the
 * runtime's names in editor completion without closing the set.)
 */
export type PermanentErrorClass = RuntimePermanentClass | (string & {});
export type RetryableErrorClass = RuntimeRetryableClass | (string & {});
export type ErrorClass = PermanentErrorClass | RetryableErrorClass;

/** An error that carries its classification; the runtime never reclassifies it. */
export abstract class FloodgateError extends Error {
  abstract readonly kind: FailureKind;
  abstract readonly errorClass: ErrorClass;
}

/** Retrying cannot help: the record is dead-lettered at once with `errorClass` and the message as reason. */
export class PermanentError<C extends string = PermanentErrorClass> extends FloodgateError {
  readonly kind = 'permanent' as const;
  override readonly name: string = 'PermanentError';
  constructor(
    readonly errorClass: C,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

/** Worth another attempt: the record becomes a batch item failure and SQS redelivers it. */
export class RetryableError<C extends string = RetryableErrorClass> extends FloodgateError {
  readonly kind = 'retryable' as const;
  override readonly name: string = 'RetryableError';
  constructor(
    readonly errorClass: C,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

/** What a classified failure looks like in logs, records and DLQ attributes. */
export interface ClassifiedFailure {
  readonly kind: FailureKind;
  readonly class: ErrorClass;
  readonly reason: string;
}
