/**
 * Verifies AWS Signature Version 4 (Authorization header form) the way API Gateway's IAM authorization
 * does for our purposes: the signature is recomputed with @smithy/signature-v4 from the request as
 * received, over exactly the headers the client signed, and compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface IncomingSignedRequest {
  readonly method: string;
  /** Path as sent (percent-encoded), without the query. */
  readonly path: string;
  /** Raw query string, without `?`. */
  readonly query: string;
  /** Header names lower-cased; repeated headers joined with `,`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export type VerifyResult =
  | { readonly ok: true; readonly accessKeyId: string }
  | { readonly ok: false; readonly status: 403; readonly message: string; readonly errorType: SigV4ErrorType };

/** API Gateway's `x-amzn-errortype` for each kind of refusal. */
export type SigV4ErrorType = 'MissingAuthenticationTokenException' | 'AccessDeniedException' | 'InvalidSignatureException' | 'IncompleteSignatureException';

/** API Gateway rejects signatures whose date is more than 5 minutes off (we allow 15, as S3 does). */
const MAX_SKEW_MS = 15 * 60 * 1000;

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;\-_.]+),\s*Signature=([0-9a-f]{64})$/;

function parseAmzDate(v: string | undefined): Date | null {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(v ?? '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

function parseQuery(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (raw === '') return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const i = part.indexOf('=');
    const k = decodeURIComponent((i < 0 ? part : part.slice(0, i)).replace(/\+/g, '%20'));
    const v = i < 0 ? '' : decodeURIComponent(part.slice(i + 1).replace(/\+/g, '%20'));
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export async function verifySigV4(
  req: IncomingSignedRequest,
  expected: { credentials: Credentials; region: string; service: string },
  nowMs: number = Date.now(),
): Promise<VerifyResult> {
  const auth = req.headers.authorization;
  if (auth === undefined) return { ok: false, status: 403, message: 'Missing Authentication Token', errorType: 'MissingAuthenticationTokenException' };
  const m = AUTH_RE.exec(auth.trim());
  if (!m) return { ok: false, status: 403, message: 'Authorization header requires a valid AWS4-HMAC-SHA256 Credential, SignedHeaders and Signature.' , errorType: 'IncompleteSignatureException' };
  const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (accessKeyId !== expected.credentials.accessKeyId) return { ok: false, status: 403, message: 'The security token included in the request is invalid.', errorType: 'AccessDeniedException' };
  if (region !== expected.region || service !== expected.service) {
    return { ok: false, status: 403, message: `Credential should be scoped to a valid region and service: expected ${expected.region}/${expected.service}, got ${region}/${service}.` , errorType: 'IncompleteSignatureException' };
  }
  const amzDate = req.headers['x-amz-date'];
  const date = parseAmzDate(amzDate);
  if (date === null) return { ok: false, status: 403, message: 'Missing or malformed X-Amz-Date header.' , errorType: 'IncompleteSignatureException' };
  if (amzDate?.slice(0, 8) !== scopeDate) return { ok: false, status: 403, message: 'Credential date does not match X-Amz-Date.' , errorType: 'IncompleteSignatureException' };
  if (Math.abs(nowMs - date.getTime()) > MAX_SKEW_MS) return { ok: false, status: 403, message: 'Signature expired or not yet valid (X-Amz-Date is too far from the current time).', errorType: 'InvalidSignatureException' };
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return { ok: false, status: 403, message: 'The host header must be signed.' , errorType: 'IncompleteSignatureException' };
  if (!signedHeaders.includes('x-amz-date')) return { ok: false, status: 403, message: 'The x-amz-date header must be signed.' , errorType: 'IncompleteSignatureException' };

  const headers: Record<string, string> = {};
  for (const h of signedHeaders) {
    const v = req.headers[h];
    if (v === undefined) return { ok: false, status: 403, message: `Signed header ${h} is missing from the request.` , errorType: 'IncompleteSignatureException' };
    headers[h] = v;
  }
  const hostHeader = headers.host ?? '';
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: hostHeader.replace(/:\d+$/, ''),
    path: req.path,
    query: parseQuery(req.query),
    headers,
    body: req.body,
  };
  // The payload hash: what the client declared (if it signed it), else the hash of the bytes received.
  if (headers['x-amz-content-sha256'] === undefined) {
    // smithy hashes `body` itself; nothing to do.
  } else if (headers['x-amz-content-sha256'] !== 'UNSIGNED-PAYLOAD' && headers['x-amz-content-sha256'] !== createHash('sha256').update(req.body).digest('hex')) {
    return { ok: false, status: 403, message: 'The provided x-amz-content-sha256 header does not match what was computed.', errorType: 'InvalidSignatureException' };
  }
  const signer = new SignatureV4({ credentials: expected.credentials, region, service, sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const signed = await signer.sign(request, { signingDate: date, signableHeaders: new Set(signedHeaders) });
  const recomputed = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? signed.headers.Authorization ?? ''))?.[1] ?? '';
  const a = Buffer.from(recomputed, 'hex');
  const b = Buffer.from(signature, 'hex');
  if (a.length !== 32 || !timingSafeEqual(a, b)) {
    return { ok: false, status: 403, message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.', errorType: 'InvalidSignatureException' };
  }
  const recomputedSignedHeaders = /SignedHeaders=([^,]+)/.exec(String(signed.headers.authorization ?? ''))?.[1];
  if (recomputedSignedHeaders !== signedHeaderList) {
    return { ok: false, status: 403, message: `Signed headers mismatch (${recomputedSignedHeaders ?? '?'} vs ${signedHeaderList}).`, errorType: 'InvalidSignatureException' };
  }
  return { ok: true, accessKeyId };
}
