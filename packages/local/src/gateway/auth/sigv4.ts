/**
 * AWS Signature Version 4 verification, the one implementation used by the local endpoint (SQS, S3,
 * DynamoDB) and the local API front: the Authorization header form and presigned query authentication
 * (X-Amz-Algorithm / X-Amz-Credential / X-Amz-Date / X-Amz-Expires / X-Amz-SignedHeaders /
 * X-Amz-Signature). The signature is recomputed from the request as received, over exactly the headers
 * the client signed, with @smithy/signature-v4's canonicalisation and key derivation, and compared in
 * constant time. Pure (the clock is a parameter), so every refusal is unit-tested.
 *
 * What AWS checks and we check the same way:
 *  - the access key must be known (else InvalidAccessKeyId / UnrecognizedClientException),
 *  - a header signature dated more than 5 minutes from the server clock is refused (RequestTimeTooSkewed),
 *  - a presigned URL is valid from X-Amz-Date for X-Amz-Expires seconds (max 7 days; then "Request has
 *    expired"),
 *  - the signature covers method, path, query, signed headers and payload hash; any difference (wrong
 *    secret, another Content-Type or Content-Length than the presigned one) is SignatureDoesNotMatch.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { getCanonicalHeaders, getCanonicalQuery, getSigningKey } from '@smithy/signature-v4';

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
  /**
   * The body, or undefined when it is streamed on unread (an S3 upload signed with a declared
   * x-amz-content-sha256 or presigned): the signature then covers the declared hash.
   */
  readonly body?: Uint8Array;
}

/** Why a request was refused; the service adapters turn each into the service's own error (errors.ts). */
export type AuthFailureCode =
  /** No Authorization header and no X-Amz-Signature: an anonymous request (allowed only where a resource policy says so). */
  | 'MissingAuthentication'
  | 'IncompleteSignature'
  | 'InvalidAccessKeyId'
  | 'SignatureDoesNotMatch'
  | 'RequestTimeTooSkewed'
  | 'RequestExpired'
  | 'InvalidScope';

export type AuthResult =
  | { readonly ok: true; readonly accessKeyId: string; readonly mode: 'header' | 'query'; readonly signedHeaders: readonly string[] }
  | { readonly ok: false; readonly code: AuthFailureCode; readonly message: string };

export interface VerifyOptions {
  /** Secret for an access key id; undefined = unknown key. */
  readonly lookup: (accessKeyId: string) => Credentials | undefined;
  /** Region the credential scope must name. */
  readonly region: string;
  /** Signing service the scope must name (s3, sqs, dynamodb, execute-api); any of these. */
  readonly services: readonly string[];
  /** Server clock. @default Date.now() */
  readonly nowMs?: number;
  /** Largest accepted distance between X-Amz-Date and the server clock. @default 300000 (AWS: 5 minutes) */
  readonly maxSkewMs?: number;
}

export const MAX_SKEW_MS = 5 * 60 * 1000;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;\-_.]+),\s*Signature=([0-9a-f]{64})$/;
const CREDENTIAL_RE = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/;

