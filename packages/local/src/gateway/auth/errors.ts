/**
 * Each service's own error for a refused request: one table per service maps the local refusal to
 * AWS's code, status and message (S3 `SignatureDoesNotMatch` 403, DynamoDB `InvalidSignatureException`
 * / `UnrecognizedClientException` 400, SQS `SignatureDoesNotMatch` / `InvalidClientTokenId` 403, ...).
 * The gateway's services write it in their protocol (services/protocol-errors.ts).
 */
import type { GatewayError } from '../types.js';
import type { AuthFailureCode } from './sigv4.js';

export type GatewayServiceName = 's3' | 'sqs' | 'sns' | 'dynamodb' | 'logs';

/** A refusal: an authentication failure, or AccessDenied from the IAM evaluation (message in AWS's form). */
export type Refusal = { readonly code: AuthFailureCode | 'AccessDenied'; readonly message: string };

interface ServiceError {
  readonly code: string;
  readonly status: number;
  /** AWS's fixed message for the code, when it does not pass ours on. */
  readonly message?: string;
}

const S3: Record<Refusal['code'], ServiceError> = {
  MissingAuthentication: { code: 'AccessDenied', status: 403, message: 'Access Denied' },
  AccessDenied: { code: 'AccessDenied', status: 403 },
  IncompleteSignature: { code: 'AuthorizationQueryParametersError', status: 400 },
  InvalidAccessKeyId: { code: 'InvalidAccessKeyId', status: 403 },
  SignatureDoesNotMatch: { code: 'SignatureDoesNotMatch', status: 403 },
  RequestTimeTooSkewed: { code: 'RequestTimeTooSkewed', status: 403, message: 'The difference between the request time and the current time is too large.' },
  RequestExpired: { code: 'AccessDenied', status: 403 },
  InvalidScope: { code: 'AuthorizationHeaderMalformed', status: 400 },
};

const DYNAMODB: Record<Refusal['code'], ServiceError> = {
  MissingAuthentication: { code: 'MissingAuthenticationTokenException', status: 400, message: 'Request is missing Authentication Token' },
  AccessDenied: { code: 'AccessDeniedException', status: 400 },
  IncompleteSignature: { code: 'IncompleteSignatureException', status: 400 },
  InvalidAccessKeyId: { code: 'UnrecognizedClientException', status: 400, message: 'The security token included in the request is invalid.' },
  SignatureDoesNotMatch: { code: 'InvalidSignatureException', status: 400 },
  RequestTimeTooSkewed: { code: 'InvalidSignatureException', status: 400 },
  RequestExpired: { code: 'InvalidSignatureException', status: 400 },
  InvalidScope: { code: 'InvalidSignatureException', status: 400 },
};

const SQS: Record<Refusal['code'], ServiceError> = {
  MissingAuthentication: { code: 'MissingAuthenticationToken', status: 403, message: 'Request is missing Authentication Token' },
  AccessDenied: { code: 'AccessDenied', status: 403 },
  IncompleteSignature: { code: 'IncompleteSignature', status: 403 },
  InvalidAccessKeyId: { code: 'InvalidClientTokenId', status: 403, message: 'The security token included in the request is invalid.' },
  SignatureDoesNotMatch: { code: 'SignatureDoesNotMatch', status: 403 },
  RequestTimeTooSkewed: { code: 'SignatureDoesNotMatch', status: 403 },
  RequestExpired: { code: 'SignatureDoesNotMatch', status: 403 },
  InvalidScope: { code: 'SignatureDoesNotMatch', status: 403 },
};

/** SNS answers like SQS, except that a denial is `AuthorizationError`. */
const SNS: Record<Refusal['code'], ServiceError> = { ...SQS, AccessDenied: { code: 'AuthorizationError', status: 403 } };

// CloudWatch Logs speaks the same awsJson errors as DynamoDB (AccessDeniedException 400, ...).
const TABLES: Record<GatewayServiceName, Record<Refusal['code'], ServiceError>> = { s3: S3, dynamodb: DYNAMODB, sqs: SQS, sns: SNS, logs: DYNAMODB };

/** The service's own error (code, status, message) for a refusal; the gateway service renders it in its protocol. */
export function refusalError(service: string, refusal: Refusal): GatewayError {
  const table = TABLES[service as GatewayServiceName] ?? SQS;
  const e = table[refusal.code];
  return { status: e.status, code: e.code, message: e.message ?? refusal.message };
}
