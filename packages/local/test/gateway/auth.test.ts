/**
 * The endpoint's SigV4 verification against real signers: requests captured from the AWS SDK v3 clients
 * (DynamoDB, SQS, S3) as they would go on the wire, and URLs from @aws-sdk/s3-request-presigner. Each
 * refusal AWS makes is checked: wrong secret, unknown key, skew past 5 minutes, expired presigned URL,
 * presigned PUT with another Content-Type or Content-Length.
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { authenticate, CredentialStore, refusalError, verifyRequest, type IncomingSignedRequest } from '../../src/gateway/auth/index.js';

const ENDPOINT = 'http://127.0.0.1:4599';
const ADMIN = { accessKeyId: 'test', secretAccessKey: 'test' };
const region = 'us-east-1';

interface Captured { method: string; path: string; query: Record<string, string | string[] | null>; headers: Record<string, string>; body?: unknown }

/** Runs one SDK command with a request handler that keeps the signed request instead of sending it. */
async function capture(make: (handler: { handle: (r: Captured) => Promise<never> }) => { send: (c: never) => Promise<unknown> }, command: unknown): Promise<IncomingSignedRequest> {
  let got: Captured | undefined;
  const handler = { handle: async (r: Captured): Promise<never> => { got = r; throw new Error('captured'); } };
  await make(handler).send(command as never).catch(() => undefined);
  if (!got) throw new Error('nothing captured');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(got.headers)) headers[k.toLowerCase()] = v;
  const body = got.body === undefined ? new Uint8Array() : typeof got.body === 'string' ? Buffer.from(got.body) : Buffer.from(got.body as Uint8Array);
  const query = Object.entries(got.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v ?? ''))}`).join('&');
  return { method: got.method, path: got.path, query, headers, body };
}

const ddb = (creds = ADMIN) => capture((h) => new DynamoDBClient({ region, endpoint: ENDPOINT, credentials: creds, requestHandler: h as never, maxAttempts: 1 }), new PutItemCommand({ TableName: 'Jobs', Item: { id: { S: 'x' } } }));
const sqs = (creds = ADMIN) => capture((h) => new SQSClient({ region, endpoint: ENDPOINT, credentials: creds, requestHandler: h as never, maxAttempts: 1 }), new SendMessageCommand({ QueueUrl: `${ENDPOINT}/000000000000/q`, MessageBody: 'hi' }));
const s3put = (creds = ADMIN) => capture((h) => new S3Client({ region, endpoint: ENDPOINT, forcePathStyle: true, credentials: creds, requestHandler: h as never, maxAttempts: 1 }), new PutObjectCommand({ Bucket: 'b', Key: 'uploads/a b+c/ü.jpg', Body: 'bytes' }));

function fromUrl(url: string, method: string, headers: Record<string, string> = {}, body = new Uint8Array()): IncomingSignedRequest {
  const u = new URL(url);
  return { method, path: u.pathname, query: u.search.slice(1), headers: { host: u.host, ...headers }, body };
}

const presigner = () => new S3Client({ region, endpoint: ENDPOINT, forcePathStyle: true, credentials: ADMIN, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });

describe('SigV4 header authentication (SDK-signed requests)', () => {
  const opts = (service: string, extra: object = {}) => ({ lookup: (k: string) => (k === 'test' ? ADMIN : undefined), region, services: [service], ...extra });

  it('accepts what the SDK signs for DynamoDB, SQS and S3 (a key with spaces, + and non-ASCII)', async () => {
    expect(await verifyRequest(await ddb(), opts('dynamodb'))).toMatchObject({ ok: true, accessKeyId: 'test', mode: 'header' });
    expect(await verifyRequest(await sqs(), opts('sqs'))).toMatchObject({ ok: true, mode: 'header' });
    expect(await verifyRequest(await s3put(), opts('s3'))).toMatchObject({ ok: true, mode: 'header' });
  });

  it('a wrong secret is SignatureDoesNotMatch; an unknown key InvalidAccessKeyId', async () => {
    const wrong = { accessKeyId: 'test', secretAccessKey: 'not-the-secret' };
    for (const [req, svc] of [[await ddb(wrong), 'dynamodb'], [await sqs(wrong), 'sqs'], [await s3put(wrong), 's3']] as const) {
      expect(await verifyRequest(req, opts(svc))).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    }
    expect(await verifyRequest(await ddb({ accessKeyId: 'AKIAOTHER', secretAccessKey: 'x' }), opts('dynamodb'))).toMatchObject({ ok: false, code: 'InvalidAccessKeyId' });
  });

  it('a changed body, path or header after signing is SignatureDoesNotMatch', async () => {
    const req = await ddb();
    expect(await verifyRequest({ ...req, body: Buffer.from('{"TableName":"Other"}') }, opts('dynamodb'))).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    const put = await s3put();
    expect(await verifyRequest({ ...put, path: '/b/uploads/other.jpg' }, opts('s3'))).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(await verifyRequest({ ...req, headers: { ...req.headers, 'x-amz-target': 'DynamoDB_20120810.DeleteItem' } }, opts('dynamodb'))).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });

  it('refuses a signature dated more than 5 minutes from the server clock, either way', async () => {
    const req = await ddb();
    const signedAt = Date.parse(req.headers['x-amz-date']!.replace(/(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/, '$1-$2-$3T$4:$5:$6Z'));
    expect(await verifyRequest(req, opts('dynamodb', { nowMs: signedAt + 4 * 60_000 }))).toMatchObject({ ok: true });
    const late = await verifyRequest(req, opts('dynamodb', { nowMs: signedAt + 6 * 60_000 }));
    expect(late).toMatchObject({ ok: false, code: 'RequestTimeTooSkewed' });
    expect(late.ok ? '' : late.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
    expect(await verifyRequest(req, opts('dynamodb', { nowMs: signedAt - 6 * 60_000 }))).toMatchObject({ ok: false, code: 'RequestTimeTooSkewed' });
  });

  it('a credential scoped to another service or region is refused', async () => {
    expect(await verifyRequest(await ddb(), opts('sqs'))).toMatchObject({ ok: false, code: 'InvalidScope' });
    expect(await verifyRequest(await ddb(), { ...opts('dynamodb'), region: 'eu-west-1' })).toMatchObject({ ok: false, code: 'InvalidScope' });
  });
});

describe('presigned query authentication (@aws-sdk/s3-request-presigner URLs)', () => {
  const opts = (extra: object = {}) => ({ lookup: (k: string) => (k === 'test' ? ADMIN : undefined), region, services: ['s3'], ...extra });

  it('a presigned GET verifies; a tampered key or signature does not', async () => {
    const url = await getSignedUrl(presigner(), new GetObjectCommand({ Bucket: 'renditions', Key: 'renditions/j1/large.jpg' }), { expiresIn: 60 });
    expect(await verifyRequest(fromUrl(url, 'GET'), opts())).toMatchObject({ ok: true, mode: 'query' });
    expect(await verifyRequest(fromUrl(url.replace('large.jpg', 'thumb.jpg'), 'GET'), opts())).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(await verifyRequest(fromUrl(url, 'PUT'), opts())).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });

  it('an expired presigned URL is "Request has expired"', async () => {
    const url = await getSignedUrl(presigner(), new GetObjectCommand({ Bucket: 'renditions', Key: 'k' }), { expiresIn: 60 });
    expect(await verifyRequest(fromUrl(url, 'GET'), opts({ nowMs: Date.now() + 61_000 }))).toEqual({ ok: false, code: 'RequestExpired', message: 'Request has expired' });
    expect(await verifyRequest(fromUrl(url, 'GET'), opts({ nowMs: Date.now() + 50_000 }))).toMatchObject({ ok: true });
  });

  it('a presigned PUT holds the signed Content-Type and Content-Length (as the job API presigns it)', async () => {
    const url = await getSignedUrl(presigner(), new PutObjectCommand({ Bucket: 'uploads', Key: 'uploads/u1', ContentType: 'image/jpeg', ContentLength: 1000 }), {
      expiresIn: 300,
      signableHeaders: new Set(['content-type', 'content-length']),
    });
    const put = (headers: Record<string, string>) => verifyRequest(fromUrl(url, 'PUT', headers), opts());
    expect(await put({ 'content-type': 'image/jpeg', 'content-length': '1000' })).toMatchObject({ ok: true });
    expect(await put({ 'content-type': 'image/jpeg', 'content-length': '25000000' })).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(await put({ 'content-type': 'text/html', 'content-length': '1000' })).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(await put({ 'content-type': 'image/jpeg' })).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });
});

describe('authenticate + the services\' errors', () => {
  it('maps credentials to principals: admin, a function\'s role session, anonymous when unsigned', async () => {
    const store = new CredentialStore(ADMIN);
    const fnCreds = store.issueForFunction({ functionName: 'stack-Worker', roleLogicalId: 'WorkerRole', roleName: 'stack-WorkerRole' });
    expect(store.issueForFunction({ functionName: 'stack-Worker', roleLogicalId: 'WorkerRole', roleName: 'stack-WorkerRole' })).toEqual(fnCreds);
    expect(fnCreds.accessKeyId).toMatch(/^ASIA[0-9A-F]{16}$/);
    expect(await authenticate(await ddb(), { store, region, service: 'dynamodb' })).toMatchObject({ ok: true, principal: { kind: 'admin' } });
    expect(await authenticate(await ddb(fnCreds), { store, region, service: 'dynamodb' })).toMatchObject({
      ok: true,
      principal: { kind: 'role', roleLogicalId: 'WorkerRole', arn: 'arn:aws:sts::000000000000:assumed-role/stack-WorkerRole/stack-Worker' },
    });
    const unsigned = fromUrl(`${ENDPOINT}/renditions/k`, 'GET');
    expect(await authenticate(unsigned, { store, region, service: 's3' })).toMatchObject({ ok: true, principal: { kind: 'anonymous' }, mode: 'none' });
    // Another store (another run) does not know this function's key.
    expect(await authenticate(await ddb(fnCreds), { store: new CredentialStore(ADMIN), region, service: 'dynamodb' })).toMatchObject({ ok: false, code: 'InvalidAccessKeyId' });
  });

  it('maps each refusal to the service\'s own AWS error (the gateway service renders it in its protocol)', () => {
    expect(refusalError('s3', { code: 'SignatureDoesNotMatch', message: 'm' })).toEqual({ status: 403, code: 'SignatureDoesNotMatch', message: 'm' });
    expect(refusalError('s3', { code: 'RequestExpired', message: 'Request has expired' })).toEqual({ status: 403, code: 'AccessDenied', message: 'Request has expired' });
    expect(refusalError('s3', { code: 'MissingAuthentication', message: '' })).toEqual({ status: 403, code: 'AccessDenied', message: 'Access Denied' });
    expect(refusalError('s3', { code: 'RequestTimeTooSkewed', message: 'x' })).toMatchObject({ status: 403, code: 'RequestTimeTooSkewed' });
    expect(refusalError('dynamodb', { code: 'InvalidAccessKeyId', message: '' })).toEqual({ status: 400, code: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
    expect(refusalError('dynamodb', { code: 'SignatureDoesNotMatch', message: 'x' })).toMatchObject({ code: 'InvalidSignatureException' });
    expect(refusalError('dynamodb', { code: 'AccessDenied', message: 'no' })).toEqual({ status: 400, code: 'AccessDeniedException', message: 'no' });
    expect(refusalError('sqs', { code: 'SignatureDoesNotMatch', message: 'x' })).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    expect(refusalError('sqs', { code: 'InvalidAccessKeyId', message: '' })).toMatchObject({ status: 403, code: 'InvalidClientTokenId' });
  });
});