export function parseAmzDate(v: string | undefined): Date | null {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(v ?? '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Decoded query parameters (repeated names become arrays), as @smithy/signature-v4 expects them. */
export function parseQuery(raw: string): Record<string, string | string[]> {
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

/** The query parameter of a presigned request, case-insensitively (clients differ in case). */
function queryParam(query: Record<string, string | string[]>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(query)) if (k.toLowerCase() === lower) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

/** Whether a request carries any SigV4 authentication (header or query). */
export function isSigned(req: Pick<IncomingSignedRequest, 'headers' | 'query'>): boolean {
  return req.headers.authorization !== undefined || /(^|&)x-amz-signature=/i.test(req.query) || /(^|&)x-amz-credential=/i.test(req.query);
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The canonical URI: S3 signs the path as sent; every other service normalises it and encodes it again
 * (the SDK signs with `uriEscapePath: false` for S3 only), exactly as @smithy/signature-v4 does.
 */
function canonicalPath(path: string, service: string): string {
  if (service === 's3') return path;
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

interface SignatureInput {
  readonly req: IncomingSignedRequest;
  /** The query as signed (for query auth: without X-Amz-Signature, which getCanonicalQuery drops itself). */
  readonly query: Record<string, string | string[]>;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
  readonly credentials: Credentials;
  readonly amzDate: string;
  readonly scope: { readonly date: string; readonly region: string; readonly service: string };
}

async function computeSignature(input: SignatureInput): Promise<string> {
  const { req, scope } = input;
  const headers: Record<string, string> = {};
  for (const h of input.signedHeaders) headers[h] = req.headers[h] ?? '';
  const request = { method: req.method, protocol: 'http:', hostname: (req.headers.host ?? '').replace(/:\d+$/, ''), path: req.path, query: input.query, headers };
  const canonicalHeaders = getCanonicalHeaders(request, new Set(), new Set(input.signedHeaders));
  const names = Object.keys(canonicalHeaders).sort();
  const canonicalRequest = [
    req.method,
    canonicalPath(req.path, scope.service),
    getCanonicalQuery(request),
    names.map((n) => `${n}:${canonicalHeaders[n]}`).join('\n') + '\n',
    names.join(';'),
    input.payloadHash,
  ].join('\n');
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, credentialScope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const key = await getSigningKey(Sha256, input.credentials, scope.date, scope.region, scope.service);
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

const fail = (code: AuthFailureCode, message: string): AuthResult => ({ ok: false, code, message });

const SIGNATURE_MISMATCH = 'The request signature we calculated does not match the signature you provided. Check your key and signing method.';

function checkScope(scope: { region: string; service: string; date: string }, options: VerifyOptions): AuthResult | undefined {
  if (scope.region !== options.region) return fail('InvalidScope', `Credential should be scoped to a valid region. The region '${scope.region}' is wrong; expecting '${options.region}'`);
  if (!options.services.includes(scope.service)) return fail('InvalidScope', `Credential should be scoped to correct service: '${options.services.join("' or '")}'.`);
  return undefined;
}

/** Verifies SigV4 in either form. An unsigned request is `MissingAuthentication` (the caller decides whether anonymous is allowed). */
export async function verifyRequest(req: IncomingSignedRequest, options: VerifyOptions): Promise<AuthResult> {
  const nowMs = options.nowMs ?? Date.now();
  const maxSkew = options.maxSkewMs ?? MAX_SKEW_MS;
  const auth = req.headers.authorization;
  if (auth !== undefined) return verifyHeader(req, auth, options, nowMs, maxSkew);
  const query = parseQuery(req.query);
  if (queryParam(query, 'X-Amz-Signature') !== undefined || queryParam(query, 'X-Amz-Credential') !== undefined) return verifyQuery(req, query, options, nowMs);
  return fail('MissingAuthentication', 'Request is missing Authentication Token');
}

async function verifyHeader(req: IncomingSignedRequest, auth: string, options: VerifyOptions, nowMs: number, maxSkew: number): Promise<AuthResult> {
  const m = AUTH_RE.exec(auth.trim());
  if (!m) return fail('IncompleteSignature', 'Authorization header requires a valid AWS4-HMAC-SHA256 Credential, SignedHeaders and Signature.');
  const [, accessKeyId, date, region, service, signedHeaderList, signature] = m as unknown as [string, string, string, string, string, string, string];
  const credentials = options.lookup(accessKeyId);
  if (credentials === undefined) return fail('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  const scopeFailure = checkScope({ region, service, date }, options);
  if (scopeFailure) return scopeFailure;
  const amzDate = req.headers['x-amz-date'];
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === null || amzDate === undefined) return fail('IncompleteSignature', 'Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.');
  if (amzDate.slice(0, 8) !== date) return fail('SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}'`);
  if (Math.abs(nowMs - signedAt.getTime()) > maxSkew) {
    const now = formatAmzDate(new Date(nowMs));
    const bound = formatAmzDate(new Date(nowMs + (signedAt.getTime() < nowMs ? -maxSkew : maxSkew)));
    const rel = signedAt.getTime() < nowMs ? `earlier than ${bound} (${now} - ${maxSkew / 60000} min.)` : `later than ${bound} (${now} + ${maxSkew / 60000} min.)`;
    return fail('RequestTimeTooSkewed', `Signature expired: ${amzDate} is now ${rel}`);
  }
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return fail('SignatureDoesNotMatch', "'Host' must be a signed header.");
  if (!signedHeaders.includes('x-amz-date')) return fail('SignatureDoesNotMatch', "'X-Amz-Date' must be a signed header.");
  for (const h of signedHeaders) if (req.headers[h] === undefined) return fail('SignatureDoesNotMatch', `Signed header '${h}' is missing from the request.`);
  // The payload hash: what the client declared (it is one of the signed headers when present), else the hash of the bytes received.
  const declared = req.headers['x-amz-content-sha256'];
  if (declared === undefined && req.body === undefined) return fail('IncompleteSignature', 'x-amz-content-sha256 is required when the body is streamed.');
  const actual = req.body !== undefined ? createHash('sha256').update(req.body).digest('hex') : undefined;
  if (actual !== undefined && declared !== undefined && declared !== 'UNSIGNED-PAYLOAD' && !declared.startsWith('STREAMING-') && declared !== actual) {
    return fail('SignatureDoesNotMatch', 'The provided \'x-amz-content-sha256\' header does not match what was computed.');
  }
  const payloadHash = (declared ?? actual)!;
  const expected = await computeSignature({ req, query: parseQuery(req.query), signedHeaders, payloadHash, credentials, amzDate, scope: { date, region, service } });
  if (!sameHex(expected, signature)) return fail('SignatureDoesNotMatch', SIGNATURE_MISMATCH);
  return { ok: true, accessKeyId, mode: 'header', signedHeaders };
}

async function verifyQuery(req: IncomingSignedRequest, query: Record<string, string | string[]>, options: VerifyOptions, nowMs: number): Promise<AuthResult> {
  const algorithm = queryParam(query, 'X-Amz-Algorithm');
  const credential = queryParam(query, 'X-Amz-Credential');
  const amzDate = queryParam(query, 'X-Amz-Date');
  const expires = queryParam(query, 'X-Amz-Expires');
  const signedHeaderList = queryParam(query, 'X-Amz-SignedHeaders');
  const signature = queryParam(query, 'X-Amz-Signature');
  if (algorithm !== 'AWS4-HMAC-SHA256' || credential === undefined || amzDate === undefined || signedHeaderList === undefined || signature === undefined) {
    return fail('IncompleteSignature', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  const cm = CREDENTIAL_RE.exec(credential);
  if (!cm) return fail('IncompleteSignature', `Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  const [, accessKeyId, date, region, service] = cm as unknown as [string, string, string, string, string];
  const credentials = options.lookup(accessKeyId);
  if (credentials === undefined) return fail('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  const scopeFailure = checkScope({ region, service, date }, options);
  if (scopeFailure) return scopeFailure;
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === null) return fail('IncompleteSignature', "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  const seconds = expires === undefined ? NaN : Number(expires);
  if (!Number.isInteger(seconds) || seconds < 1) return fail('IncompleteSignature', 'X-Amz-Expires must be a positive integer.');
  if (seconds > MAX_PRESIGN_SECONDS) return fail('IncompleteSignature', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
  if (signedAt.getTime() - nowMs > (options.maxSkewMs ?? MAX_SKEW_MS)) return fail('RequestExpired', 'Request is not valid yet');
  if (nowMs > signedAt.getTime() + seconds * 1000) return fail('RequestExpired', 'Request has expired');
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return fail('SignatureDoesNotMatch', "'Host' must be a signed header.");
  // A signed header absent from the request (e.g. the signed Content-Length of a presigned PUT) is a
  // mismatch, as on AWS: the signature then covers a value this request does not carry.
  for (const h of signedHeaders) if (req.headers[h] === undefined) return fail('SignatureDoesNotMatch', `There were headers present in the request which were not signed: '${h}' is signed but absent.`);
  // S3 presigned URLs sign UNSIGNED-PAYLOAD (or what X-Amz-Content-Sha256 says); other services the empty body.
  const payloadHash = queryParam(query, 'X-Amz-Content-Sha256') ?? (service === 's3' ? 'UNSIGNED-PAYLOAD' : createHash('sha256').update(req.body ?? new Uint8Array()).digest('hex'));
  const expected = await computeSignature({ req, query, signedHeaders, payloadHash, credentials, amzDate, scope: { date, region, service } });
  if (!sameHex(expected, signature)) return fail('SignatureDoesNotMatch', SIGNATURE_MISMATCH);
  return { ok: true, accessKeyId, mode: 'query', signedHeaders };
}
