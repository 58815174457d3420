/**
 * The local API front: routes, events and door checks read from the JobApi template, SigV4 verified
 * with real signers (the SDK's SignatureV4 and curl --aws-sigv4), throttling to 429. The handler runs
 * in-process here (injected invoker); test/api/front-bundled.test.ts runs the bundled asset.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { Template } from 'aws-cdk-lib/assertions';
import { App, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '@floodgate/local';
import { matchRoute, readApiDefinition, startApiFront, TokenBucket, verifySigV4, type ApiFront, type RouteInvoker } from '@floodgate/local';
import { JobApi } from '../../lib/job-api';
import { localEndpoints } from '../support/local-env';
import { apiFor, createApiResources, type ApiResources } from './support';

const run = promisify(execFile);

const templates = new Map<string, CfnTemplate>();
function jobApiTemplate(rate: number, burst: number): CfnTemplate {
  const cached = templates.get(`${rate}/${burst}`);
  if (cached) return cached;
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'S');
  const t = (id: string, k: string) => new dynamodb.TableV2(stack, id, { partitionKey: { name: k, type: dynamodb.AttributeType.STRING } });
  new JobApi(stack, 'Api', {
    jobsTable: t('Jobs', 'jobId'),
    idempotencyTable: t('Idem', 'id'),
    uploadsBucket: new s3.Bucket(stack, 'U'),
    renditionsBucket: new s3.Bucket(stack, 'R'),
    queue: new sqs.Queue(stack, 'Q'),
    throttlingRateLimit: rate,
    throttlingBurstLimit: burst,
  });
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  templates.set(`${rate}/${burst}`, template);
  return template;
}

async function signedFetch(url: string, init: { method: string; body?: string; headers?: Record<string, string> }, secret = 'test') {
  const u = new URL(url);
  const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: secret }, region: 'us-east-1', service: 'execute-api', sha256: Sha256 });
  const query: Record<string, string> = {};
  u.searchParams.forEach((v, k) => (query[k] = v));
  const signed = await signer.sign({
    method: init.method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, query,
    headers: { host: u.host, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const headers = { ...signed.headers };
  delete headers.host;
  return fetch(url, { method: init.method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
}

let r: ApiResources;
let front: ApiFront;
const seen: APIGatewayProxyEventV2[] = [];

beforeAll(async () => {
  r = await createApiResources();
  const handler = apiFor(r);
  const invoke: RouteInvoker = async (_fn, event) => {
    seen.push(event);
    return { ok: true, value: await handler(event) };
  };
  front = await startApiFront({ template: jobApiTemplate(1000, 1000), assemblyDir: '/nonexistent', resolve: (v) => v, endpoints: localEndpoints(), invoke });
});
afterAll(async () => {
  await front?.stop();
});

describe('template reading and routing', () => {
  it('reads the routes, their IAM authorization and the stage throttle from the JobApi template', () => {
    const api = readApiDefinition(jobApiTemplate(12, 34));
    expect(api.throttle).toEqual({ rateLimit: 12, burstLimit: 34 });
    expect(api.routes.map((x) => `${x.routeKey}|${x.authorizationType}|${x.payloadFormatVersion}`).sort()).toEqual([
      'GET /jobs/{jobId}|AWS_IAM|2.0', 'POST /jobs|AWS_IAM|2.0', 'POST /uploads|AWS_IAM|2.0',
    ]);
    expect(new Set(api.routes.map((x) => x.functionLogicalId)).size).toBe(1);
  });

  it('matches exact routes before parameterized ones and extracts path parameters', () => {
    const routes = readApiDefinition(jobApiTemplate(1, 1)).routes;
    expect(matchRoute(routes, 'POST', '/jobs')?.route.routeKey).toBe('POST /jobs');
    expect(matchRoute(routes, 'GET', '/jobs/abc_1')).toMatchObject({ route: { routeKey: 'GET /jobs/{jobId}' }, pathParameters: { jobId: 'abc_1' } });
    expect(matchRoute(routes, 'GET', '/jobs')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/jobs/a/b')).toBeUndefined();
  });

  it('token bucket: burst, then the rate', () => {
    const b = new TokenBucket({ rateLimit: 2, burstLimit: 3 }, 0);
    expect([b.tryTake(0), b.tryTake(0), b.tryTake(0), b.tryTake(0)]).toEqual([true, true, true, false]);
    expect(b.tryTake(499)).toBe(false);
    expect(b.tryTake(500)).toBe(true);
    expect(b.tryTake(10_000)).toBe(true); // refills up to the burst only
    expect([b.tryTake(10_000), b.tryTake(10_000), b.tryTake(10_000)]).toEqual([true, true, false]);
  });
});

describe('signatures (403 like API Gateway)', () => {
  it('unsigned -> 403 without invoking the function', async () => {
    const before = seen.length;
    const res = await fetch(`${front.url}/jobs`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'Missing Authentication Token' });
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(seen.length).toBe(before);
  });

  it('wrong secret -> 403', async () => {
    const res = await signedFetch(`${front.url}/jobs/abc`, { method: 'GET' }, 'not-the-secret');
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toMatch(/signature we calculated does not match/);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
  });

  it('tampered body -> 403', async () => {
    const u = new URL(`${front.url}/jobs`);
    const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service: 'execute-api', sha256: Sha256 });
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/jobs', query: {}, headers: { host: u.host, 'idempotency-key': 'k1' }, body: '{"sourceKey":"uploads/a.jpg"}' });
    const headers = { ...signed.headers };
    delete headers.host;
    const res = await fetch(u, { method: 'POST', headers, body: '{"sourceKey":"uploads/b.jpg"}' });
    expect(res.status).toBe(403);
  });

  it('signed -> the handler gets a payload 2.0 event with lower-cased headers and the IAM authorizer', async () => {
    const res = await signedFetch(`${front.url}/jobs?x=1`, { method: 'POST', body: '{"sourceKey":"uploads/front.jpg"}', headers: { 'Idempotency-Key': 'front-1' } });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; status: string };
    expect(body.status).toBe('queued');
    const ev = seen.at(-1) as APIGatewayProxyEventV2 & { requestContext: { authorizer: { iam: { accessKey: string } } } };
    expect(ev).toMatchObject({ version: '2.0', routeKey: 'POST /jobs', rawPath: '/jobs', rawQueryString: 'x=1', queryStringParameters: { x: '1' }, isBase64Encoded: false, body: '{"sourceKey":"uploads/front.jpg"}' });
    expect(ev.headers['idempotency-key']).toBe('front-1');
    expect(ev.requestContext.http.method).toBe('POST');
    expect(ev.requestContext.authorizer.iam.accessKey).toBe('test');
    const got = await signedFetch(`${front.url}/jobs/${body.jobId}`, { method: 'GET' });
    expect(got.status).toBe(200);
    expect((seen.at(-1) as APIGatewayProxyEventV2).pathParameters).toEqual({ jobId: body.jobId });
  });

  it('works with curl --aws-sigv4 (a real client): signed -> 202, replay -> same bytes, wrong user -> 403', async () => {
    const args = (user: string) => ['-s', '-o', '-', '-w', '\n%{http_code}', '--aws-sigv4', 'aws:amz:us-east-1:execute-api', '--user', user, '-H', 'content-type: application/json', '-H', 'Idempotency-Key: curl-1', '-d', '{"sourceKey":"uploads/curl.jpg"}', `${front.url}/jobs`];
    const first = (await run('curl', args('test:test'))).stdout;
    const replay = (await run('curl', args('test:test'))).stdout;
    expect(first.endsWith('\n202')).toBe(true);
    expect(replay).toBe(first);
    const wrong = (await run('curl', args('test:wrong'))).stdout;
    expect(wrong.endsWith('\n403')).toBe(true);
  });

  it('unknown route -> 404 (after the signature check would have passed)', async () => {
    const res = await signedFetch(`${front.url}/nothing`, { method: 'GET' });
    expect(res.status).toBe(404);
  });
});

describe('throttling (429 like the stage)', () => {
  it('refuses beyond the burst, without invoking the function', async () => {
    const calls: string[] = [];
    let clock = 1_000_000;
    const t = jobApiTemplate(1, 3);
    const small = await startApiFront({
      template: t, assemblyDir: '/nonexistent', resolve: (v) => v, endpoints: localEndpoints(), now: () => clock,
      invoke: async (_f, e) => { calls.push(e.routeKey); return { ok: true, value: { statusCode: 200, body: 'ok' } }; },
    });
    try {
      // Unsigned requests still count against the stage's bucket here (they are refused with 403).
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(`${small.url}/jobs/x`)).status);
      expect(statuses).toEqual([403, 403, 403, 429, 429]);
      clock += 1000; // one token back
      expect((await fetch(`${small.url}/jobs/x`)).status).toBe(403);
      expect((await fetch(`${small.url}/jobs/x`)).status).toBe(429);
      expect(small.stats()).toMatchObject({ throttled: 3, forbidden: 4, invoked: 0 });
      expect(calls).toEqual([]);
    } finally {
      await small.stop();
    }
  });

  it('maps function failures like API Gateway: error -> 500, timeout -> 503', async () => {
    let kind = 'handler';
    const failing = await startApiFront({
      template: jobApiTemplate(100, 100), assemblyDir: '/nonexistent', resolve: (v) => v, endpoints: localEndpoints(),
      invoke: async () => ({ ok: false, error: { kind } }),
    });
    try {
      expect((await signedFetch(`${failing.url}/jobs/x`, { method: 'GET' })).status).toBe(500);
      kind = 'timeout';
      expect((await signedFetch(`${failing.url}/jobs/x`, { method: 'GET' })).status).toBe(503);
    } finally {
      await failing.stop();
    }
  });
});

describe('verifySigV4 (pure)', () => {
  const base = { method: 'GET', path: '/jobs/a', query: '', body: new Uint8Array() };
  const expected = { credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service: 'execute-api' };
  async function sign(opts: { region?: string; key?: string; date?: Date } = {}) {
    const signer = new SignatureV4({ credentials: { accessKeyId: opts.key ?? 'test', secretAccessKey: 'test' }, region: opts.region ?? 'us-east-1', service: 'execute-api', sha256: Sha256 });
    const s = await signer.sign({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 1234, path: '/jobs/a', query: {}, headers: { host: '127.0.0.1:1234' } }, { signingDate: opts.date ?? new Date() });
    return Object.fromEntries(Object.entries(s.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  }

  it('accepts a good signature and names the access key', async () => {
    expect(await verifySigV4({ ...base, headers: await sign() }, expected)).toEqual({ ok: true, accessKeyId: 'test' });
  });
  it('refuses another access key, region, a stale date, and a changed path or query', async () => {
    expect(await verifySigV4({ ...base, headers: await sign({ key: 'other' }) }, expected)).toMatchObject({ ok: false, errorType: 'AccessDeniedException' });
    expect(await verifySigV4({ ...base, headers: await sign({ region: 'eu-west-1' }) }, expected)).toMatchObject({ ok: false, errorType: 'IncompleteSignatureException' });
    expect(await verifySigV4({ ...base, headers: await sign({ date: new Date(Date.now() - 20 * 60_000) }) }, expected)).toMatchObject({ ok: false, errorType: 'InvalidSignatureException' });
    // API Gateway's limit is 5 minutes either way (this front allowed 15 before issue 15).
    expect(await verifySigV4({ ...base, headers: await sign({ date: new Date(Date.now() - 6 * 60_000) }) }, expected)).toMatchObject({ ok: false, errorType: 'InvalidSignatureException', message: expect.stringMatching(/^Signature expired/) });
    expect(await verifySigV4({ ...base, headers: await sign({ date: new Date(Date.now() + 6 * 60_000) }) }, expected)).toMatchObject({ ok: false, errorType: 'InvalidSignatureException' });
    expect(await verifySigV4({ ...base, headers: await sign({ date: new Date(Date.now() - 4 * 60_000) }) }, expected)).toMatchObject({ ok: true });
    const h = await sign();
    expect(await verifySigV4({ ...base, path: '/jobs/b', headers: h }, expected)).toMatchObject({ ok: false, errorType: 'InvalidSignatureException' });
    expect(await verifySigV4({ ...base, query: 'x=1', headers: h }, expected)).toMatchObject({ ok: false, errorType: 'InvalidSignatureException' });
    expect(await verifySigV4({ ...base, headers: { ...h, authorization: 'Bearer abc' } }, expected)).toMatchObject({ ok: false, errorType: 'IncompleteSignatureException' });
  });
});
