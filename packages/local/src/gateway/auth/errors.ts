/**
 * Each service's own error for a refused request, in its own protocol, as the AWS SDKs parse them:
 * S3 REST-XML, DynamoDB JSON 1.0 (`__type` + `message`), SQS JSON (`__type` + `x-amzn-query-error`) or
 * query XML. One table per service maps the local refusal to AWS's code, status and message.
 */
import { randomUUID } from 'node:crypto';
import type { AuthFailureCode } from './sigv4.js';

export type GatewayService = 's3' | 'sqs' | 'dynamodb';

/** A refusal: an authentication failure, or AccessDenied from the IAM evaluation (message in AWS's form). */
export type Refusal = { readonly code: AuthFailureCode | 'AccessDenied'; readonly message: string };

export interface ErrorReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

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

const TABLES: Record<GatewayService, Record<Refusal['code'], ServiceError>> = { s3: S3, dynamodb: DYNAMODB, sqs: SQS };

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The service's error reply. `sqsProtocol` says how the SQS request came (the SDK v3 speaks JSON; the CLI v1 query). */
export function errorReply(service: GatewayService, refusal: Refusal, sqsProtocol: 'json' | 'query' = 'json'): ErrorReply {
  const e = TABLES[service][refusal.code];
  const message = e.message ?? refusal.message;
  const requestId = randomUUID();
  if (service === 's3') {
    return {
      status: e.status,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${requestId}</RequestId></Error>`,
    };
  }
  if (service === 'dynamodb') {
    return {
      status: e.status,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId },
      body: JSON.stringify({ __type: `com.amazon.coral.service#${e.code}`, message }),
    };
  }
  if (sqsProtocol === 'json') {
    return {
      status: e.status,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId, 'x-amzn-query-error': `${e.code};Sender` },
      body: JSON.stringify({ __type: `com.amazon.coral.service#${e.code}`, message }),
    };
  }
  return {
    status: e.status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>${e.code}</Code><Message>${xmlEscape(message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}
