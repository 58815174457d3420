/** Pure core of the job API: validation, idempotency decisions, response building. No I/O. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson, decideOnExistingKey, idempotencyRecordId, payloadHash, toIdempotencyRecord, type IdempotencyRecord } from '../../lambda/job-api/idempotency';
import { parseJsonBody, validateIdempotencyKey, validateJobId, validateJobRequest, validateUploadRequest } from '../../lambda/job-api/requests';
import { jobAcceptedBody, jobView } from '../../lambda/job-api/responses';

const MAX = 10 * 1024 * 1024;

describe('request validation names the field', () => {
  it.each([
    [{ sourceKey: 'uploads/a.jpg', extra: 1 }, 'extra'],
    [{ sourceKey: 'images/a.jpg' }, 'sourceKey'],
    [{ sourceKey: 'uploads/../secret' }, 'sourceKey'],
    [{ sourceKey: 42 }, 'sourceKey'],
    [{}, 'sourceKey'],
    [{ sourceKey: 'uploads/a.jpg', renditions: ['thumb', 'huge'] }, 'renditions.1'],
    [{ sourceKey: 'uploads/a.jpg', renditions: ['thumb', 'thumb'] }, 'renditions'],
    [{ sourceKey: 'uploads/a.jpg', watermark: { text: 'x', colour: 'red' } }, 'watermark.colour'],
    [{ sourceKey: 'uploads/a.jpg', watermark: { opacity: 2, text: 'x' } }, 'watermark.opacity'],
    [{ sourceKey: 'uploads/a.jpg', watermark: { logoKey: 'etc/passwd' } }, 'watermark.logoKey'],
    ['just a string', 'body'],
  ])('job request %j -> field %s', (input, field) => {
    const r = validateJobRequest(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.field).toBe(field);
  });

  it('accepts a full job request', () => {
    const r = validateJobRequest({ sourceKey: 'uploads/2026/a.jpg', renditions: ['thumb', 'large'], watermark: { text: '(c) me', gravity: 'southeast' } });
    expect(r.ok).toBe(true);
  });

  it.each([
    [{ contentType: 'image/svg+xml', contentLength: 10 }, 'contentType'],
    [{ contentType: 'text/plain', contentLength: 10 }, 'contentType'],
    [{ contentType: 'image/jpeg', contentLength: MAX + 1 }, 'contentLength'],
    [{ contentType: 'image/jpeg', contentLength: 1.5 }, 'contentLength'],
    [{ contentType: 'image/jpeg', contentLength: 10, key: 'uploads/x' }, 'key'],
  ])('upload request %j -> field %s', (input, field) => {
    const r = validateUploadRequest(input, MAX);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.field).toBe(field);
  });

  it('checks the header, the path parameter and the body encoding', () => {
    expect(validateIdempotencyKey(undefined)).toMatchObject({ ok: false, field: 'Idempotency-Key' });
    expect(validateIdempotencyKey('has space')).toMatchObject({ ok: false, field: 'Idempotency-Key' });
    expect(validateIdempotencyKey('x'.repeat(256))).toMatchObject({ ok: false, field: 'Idempotency-Key' });
    expect(validateIdempotencyKey('order-42')).toEqual({ ok: true, value: 'order-42' });
    expect(validateJobId('../x')).toMatchObject({ ok: false, field: 'jobId' });
    expect(parseJsonBody('{', false)).toMatchObject({ ok: false, field: 'body' });
    expect(parseJsonBody(undefined, false)).toMatchObject({ ok: false, field: 'body' });
    expect(parseJsonBody(Buffer.from('{"a":1}').toString('base64'), true)).toEqual({ ok: true, value: { a: 1 } });
  });
});

describe('idempotency decisions', () => {
  const now = 1_800_000_000_000;
  const base = { payloadHash: 'h', jobId: 'j1', expiresAt: now / 1000 + 3600 };
  const inProgress = (leaseExpiresAtMs: number): IdempotencyRecord => ({ ...base, status: 'in_progress', leaseToken: 't1', leaseExpiresAtMs });
  const completed: IdempotencyRecord = { ...base, status: 'completed', responseStatus: 202, responseBody: '{"jobId":"j1","status":"queued"}' };

  it('replays a completed key with the stored status and body', () => {
    expect(decideOnExistingKey(completed, 'h', now)).toEqual({ kind: 'replay', statusCode: 202, body: completed.responseBody });
  });
  it('rejects another payload, whatever the state', () => {
    expect(decideOnExistingKey(completed, 'other', now)).toEqual({ kind: 'mismatch' });
    expect(decideOnExistingKey(inProgress(now + 5000), 'other', now)).toEqual({ kind: 'mismatch' });
  });
  it('answers in-progress with the remaining lease, rounded up, at least 1 s', () => {
    expect(decideOnExistingKey(inProgress(now + 4200), 'h', now)).toEqual({ kind: 'in-progress', retryAfterSeconds: 5 });
    expect(decideOnExistingKey(inProgress(now + 1), 'h', now)).toEqual({ kind: 'in-progress', retryAfterSeconds: 1 });
  });
  it('takes over an expired lease and keeps the job id', () => {
    expect(decideOnExistingKey(inProgress(now), 'h', now)).toEqual({ kind: 'take-over', jobId: 'j1', previousLeaseToken: 't1' });
  });
  it('treats a record past its retention as expired', () => {
    expect(decideOnExistingKey({ ...completed, expiresAt: now / 1000 - 1 }, 'h', now)).toEqual({ kind: 'expired' });
  });
  it('namespaces keys so they cannot collide with the worker (keyed by job id)', () => {
    expect(idempotencyRecordId('abc')).toBe('api#abc');
  });
  it('parses only well-formed records', () => {
    expect(toIdempotencyRecord({ ...completed })).toEqual(completed);
    expect(toIdempotencyRecord({ status: 'completed', payloadHash: 'h', jobId: 'j', expiresAt: 1 })).toBeNull();
    expect(toIdempotencyRecord(undefined)).toBeNull();
  });
});

describe('payload hashing', () => {
  it('ignores key order but not values', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(payloadHash('POST /jobs', reversed)).toBe(payloadHash('POST /jobs', obj));
      }),
    );
    expect(payloadHash('POST /jobs', { sourceKey: 'uploads/a' })).not.toBe(payloadHash('POST /jobs', { sourceKey: 'uploads/b' }));
    expect(payloadHash('POST /jobs', { a: 1 })).not.toBe(payloadHash('POST /other', { a: 1 }));
  });
});

describe('responses', () => {
  it('builds the accepted body deterministically from the job id', () => {
    expect(jobAcceptedBody('abc')).toBe('{"jobId":"abc","status":"queued"}');
  });
  it('maps a record to the public view with URLs and the error', () => {
    const view = jobView(
      {
        jobId: 'j', status: 'failed', sourceKey: 'uploads/a', createdAt: 't', updatedAt: 't', fence: 3,
        renditions: [{ name: 'thumb', key: 'renditions/j/thumb.jpg', width: 320, height: 240, bytes: 999, format: 'jpeg' }],
        error: { class: 'CorruptImage', reason: 'truncated' },
      },
      new Map([['renditions/j/thumb.jpg', 'https://u']]),
    );
    expect(view).toEqual({
      jobId: 'j', status: 'failed',
      renditions: [{ name: 'thumb', width: 320, height: 240, bytes: 999, format: 'jpeg', url: 'https://u' }],
      error: { class: 'CorruptImage', reason: 'truncated' },
    });
  });
});
