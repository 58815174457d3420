/**
 * Error classification: every failure becomes permanent (DLQ now, with a reason) or retryable (batch
 * item failure, SQS redelivers). Pure; AWS SDK v3 errors are recognised by their shape (name,
 * $metadata.httpStatusCode, $retryable, Node network codes), so no SDK import is needed here.
 */
import { FloodgateError, PermanentError, RetryableError, type ClassifiedFailure } from './errors.js';

/**
 * Names AWS services give a call the caller's identity is not allowed to make (IAM, resource policies,
 * KMS key policies, SCPs). DynamoDB, SQS (JSON) and most JSON services say AccessDeniedException; S3 and
 * SQS (query) AccessDenied; EC2 UnauthorizedOperation; SNS AuthorizationError; a bodyless S3 HEAD 403 Forbidden.
 */
const ACCESS_DENIED_NAMES = new Set([
  'AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedAccess', 'AuthorizationError',
  'AuthorizationErrorException', 'KMSAccessDeniedException', 'AccessDeniedFault',
]);

const THROTTLING_NAMES = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'RequestThrottledException', 'TooManyRequestsException',
  'ProvisionedThroughputExceededException', 'RequestThrottled', 'SlowDown', 'RequestLimitExceeded',
  'BandwidthLimitExceeded', 'LimitExceededException', 'RequestLimitExceededException', 'TransactionInProgressException',
  'EC2ThrottledException', 'PriorRequestNotComplete',
]);
const TRANSIENT_NAMES = new Set([
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'InternalFailure', 'InternalServerError',
  'ServiceUnavailable', 'ServiceUnavailableException', 'KMSInternalException', 'InternalServerException',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_HTTP2_STREAM_ERROR',
]);

interface SdkLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  cause?: unknown;
}

function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Maps an AWS "not authorized" error to the permanent class AccessDenied, or undefined. Retrying cannot
 * grant a permission: the recovery is a redrive after the grant is fixed. The reason keeps AWS's own words
 * (who was not authorized to perform which action on which resource).
 */
export function classifyAccessDenied(err: unknown): PermanentError | undefined {
  if (typeof err !== 'object' || err === null || err instanceof FloodgateError) return undefined;
  const e = err as SdkLike;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = e.$metadata?.httpStatusCode;
  if (ACCESS_DENIED_NAMES.has(name) || ACCESS_DENIED_NAMES.has(code) || (status === 403 && (name === 'Forbidden' || name === '403'))) {
    return new PermanentError('AccessDenied', `${name || code}: ${reasonOf(err)}`, { cause: err });
  }
  if (e.cause !== undefined && e.cause !== err) return classifyAccessDenied(e.cause);
  return undefined;
}

/** Maps an AWS SDK / network / abort error to a RetryableError, or undefined if it is not one of those. */
export function classifyAwsError(err: unknown): RetryableError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as SdkLike;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = e.$metadata?.httpStatusCode;
  const reason = `${name || code || 'Error'}: ${reasonOf(err)}`;
  if (name === 'AbortError' || code === 'ABORT_ERR') return new RetryableError('Timeout', `aborted at the deadline (${reason})`, { cause: err });
  if (THROTTLING_NAMES.has(name) || status === 429 || e.$retryable?.throttling === true) {
    return new RetryableError('Throttled', reason, { cause: err });
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || status === 408 || status === 504) {
    return new RetryableError('Timeout', reason, { cause: err });
  }
  if (TRANSIENT_NAMES.has(name) || (status !== undefined && status >= 500) || NETWORK_CODES.has(code) || e.$retryable !== undefined) {
    return new RetryableError('ServiceUnavailable', reason, { cause: err });
  }
  if (e.cause !== undefined && e.cause !== err) return classifyAwsError(e.cause);
  return undefined;
}

/**
 * The one classification rule of the runtime: Floodgate errors keep their class; AWS AccessDenied is
 * permanent (class AccessDenied); throttling/5xx/network/abort errors are retryable; anything else is an
 * unclassified bug, retried (the redrive policy ends it in the DLQ).
 */
export function classify(err: unknown): ClassifiedFailure {
  if (err instanceof FloodgateError) return { kind: err.kind, class: err.errorClass, reason: err.message };
  const denied = classifyAccessDenied(err);
  if (denied) return { kind: 'permanent', class: denied.errorClass, reason: denied.message };
  const aws = classifyAwsError(err);
  if (aws) return { kind: 'retryable', class: aws.errorClass, reason: aws.message };
  return { kind: 'retryable', class: 'Unknown', reason: reasonOf(err) };
}
