/** The job API against the emulators (DynamoDB Local, fauxqs SQS + S3): every status code and the crash cases. */
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../lambda/job-api/app';
import { dynamoIdempotencyStore, sqsJobQueue } from '../../lambda/job-api/aws-adapters';
import type { IdempotencyPersistence, JobQueue } from '../../lambda/job-api/ports';
import { RetryableError } from '@floodgate/runtime';
import { parseJobMessage } from '../../lambda/shared/job-message';
import { localClients } from '../support/local-env';
import { apiFor, createApiResources, drainQueue, event, type ApiResources } from './support';

let r: ApiResources;
beforeAll(async () => {
  r = await createApiResources();
});

const job = (key: string, body: unknown) => event(ROUTES.createJob, { body, headers: { 'idempotency-key': key } });
const uniqueKey = () => `k-${Math.random().toString(36).slice(2)}`;

describe('POST /uploads', () => {
  it('returns a presigned PUT under uploads/ that binds content type and length, and it works', async () => {
    const api = apiFor(r);
    const res = await api(event(ROUTES.createUpload, { body: { contentType: 'image/png', contentLength: 4 } }));
    expect(res.statusCode).toBe(201);
    const body = JSON.parse(res.body) as { sourceKey: string; uploadUrl: string; expiresAt: string };
    expect(body.sourceKey).toMatch(/^uploads\/\d{4}-\d\d-\d\d\/[0-9a-f-]{36}\.png$/);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    const url = new URL(body.uploadUrl);
    expect(url.pathname).toBe(`/${r.uploadsBucket}/${body.sourceKey}`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    // No checksum of an empty body may be baked into the URL (S3 would reject the real upload).
    expect(url.searchParams.has('x-amz-checksum-crc32')).toBe(false);
    const put = await fetch(body.uploadUrl, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: new Uint8Array([1, 2, 3, 4]) });
    expect(put.status).toBe(200);
  });

  it('accepts { contentType } alone: the URL binds the type only, and the worker enforces the size limit', async () => {
    const api = apiFor(r);
    const res = await api(event(ROUTES.createUpload, { body: { contentType: 'image/jpeg' } }));
    expect(res.statusCode).toBe(201);
    const body = JSON.parse(res.body) as { uploadUrl: string; headers: Record<string, string> };
    expect(new URL(body.uploadUrl).searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    expect(body.headers).toEqual({ 'content-type': 'image/jpeg' });
    const put = await fetch(body.uploadUrl, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array([1, 2, 3]) });
    expect(put.status).toBe(200);
  });

  it('rejects bad content types and sizes naming the field', async () => {
    const api = apiFor(r);
    const bad = await api(event(ROUTES.createUpload, { body: { contentType: 'image/svg+xml', contentLength: 4 } }));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'ValidationError', field: 'contentType' } });
    const big = await api(event(ROUTES.createUpload, { body: { contentType: 'image/jpeg', contentLength: 6 * 1024 * 1024 } }));
    expect(JSON.parse(big.body)).toMatchObject({ error: { field: 'contentLength' } });
  });
});

