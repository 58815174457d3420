import { describe, expect, it } from 'vitest';
import { classify, classifyAwsError } from '../src/classify';
import { canStart, msUntilHard, planDeadline } from '../src/deadline';
import { readRuntimeConfig } from '../src/config';
import { Lane, createLanes } from '../src/lanes';
import { runBatch } from '../src/batch';
import { deadLetterMessage, DLQ_ATTRIBUTES, MAX_EXTRA_DLQ_ATTRIBUTES, MAX_MESSAGE_ATTRIBUTES } from '../src/dead-letter';
import { PermanentError, RetryableError } from '../src/errors';
import { injectedAwsError } from '../src/faults';
import type { SQSRecord } from 'aws-lambda';

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}), ...extra });

describe('classify', () => {
  it('keeps Floodgate classes', () => {
    expect(classify(new PermanentError('CorruptImage', 'bad'))).toEqual({ kind: 'permanent', class: 'CorruptImage', reason: 'bad' });
    expect(classify(new RetryableError('LockContention', 'busy'))).toEqual({ kind: 'retryable', class: 'LockContention', reason: 'busy' });
  });
  it.each([
    ['ThrottlingException', 400, 'Throttled'],
    ['ProvisionedThroughputExceededException', 400, 'Throttled'],
    ['SlowDown', 503, 'Throttled'],
    ['SomethingElse', 429, 'Throttled'],
    ['InternalServerError', 500, 'ServiceUnavailable'],
    ['ServiceUnavailable', 503, 'ServiceUnavailable'],
    ['Whatever', 502, 'ServiceUnavailable'],
    ['TimeoutError', undefined, 'Timeout'],
    ['RequestTimeout', 408, 'Timeout'],
    ['AbortError', undefined, 'Timeout'],
  ])('maps SDK error %s (%s) to retryable %s', (name, status, cls) => {
    expect(classify(sdkError(name, status))).toMatchObject({ kind: 'retryable', class: cls });
  });
  it('maps Node network errors and wrapped causes to retryable', () => {
    expect(classify(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toMatchObject({ kind: 'retryable', class: 'ServiceUnavailable' });
    expect(classify(new Error('wrapper', { cause: sdkError('ThrottlingException', 400) }))).toMatchObject({ class: 'Throttled' });
  });
  it('treats the injected chaos errors exactly like real ones', () => {
    expect(classify(injectedAwsError(0.1))).toMatchObject({ kind: 'retryable', class: 'Throttled' });
    expect(classify(injectedAwsError(0.9))).toMatchObject({ kind: 'retryable', class: 'ServiceUnavailable' });
  });
  it.each([
    ['AccessDeniedException', 400], // DynamoDB, SQS (JSON protocol), KMS
    ['AccessDenied', 403], // S3, SQS (query protocol)
    ['UnauthorizedOperation', 403], // EC2
    ['AuthorizationError', 403], // SNS
    ['Forbidden', 403], // bodyless S3 HEAD
  ])('classifies %s (%s) as the permanent class AccessDenied, in AWS\'s words', (name, status) => {
    const words = 'User: arn:aws:sts::123456789012:assumed-role/worker/fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/jobs because no identity-based policy allows the dynamodb:PutItem action';
    const err = Object.assign(new Error(words), { name, $metadata: { httpStatusCode: status } });
    expect(classify(err)).toEqual({ kind: 'permanent', class: 'AccessDenied', reason: `${name}: ${words}` });
    expect(classify(new Error('wrapped', { cause: err }))).toMatchObject({ kind: 'permanent', class: 'AccessDenied' });
  });
  it('does not call other 403s AccessDenied (expired credentials are refreshed; a skewed clock is corrected)', () => {
    expect(classify(sdkError('ExpiredTokenException', 403))).toMatchObject({ kind: 'retryable' });
    expect(classify(sdkError('RequestTimeTooSkewed', 403))).toMatchObject({ kind: 'retryable' });
  });
  it('retries unknown errors (bugs) as Unknown and does not call a 4xx client error AWS-retryable', () => {
    expect(classify(new TypeError('x is undefined'))).toMatchObject({ kind: 'retryable', class: 'Unknown' });
    expect(classifyAwsError(sdkError('ValidationException', 400))).toBeUndefined();
    expect(classify('a string')).toMatchObject({ kind: 'retryable', class: 'Unknown', reason: 'a string' });
  });
});

describe('deadline planning', () => {
  it('plans soft and hard points from the remaining time', () => {
    const p = planDeadline(1_000, 60_000, 10_000, 3_000);
    expect(p).toEqual({ deadlineAt: 61_000, softAt: 51_000, hardAt: 58_000 });
    expect(canStart(p, 50_999)).toBe(true);
    expect(canStart(p, 51_000)).toBe(false);
    expect(msUntilHard(p, 57_000)).toBe(1_000);
    expect(msUntilHard(p, 59_000)).toBe(0);
  });
  it('never plans in the past when less than the margins remain', () => {
    const p = planDeadline(1_000, 2_000, 10_000, 3_000);
    expect(p.softAt).toBe(1_000);
    expect(p.hardAt).toBe(1_000);
    expect(canStart(p, 1_000)).toBe(false);
  });
});

describe('runtime config', () => {
  it('reads lanes and margins from the construct environment', () => {
    const c = readRuntimeConfig({ FLOODGATE_IO_CONCURRENCY: '8', FLOODGATE_CPU_CONCURRENCY: '2', FLOODGATE_SOFT_MARGIN_MS: '5000', FLOODGATE_HARD_MARGIN_MS: '1000', FLOODGATE_DLQ_URL: 'http://q', FLOODGATE_MAX_RECEIVE_COUNT: '5' });
    expect(c).toEqual({ ioConcurrency: 8, cpuConcurrency: 2, softMarginMs: 5000, hardMarginMs: 1000, deadLetterQueueUrl: 'http://q', maxReceiveCount: 5 });
  });
  it('has defaults and rejects nonsense loudly', () => {
    const c = readRuntimeConfig({});
    expect(c.ioConcurrency).toBe(16);
    expect(c.cpuConcurrency).toBeGreaterThanOrEqual(1);
    expect(() => readRuntimeConfig({ FLOODGATE_IO_CONCURRENCY: '0' })).toThrow(/FLOODGATE_IO_CONCURRENCY must be an integer >= 1/);
    expect(() => readRuntimeConfig({ FLOODGATE_CPU_CONCURRENCY: 'lots' })).toThrow(/FLOODGATE_CPU_CONCURRENCY/);
    expect(() => readRuntimeConfig({ FLOODGATE_SOFT_MARGIN_MS: '1000', FLOODGATE_HARD_MARGIN_MS: '2000' })).toThrow(/must not exceed/);
  });
});

const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

describe('lanes', () => {
  it('never runs more than its size and records the peak', async () => {
    const lane = new Lane('io', 3);
    let running = 0;
    let seen = 0;
    await Promise.all(Array.from({ length: 50 }, () => lane.run(async () => {
      running++;
      seen = Math.max(seen, running);
      await tick();
      running--;
    })));
    expect(seen).toBe(3);
    expect(lane.maxInFlight).toBe(3);
    expect(lane.inFlight).toBe(0);
  });
  it('does not start queued tasks once the signal aborted', async () => {
    const lane = new Lane('cpu', 1);
    const ac = new AbortController();
    let started = 0;
    const first = lane.run(async () => { started++; ac.abort(new Error('deadline')); await tick(); }, ac.signal);
    const second = lane.run(async () => { started++; }, ac.signal);
    await first;
    await expect(second).rejects.toThrow('deadline');
    expect(started).toBe(1);
  });
  it('rejects a zero-size lane', () => {
    expect(() => new Lane('io', 0)).toThrow(/size must be an integer >= 1/);
  });
});

describe('runBatch', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

  it('reports only failures, dead-letters permanent ones, never throws', async () => {
    const dlq: string[] = [];
    const report = await runBatch({
      records: ids(4),
      idOf: (r) => r,
      lanes: createLanes(4, 2),
      plan: planDeadline(Date.now(), 60_000, 1_000, 500),
      process: async (r) => {
        if (r === 'm1') throw new PermanentError('CorruptImage', 'truncated');
        if (r === 'm2') throw Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
        if (r === 'm3') throw new TypeError('bug');
      },
      onPermanent: async (r) => { dlq.push(r); },
    });
    expect(report.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }]);
    expect(dlq).toEqual(['m1']);
    expect(report.counts).toEqual({ done: 1, permanent: 1, exhausted: 0, retryable: 2, 'not-started': 0 });
    expect(report.outcomes[2]!.failure).toMatchObject({ class: 'Throttled' });
  });

  it('dead-letters a retryable failure with its reason on the last receive, and only then', async () => {
    const dlq: string[] = [];
    const report = await runBatch({
      records: ['first', 'last'],
      idOf: (r) => r,
      lanes: createLanes(2, 1),
      plan: planDeadline(Date.now(), 60_000, 1_000, 500),
      isLastReceive: (r) => r === 'last',
      process: async () => { throw Object.assign(new Error('down'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }); },
      onPermanent: async (r, failure) => { dlq.push(`${r}:${failure.kind}:${failure.class}`); },
    });
    expect(dlq).toEqual(['last:retryable:ServiceUnavailable']);
    expect(report.batchItemFailures).toEqual([{ itemIdentifier: 'first' }]);
    expect(report.counts.exhausted).toBe(1);
  });

  it('turns a permanent failure into a retryable one when it cannot be dead-lettered', async () => {
    const report = await runBatch({
      records: ['a'],
      idOf: (r) => r,
      lanes: createLanes(1, 1),
      plan: planDeadline(Date.now(), 60_000, 1_000, 500),
      process: async () => { throw new PermanentError('InvalidMessage', 'nope'); },
      onPermanent: async () => { throw Object.assign(new Error('down'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }); },
    });
    expect(report.batchItemFailures).toEqual([{ itemIdentifier: 'a' }]);
    expect(report.outcomes[0]!.failure?.reason).toMatch(/permanent failure \(InvalidMessage\) not dead-lettered/);
  });

  it('stops starting records at the soft deadline and aborts in-flight work at the hard deadline', async () => {
    const started: string[] = [];
    const aborted: string[] = [];
    const t0 = Date.now();
    // 600 ms left, soft margin 450 ms -> starts for 150 ms; hard margin 300 ms -> aborts at 300 ms.
    const report = await runBatch({
      records: ids(20),
      idOf: (r) => r,
      lanes: createLanes(2, 1),
      recordConcurrency: 2,
      plan: planDeadline(t0, 600, 450, 300),
      process: async (r, ctx) => {
        started.push(r);
        if (r === 'm0' || r === 'm1') await tick(20); // quick ones finish
        else await new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => { aborted.push(r); reject(ctx.signal.reason); }));
      },
    });
    const elapsed = Date.now() - t0;
    expect(report.hardDeadlineHit).toBe(true);
    expect(elapsed).toBeLessThan(600);
    expect(report.counts.done).toBe(2);
    expect(started.length).toBe(4); // m0, m1, then two that hang until the hard deadline
    expect(aborted.length).toBe(2);
    expect(report.batchItemFailures.length).toBe(18);
    expect(report.outcomes.filter((o) => o.status === 'not-started').length).toBe(16);
    expect(report.outcomes.find((o) => o.id === 'm2')!.failure).toMatchObject({ class: 'Timeout' });
  });

  it('returns every record at once when no time is left', async () => {
    let calls = 0;
    const report = await runBatch({ records: ids(5), idOf: (r) => r, lanes: createLanes(2, 1), plan: planDeadline(Date.now(), 100, 500, 200), process: async () => { calls++; } });
    expect(calls).toBe(0);
    expect(report.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ids(5));
  });

  it('keeps both lanes within their sizes for a 10,000-record batch', async () => {
    const report = await runBatch({
      records: ids(10_000),
      idOf: (r) => r,
      lanes: createLanes(16, 2),
      plan: planDeadline(Date.now(), 120_000, 1_000, 500),
      process: async (_r, ctx) => {
        await ctx.io(() => tick(0));
        await ctx.memory(async () => {
          await ctx.io(() => tick(0));
          await ctx.cpu(async () => undefined);
        });
        await ctx.io(() => tick(0));
      },
    });
    expect(report.counts.done).toBe(10_000);
    expect(report.maxInFlight.io).toBeLessThanOrEqual(16);
    expect(report.maxInFlight.io).toBeGreaterThan(1);
    expect(report.maxInFlight.cpu).toBeLessThanOrEqual(2);
    expect(report.maxInFlight.memory).toBeLessThanOrEqual(4);
    expect(report.maxInFlight.records).toBeLessThanOrEqual(18);
  });
});

