/** Pure core of the job API: validation, idempotency decisions, response building. No I/O. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideOnClaim, idempotencyRecordId, requestHash } from '../../lambda/job-api/idempotency';
import { canonicalJson, type ClaimResult } from '@floodgate/runtime/idempotency';
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

describe('idempotency decisions (from the claim result)', () => {
  const now = 1_800_000_000_000;
  const claim = (fence: number) => ({ id: 'api#k', owner: 'o', fence, leaseExpiresAt: now + 30_000 });
  const body = '{"jobId":"j1","status":"queued"}';

  it('proceeds with the job id bound to the key, and says when it took the key over', () => {
    expect(decideOnClaim({ type: 'claimed', claim: claim(1), record: { jobId: { S: 'j1' } } }, now)).toEqual({ kind: 'proceed', jobId: 'j1', tookOver: false });
    expect(decideOnClaim({ type: 'claimed', claim: claim(2), record: { jobId: { S: 'j1' } } }, now)).toEqual({ kind: 'proceed', jobId: 'j1', tookOver: true });
  });
  it('replays a completed key with the stored status and body', () => {
    const r: ClaimResult = { type: 'completed', record: { responseStatus: { N: '202' }, responseBody: { S: body } } };
    expect(decideOnClaim(r, now)).toEqual({ kind: 'replay', statusCode: 202, body });
  });
  it('rejects another payload', () => {
    expect(decideOnClaim({ type: 'payload-mismatch' }, now)).toEqual({ kind: 'mismatch' });
  });
  it('answers in-progress with the remaining lease, rounded up, at least 1 s', () => {
    expect(decideOnClaim({ type: 'in-progress', leaseExpiresAt: now + 4200 }, now)).toEqual({ kind: 'in-progress', retryAfterSeconds: 5 });
    expect(decideOnClaim({ type: 'in-progress', leaseExpiresAt: now + 1 }, now)).toEqual({ kind: 'in-progress', retryAfterSeconds: 1 });
  });
  it('refuses records it did not write (no job id, no stored response, a failed record)', () => {
    expect(decideOnClaim({ type: 'claimed', claim: claim(1), record: {} }, now)).toEqual({ kind: 'conflict' });
    expect(decideOnClaim({ type: 'completed', record: { responseStatus: { N: '202' } } }, now)).toEqual({ kind: 'conflict' });
    expect(decideOnClaim({ type: 'failed', record: {} }, now)).toEqual({ kind: 'conflict' });
  });
  it('namespaces keys in the shared idempotency table', () => {
    expect(idempotencyRecordId('abc')).toBe('api#abc');
  });
});

describe('payload hashing', () => {
  it('ignores key order but not values', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(requestHash('POST /jobs', reversed)).toBe(requestHash('POST /jobs', obj));
      }),
    );
    expect(requestHash('POST /jobs', { sourceKey: 'uploads/a' })).not.toBe(requestHash('POST /jobs', { sourceKey: 'uploads/b' }));
    expect(requestHash('POST /jobs', { a: 1 })).not.toBe(requestHash('POST /other', { a: 1 }));
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