describe('POST /jobs', () => {
  it('400 without Idempotency-Key, and on invalid bodies (naming the field)', async () => {
    const api = apiFor(r);
    const noKey = await api(event(ROUTES.createJob, { body: { sourceKey: 'uploads/a.jpg' } }));
    expect(noKey.statusCode).toBe(400);
    expect(JSON.parse(noKey.body)).toMatchObject({ error: { field: 'Idempotency-Key' } });
    const outside = await api(job(uniqueKey(), { sourceKey: 'private/a.jpg' }));
    expect(outside.statusCode).toBe(400);
    expect(JSON.parse(outside.body)).toMatchObject({ error: { field: 'sourceKey' } });
    const unknown = await api(job(uniqueKey(), { sourceKey: 'uploads/a.jpg', priority: 1 }));
    expect(JSON.parse(unknown.body)).toMatchObject({ error: { field: 'priority' } });
    const notJson = await api(job(uniqueKey(), '{"sourceKey":'));
    expect(JSON.parse(notJson.body)).toMatchObject({ error: { field: 'body' } });
  });

  it('202 creates the queued record and one v1 message; a replay returns the same bytes and sends nothing', async () => {
    const api = apiFor(r);
    const key = uniqueKey();
    const payload = { sourceKey: 'uploads/2026/cat.jpg', renditions: ['thumb', 'medium'], watermark: { text: 'hi' } };
    const first = await api(job(key, payload));
    expect(first.statusCode).toBe(202);
    const { jobId, status } = JSON.parse(first.body) as { jobId: string; status: string };
    expect(status).toBe('queued');

    // Same payload with other key order and whitespace is the same request.
    const replay = await api(job(key, `{ "watermark": {"text":"hi"}, "renditions": ["thumb","medium"], "sourceKey": "uploads/2026/cat.jpg" }`));
    expect(replay.statusCode).toBe(first.statusCode);
    expect(replay.body).toBe(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');

    const messages = (await drainQueue(r.queueUrl)).map(parseJobMessage).filter((m) => m.jobId === jobId);
    expect(messages).toEqual([{ v: 1, jobId, sourceKey: payload.sourceKey, renditions: ['thumb', 'medium'], watermark: { text: 'hi' } }]);
    const doc = DynamoDBDocumentClient.from(localClients().dynamodb);
    const rec = await doc.send(new GetCommand({ TableName: r.jobsTable, Key: { jobId } }));
    expect(rec.Item).toMatchObject({ jobId, status: 'queued', sourceKey: payload.sourceKey, renditionNames: ['thumb', 'medium'] });
  });

  it('422 when the key is reused with another payload', async () => {
    const api = apiFor(r);
    const key = uniqueKey();
    expect((await api(job(key, { sourceKey: 'uploads/a.jpg' }))).statusCode).toBe(202);
    const other = await api(job(key, { sourceKey: 'uploads/b.jpg' }));
    expect(other.statusCode).toBe(422);
    expect(JSON.parse(other.body)).toMatchObject({ error: { code: 'IdempotencyKeyReused' } });
  });

  it('409 with Retry-After while the first request is in progress', async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const inner = sqsJobQueue(localClients().sqs, r.queueUrl);
    const slowQueue: JobQueue = { send: async (m) => { await gate; await inner.send(m); } };
    const api = apiFor(r, { queue: slowQueue }, 20_000);
    const key = uniqueKey();
    const first = api(job(key, { sourceKey: 'uploads/slow.jpg' }));
    await new Promise((res) => setTimeout(res, 300)); // the claim is written by now
    const second = await apiFor(r)(job(key, { sourceKey: 'uploads/slow.jpg' }));
    expect(second.statusCode).toBe(409);
    const retryAfter = Number(second.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(20);
    release();
    const done = await first;
    expect(done.statusCode).toBe(202);
    expect((await apiFor(r)(job(key, { sourceKey: 'uploads/slow.jpg' }))).body).toBe(done.body);
  });

  it('a crash between record and send: the retry after the lease completes the send with the same job id, once', async () => {
    let clock = Date.now();
    const now = () => clock;
    const key = uniqueKey();
    const payload = { sourceKey: 'uploads/crash.jpg' };
    // Process 1 dies inside the send: the promise never settles, nothing is released.
    const dying: JobQueue = { send: () => new Promise<never>(() => {}) };
    void apiFor(r, { queue: dying, now }, 10_000)(job(key, payload));
    await new Promise((res) => setTimeout(res, 500));
    const doc = DynamoDBDocumentClient.from(localClients().dynamodb);
    const claim = await doc.send(new GetCommand({ TableName: r.idempotencyTable, Key: { id: `api#${key}` }, ConsistentRead: true }));
    const orphanJobId = claim.Item?.jobId as string;
    expect((await doc.send(new GetCommand({ TableName: r.jobsTable, Key: { jobId: orphanJobId } }))).Item?.status).toBe('queued');

    // Process 2: a retry inside the lease is told to wait; after the lease it takes over.
    const api2 = apiFor(r, { now }, 10_000);
    const early = await api2(job(key, payload));
    expect(early.statusCode).toBe(409);
    expect(Number(early.headers['retry-after'])).toBe(10);
    clock += 10_001;
    const retried = await api2(job(key, payload));
    expect(retried.statusCode).toBe(202);
    expect(JSON.parse(retried.body)).toEqual({ jobId: orphanJobId, status: 'queued' });
    const again = await api2(job(key, payload));
    expect(again.body).toBe(retried.body);
    const messages = (await drainQueue(r.queueUrl)).map(parseJobMessage).filter((m) => m.sourceKey === payload.sourceKey);
    expect(messages.map((m) => m.jobId)).toEqual([orphanJobId]);
  });

  it('never moves a job record backwards: a take-over after the worker finished leaves it completed', async () => {
    let clock = Date.now();
    const now = () => clock;
    const key = uniqueKey();
    const payload = { sourceKey: 'uploads/late.jpg' };
    const doc = DynamoDBDocumentClient.from(localClients().dynamodb);
    // Process 1 sends the message, then dies before storing the response.
    const real = dynamoIdempotencyStore(localClients().dynamodb, r.idempotencyTable, now);
    const dying: IdempotencyPersistence = { claim: real.claim.bind(real), fail: real.fail.bind(real), release: real.release.bind(real), complete: () => new Promise<never>(() => {}) };
    void apiFor(r, { idempotency: dying, now }, 10_000)(job(key, payload));
    let jobId: string | undefined;
    for (let i = 0; i < 50 && jobId === undefined; i++) {
      await new Promise((res) => setTimeout(res, 50));
      const msgs = (await drainQueue(r.queueUrl)).map(parseJobMessage).filter((m) => m.sourceKey === payload.sourceKey);
      jobId = msgs[0]?.jobId;
    }
    expect(jobId).toBeDefined();
    // The worker completes the job meanwhile.
    const rec = (await doc.send(new GetCommand({ TableName: r.jobsTable, Key: { jobId } }))).Item ?? {};
    await doc.send(new PutCommand({ TableName: r.jobsTable, Item: { ...rec, status: 'completed', renditions: [] } }));
    clock += 10_001;
    const retried = await apiFor(r, { now })(job(key, payload));
    expect(JSON.parse(retried.body)).toEqual({ jobId, status: 'queued' });
    expect((await doc.send(new GetCommand({ TableName: r.jobsTable, Key: { jobId } }))).Item?.status).toBe('completed');
  });

  it('503 + Retry-After when SQS fails, and the key is released so the retry succeeds at once with the same job id', async () => {
    const key = uniqueKey();
    const payload = { sourceKey: 'uploads/flaky.jpg' };
    const failing: JobQueue = { send: () => Promise.reject(new RetryableError('Throttled', 'SQS throttled')) };
    const failed = await apiFor(r, { queue: failing })(job(key, payload));
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['retry-after']).toBe('1');
    const ok = await apiFor(r)(job(key, payload));
    expect(ok.statusCode).toBe(202);
    const doc = DynamoDBDocumentClient.from(localClients().dynamodb);
    const jobId = (JSON.parse(ok.body) as { jobId: string }).jobId;
    const claim = await doc.send(new GetCommand({ TableName: r.idempotencyTable, Key: { id: `api#${key}` } }));
    expect(claim.Item).toMatchObject({ status: 'completed', jobId, responseStatus: 202, responseBody: ok.body });
  });

  it('500 on an unclassified failure, without leaking details', async () => {
    const broken: JobQueue = { send: () => Promise.reject(new Error('secret internals')) };
    const res = await apiFor(r, { queue: broken })(job(uniqueKey(), { sourceKey: 'uploads/x.jpg' }));
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('secret');
  });
});