describe('dead-letter message', () => {
  const record = (attrs: SQSRecord['messageAttributes'] = {}): SQSRecord => ({
    messageId: 'mid-1', receiptHandle: 'rh', body: '{"v":1,"jobId":"job-7"}', attributes: { ApproximateReceiveCount: '1' } as SQSRecord['attributes'],
    messageAttributes: attrs, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn', awsRegion: 'us-east-1',
  });
  it('carries class, kind, reason, first failure time, the app attributes and the original attributes', () => {
    const m = deadLetterMessage(record({ tenant: { dataType: 'String', stringValue: 'acme', stringListValues: [], binaryListValues: [] } }), { kind: 'permanent', class: 'CorruptImage', reason: 'truncated' }, { queueUrl: 'http://dlq', now: new Date('2026-01-01T00:00:00Z'), maxReceiveCount: 5, extraAttributes: { JobId: 'job-7' } });
    expect(m.QueueUrl).toBe('http://dlq');
    expect(m.MessageBody).toBe('{"v":1,"jobId":"job-7"}');
    expect(m.MessageAttributes).toMatchObject({
      ErrorClass: { StringValue: 'CorruptImage' }, ErrorKind: { StringValue: 'permanent' }, ErrorReason: { StringValue: 'truncated' },
      JobId: { StringValue: 'job-7' }, FirstFailureAt: { StringValue: '2026-01-01T00:00:00.000Z' }, SourceMessageId: { StringValue: 'mid-1' },
      ReceiveCount: { StringValue: '1/5' },
      tenant: { DataType: 'String', StringValue: 'acme' },
    });
    expect(m.MessageGroupId).toBeUndefined();
  });
  it('writes no app attribute of its own (no JobId) and refuses app attributes beyond the 10-attribute limit or named like its own', () => {
    const failure = { kind: 'permanent', class: 'X', reason: 'y' } as const;
    const plain = deadLetterMessage(record(), failure, { queueUrl: 'q', now: new Date() });
    expect(Object.keys(plain.MessageAttributes).sort()).toEqual([...DLQ_ATTRIBUTES].sort());
    const four = Object.fromEntries(Array.from({ length: MAX_EXTRA_DLQ_ATTRIBUTES }, (_, i) => [`App${i}`, String(i)]));
    expect(Object.keys(deadLetterMessage(record(), failure, { queueUrl: 'q', now: new Date(), extraAttributes: four }).MessageAttributes)).toHaveLength(MAX_MESSAGE_ATTRIBUTES);
    expect(() => deadLetterMessage(record(), failure, { queueUrl: 'q', now: new Date(), extraAttributes: { ...four, OneMore: 'x' } })).toThrow(/at most 4 extra/);
    expect(() => deadLetterMessage(record(), failure, { queueUrl: 'q', now: new Date(), extraAttributes: { ErrorClass: 'mine' } })).toThrow(/runtime's own/);
  });
  it('to a FIFO DLQ: the source group id and a deduplication id from the source message id', () => {
    const r = { ...record(), attributes: { ApproximateReceiveCount: '2', MessageGroupId: 'account-9' } as SQSRecord['attributes'] };
    const m = deadLetterMessage(r, { kind: 'permanent', class: 'X', reason: 'y' }, { queueUrl: 'http://sqs/000/dlq.fifo', now: new Date() });
    expect(m.MessageGroupId).toBe('account-9');
    expect(m.MessageDeduplicationId).toBe('mid-1');
  });
  it('keeps the first failure time of a redriven message and stays within 10 attributes', () => {
    const many = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, { dataType: 'String', stringValue: String(i), stringListValues: [], binaryListValues: [] }]));
    const m = deadLetterMessage(record({ ...many, FirstFailureAt: { dataType: 'String', stringValue: '2020-01-01T00:00:00.000Z', stringListValues: [], binaryListValues: [] } }), { kind: 'permanent', class: 'InvalidMessage', reason: 'x' }, { queueUrl: 'q', now: new Date() });
    expect(m.MessageAttributes['FirstFailureAt']!.StringValue).toBe('2020-01-01T00:00:00.000Z');
    expect(Object.keys(m.MessageAttributes).length).toBe(MAX_MESSAGE_ATTRIBUTES);
  });
});