describe('GET /jobs/{jobId}', () => {
  it('404 for an unknown job, 400 for a malformed id', async () => {
    const api = apiFor(r);
    expect((await api(event(ROUTES.getJob, { pathParameters: { jobId: 'nope' } }))).statusCode).toBe(404);
    const bad = await api(event(ROUTES.getJob, { pathParameters: { jobId: 'a.b' } }));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { field: 'jobId' } });
  });

  it('shows a completed job with presigned GET URLs that download the rendition', async () => {
    const api = apiFor(r);
    const res = await api(job(uniqueKey(), { sourceKey: 'uploads/done.jpg' }));
    const { jobId } = JSON.parse(res.body) as { jobId: string };
    expect(JSON.parse((await api(event(ROUTES.getJob, { pathParameters: { jobId } }))).body)).toEqual({ jobId, status: 'queued', renditions: [] });
    // Play the worker: store a rendition and complete the record.
    const key = `renditions/${jobId}/thumb.jpg`;
    await localClients().s3.send(new PutObjectCommand({ Bucket: r.renditionsBucket, Key: key, Body: 'JPEGDATA' }));
    const doc = DynamoDBDocumentClient.from(localClients().dynamodb);
    const rec = (await doc.send(new GetCommand({ TableName: r.jobsTable, Key: { jobId } }))).Item ?? {};
    await doc.send(new PutCommand({ TableName: r.jobsTable, Item: { ...rec, status: 'completed', renditions: [{ name: 'thumb', key, width: 320, height: 200, bytes: 8, format: 'jpeg' }] } }));
    const view = JSON.parse((await api(event(ROUTES.getJob, { pathParameters: { jobId } }))).body) as { status: string; renditions: { url: string }[] };
    expect(view).toMatchObject({ status: 'completed', renditions: [{ name: 'thumb', width: 320, height: 200, bytes: 8, format: 'jpeg' }] });
    expect(new URL(view.renditions[0]?.url ?? '').searchParams.has('x-amz-checksum-mode')).toBe(false);
    const got = await fetch(view.renditions[0]?.url ?? '');
    expect(await got.text()).toBe('JPEGDATA');
  });

  it('404 for an unknown route', async () => {
    expect((await apiFor(r)(event('DELETE /jobs'))).statusCode).toBe(404);
  });
});
