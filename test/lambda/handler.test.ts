/** The image worker handler end to end on the emulators: fauxqs (S3 + SQS) and DynamoDB Local. */
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImageWorkerHandler } from '../../lambda/image-worker/handler';
import { payloadHash } from '../../lambda/image-worker/worker';
import { renderImage } from '../../lambda/image-worker/image';
import type { RenderFn, RenderedOutput } from '../../lambda/image-worker/worker';
import { IdempotencyStore } from '@floodgate/runtime/idempotency';
import { addRequestCounter, RequestCounter, type HandlerClients } from '@floodgate/runtime';
import { CONSUMER_ENV, PIPELINE_ENV } from '../../lambda/shared/contract';
import { PermanentError } from '@floodgate/runtime';
import { localClients } from '../support/local-env';
import { createTable } from './support/tables';

const local = localClients();
let env: Record<string, string>;
let dlqUrl: string;
let uploads: string;
let renditions: string;
let jobsTable: string;
let idemTable: string;
let jpeg: Buffer;

function clients(): HandlerClients {
  const c = localClients();
  const requests = new RequestCounter();
  addRequestCounter(c.dynamodb, requests, 'dynamodb');
  addRequestCounter(c.s3, requests, 's3');
  addRequestCounter(c.sqs, requests, 'sqs');
  return { ...c, requests };
}

// Powertools output is noise here; the handler's behaviour is asserted through AWS state.
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';

beforeAll(async () => {
  const id = randomUUID().slice(0, 8);
  uploads = `uploads-${id}`;
  renditions = `renditions-${id}`;
  [jobsTable, idemTable] = await Promise.all([createTable(local.dynamodb, 'jobs'), createTable(local.dynamodb, 'idempotency')]);
  await Promise.all([local.s3.send(new CreateBucketCommand({ Bucket: uploads })), local.s3.send(new CreateBucketCommand({ Bucket: renditions }))]);
  dlqUrl = (await local.sqs.send(new CreateQueueCommand({ QueueName: `dlq-${id}` }))).QueueUrl!;
  env = {
    [CONSUMER_ENV.ioConcurrency]: '8',
    [CONSUMER_ENV.cpuConcurrency]: '2',
    [CONSUMER_ENV.softMarginMs]: '1000',
    [CONSUMER_ENV.hardMarginMs]: '500',
    [CONSUMER_ENV.deadLetterQueueUrl]: dlqUrl,
    [CONSUMER_ENV.maxReceiveCount]: '5',
    [PIPELINE_ENV.jobsTable]: jobsTable,
    [PIPELINE_ENV.idempotencyTable]: idemTable,
    [PIPELINE_ENV.uploadsBucket]: uploads,
    [PIPELINE_ENV.renditionsBucket]: renditions,
  };
  jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg().toBuffer();
});

let seq = 0;
function record(body: unknown, attrs: SQSRecord['messageAttributes'] = {}): SQSRecord {
  return {
    messageId: `msg-${++seq}-${randomUUID().slice(0, 6)}`,
    receiptHandle: 'rh',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1' } as SQSRecord['attributes'],
    messageAttributes: attrs,
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:jobs',
    awsRegion: 'us-east-1',
  };
}
const ctx = (ms = 60_000) => ({ getRemainingTimeInMillis: () => ms });
const newJob = () => `job-${randomUUID().slice(0, 12)}`;
async function upload(key: string, body: Buffer = jpeg) {
  await local.s3.send(new PutObjectCommand({ Bucket: uploads, Key: key, Body: body }));
}
async function jobItem(jobId: string) {
  return (await local.dynamodb.send(new GetItemCommand({ TableName: jobsTable, Key: { jobId: { S: jobId } }, ConsistentRead: true }))).Item;
}
async function renditionKeys(jobId: string) {
  const out = await local.s3.send(new ListObjectsV2Command({ Bucket: renditions, Prefix: `renditions/${jobId}/` }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}
async function dlqMessages() {
  const out = await local.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
  return out.Messages ?? [];
}
function counting(render: RenderFn): RenderFn & { calls: number } {
  const f = Object.assign(async (...args: Parameters<RenderFn>) => { f.calls++; return render(...args); }, { calls: 0 });
  return f;
}
const fakeImages = (names: string[]): RenderedOutput[] =>
  names.map((name) => ({ name: name as RenderedOutput['name'], format: 'jpeg', ext: 'jpg', contentType: 'image/jpeg', width: 10, height: 10, bytes: 3, data: Buffer.from('abc') }));

describe('image worker handler', () => {
  it('happy path: renditions with fence metadata, completed job record, 3 DynamoDB requests per record; a duplicate is skipped', async () => {
    const render = counting(renderImage as RenderFn);
    const c = clients();
    const handler = createImageWorkerHandler({ env, clients: c, render });
    const jobId = newJob();
    await upload(`uploads/${jobId}.jpg`);
    const msg = { v: 1, jobId, sourceKey: `uploads/${jobId}.jpg` };
    const res = await handler({ Records: [record(msg)] }, ctx());
    expect(res).toEqual({ batchItemFailures: [] });
    expect(render.calls).toBe(1);
    expect(c.requests.get('dynamodb')).toBe(3); // claim, processing, completed + claim closed (one transaction)

    const item = await jobItem(jobId);
    expect(item?.['status']?.S).toBe('completed');
    expect(item?.['fence']?.N).toBe('1');
    expect(item?.['completions']?.N).toBe('1');
    const recs = item?.['renditions']?.L?.map((r) => r.M!) ?? [];
    expect(recs.map((r) => r['name']!.S).sort()).toEqual(['large', 'medium', 'thumb']);
    expect(await renditionKeys(jobId)).toEqual(recs.map((r) => r['key']!.S!).sort());
    const thumb = recs.find((r) => r['name']!.S === 'thumb')!;
    const head = await local.s3.send(new HeadObjectCommand({ Bucket: renditions, Key: thumb['key']!.S! }));
    expect(head.Metadata?.['fence']).toBe('1');
    expect(head.ContentType).toMatch(/^image\//);
    expect(head.CacheControl).toContain('max-age');
    const body = await (await local.s3.send(new GetObjectCommand({ Bucket: renditions, Key: thumb['key']!.S! }))).Body!.transformToByteArray();
    const meta = await sharp(Buffer.from(body)).metadata();
    expect(meta.width).toBe(Number(thumb['width']!.N));

    // The same job delivered again: success without work.
    const again = await handler({ Records: [record(msg)] }, ctx());
    expect(again).toEqual({ batchItemFailures: [] });
    expect(render.calls).toBe(1);
    expect((await jobItem(jobId))?.['completions']?.N).toBe('1');
  });

  it('the same job twice in one batch: one does the work, the other is told to retry, then skipped as a duplicate', async () => {
    const render = counting(async (_b, req) => fakeImages(req.renditions));
    const handler = createImageWorkerHandler({ env, clients: clients(), render });
    const jobId = newJob();
    await upload(`uploads/${jobId}.jpg`);
    const msg = { v: 1, jobId, sourceKey: `uploads/${jobId}.jpg` };
    const { response: res, report } = await handler.invoke({ Records: [record(msg), record(msg)] }, ctx());
    expect(res.batchItemFailures).toHaveLength(1);
    expect(report.outcomes.find((o) => o.status === 'retryable')?.failure?.class).toBe('InProgressElsewhere');
    expect(render.calls).toBe(1);
    expect(await handler({ Records: [record(msg)] }, ctx())).toEqual({ batchItemFailures: [] });
    expect(render.calls).toBe(1);
    expect((await jobItem(jobId))?.['completions']?.N).toBe('1');
  });

  it('in progress elsewhere -> batch item failure; same key with another payload -> DLQ PayloadMismatch, job untouched', async () => {
    const handler = createImageWorkerHandler({ env, clients: clients(), render: async (_b, req) => fakeImages(req.renditions) });
    const jobId = newJob();
    await upload(`uploads/${jobId}.jpg`);
    const store = new IdempotencyStore({ client: local.dynamodb, tableName: idemTable });
    const msg = { v: 1, jobId, sourceKey: `uploads/${jobId}.jpg` };
    const other = await store.claim(jobId, payloadHash(msg as never), Date.now() + 60_000);
    expect(other.type).toBe('claimed');
    const r1 = record(msg);
    const first = await handler.invoke({ Records: [r1] }, ctx());
    expect(first.response).toEqual({ batchItemFailures: [{ itemIdentifier: r1.messageId }] });
    expect(first.report.outcomes[0]?.failure?.class).toBe('InProgressElsewhere');

    const r2 = record({ ...msg, sourceKey: `uploads/${jobId}-other.jpg` });
    expect(await handler({ Records: [r2] }, ctx())).toEqual({ batchItemFailures: [] });
    const dlq = (await dlqMessages()).filter((m) => m.MessageAttributes?.['JobId']?.StringValue === jobId);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.MessageAttributes?.['ErrorClass']?.StringValue).toBe('PayloadMismatch');
    expect(await jobItem(jobId)).toBeUndefined(); // the other owner's job is not marked failed by the impostor
  });

  it('permanent failures go to the DLQ with attributes, the job record says failed, no renditions remain', async () => {
    const handler = createImageWorkerHandler({ env, clients: clients(), render: renderImage as RenderFn });
    const corrupt = newJob();
    await upload(`uploads/${corrupt}.jpg`, Buffer.from('this is not an image at all, just text named .jpg'));
    const missing = newJob();
    const records = [
      record({ v: 1, jobId: corrupt, sourceKey: `uploads/${corrupt}.jpg` }, { tenant: { dataType: 'String', stringValue: 'acme', stringListValues: [], binaryListValues: [] } }),
      record({ v: 1, jobId: missing, sourceKey: `uploads/${missing}.jpg` }),
      record('{"v":1,"jobId":"bad-json"'),
      record({ v: 1, jobId: 'traversal', sourceKey: 'uploads/../secrets.jpg' }),
    ];
    const { response: res, report } = await handler.invoke({ Records: records }, ctx());
    expect(res).toEqual({ batchItemFailures: [] });
    expect(report.counts.permanent).toBe(4);
    const byJob = new Map((await dlqMessages()).map((m) => [m.MessageAttributes?.['SourceMessageId']?.StringValue, m]));
    const corruptMsg = byJob.get(records[0]!.messageId)!;
    expect(corruptMsg.MessageAttributes?.['ErrorClass']?.StringValue).toBe('UnsupportedFormat');
    expect(corruptMsg.MessageAttributes?.['ErrorKind']?.StringValue).toBe('permanent');
    expect(corruptMsg.MessageAttributes?.['ErrorReason']?.StringValue).toBeTruthy();
    expect(corruptMsg.MessageAttributes?.['JobId']?.StringValue).toBe(corrupt);
    expect(Date.parse(corruptMsg.MessageAttributes?.['FirstFailureAt']?.StringValue ?? '')).toBeGreaterThan(0);
    expect(corruptMsg.MessageAttributes?.['tenant']?.StringValue).toBe('acme');
    expect(corruptMsg.Body).toBe(records[0]!.body);
    expect(byJob.get(records[1]!.messageId)?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('SourceNotFound');
    expect(byJob.get(records[2]!.messageId)?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('InvalidMessage');
    expect(byJob.get(records[3]!.messageId)?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('InvalidMessage');
    const failed = await jobItem(corrupt);
    expect(failed?.['status']?.S).toBe('failed');
    expect(failed?.['error']?.M?.['class']?.S).toBe('UnsupportedFormat');
    expect(await renditionKeys(corrupt)).toEqual([]);
    // A redelivery of the failed job is a duplicate: no second DLQ message.
    expect(await handler({ Records: [record({ v: 1, jobId: corrupt, sourceKey: `uploads/${corrupt}.jpg` })] }, ctx())).toEqual({ batchItemFailures: [] });
    expect((await dlqMessages()).filter((m) => m.MessageAttributes?.['JobId']?.StringValue === corrupt)).toHaveLength(1);
  });

  it('a permanent failure after renditions were written deletes them (no partial output)', async () => {
    // The second PUT is refused permanently by a wrapped S3 client, after the first one succeeded.
    const c = clients();
    let puts = 0;
    c.s3.middlewareStack.add((next) => async (args) => {
      if ((args.input as { Key?: string }).Key?.startsWith('renditions/') && (args as { request?: { method?: string } }).request?.method === 'PUT' && ++puts === 2) {
        throw new PermanentError('TooLarge', 'rendition refused (test)');
      }
      return next(args);
    }, { step: 'finalizeRequest', name: 'refuseSecondPut' });
    const handler = createImageWorkerHandler({ env: { ...env, [CONSUMER_ENV.ioConcurrency]: '1' }, clients: c, render: async (_b, req) => fakeImages(req.renditions) });
    const jobId = newJob();
    await upload(`uploads/${jobId}.jpg`);
    expect(await handler({ Records: [record({ v: 1, jobId, sourceKey: `uploads/${jobId}.jpg` })] }, ctx())).toEqual({ batchItemFailures: [] });
    expect(puts).toBeGreaterThanOrEqual(2);
    expect((await jobItem(jobId))?.['status']?.S).toBe('failed');
    expect(await renditionKeys(jobId)).toEqual([]);
  });

  it('retryable failures become batch item failures and release the claim for the next delivery', async () => {
    let fail = true;
    const handler = createImageWorkerHandler({
      env,
      clients: clients(),
      render: async (_b, req) => {
        if (fail) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
        return fakeImages(req.renditions);
      },
    });
    const jobId = newJob();
    await upload(`uploads/${jobId}.jpg`);
    const msg = { v: 1, jobId, sourceKey: `uploads/${jobId}.jpg` };
    const r = record(msg);
    const first = await handler.invoke({ Records: [r] }, ctx());
    expect(first.response).toEqual({ batchItemFailures: [{ itemIdentifier: r.messageId }] });
    expect(first.report.outcomes[0]?.failure?.class).toBe('Throttled');
    // On the last receive (5 of maxReceiveCount 5) the handler dead-letters it with the reason itself.
    const last = record(msg);
    (last.attributes as { ApproximateReceiveCount: string }).ApproximateReceiveCount = '5';
    expect(await handler({ Records: [last] }, ctx())).toEqual({ batchItemFailures: [] });
    const dl = (await dlqMessages()).find((m) => m.MessageAttributes?.['SourceMessageId']?.StringValue === last.messageId);
    expect(dl?.MessageAttributes?.['ErrorKind']?.StringValue).toBe('retryable');
    expect(dl?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('Throttled');
    expect(dl?.MessageAttributes?.['ReceiveCount']?.StringValue).toBe('5/5');
    fail = false;
    expect(await handler({ Records: [record(msg)] }, ctx())).toEqual({ batchItemFailures: [] });
    const item = await jobItem(jobId);
    expect(item?.['status']?.S).toBe('completed');
    expect(item?.['fence']?.N).toBe('3'); // each released claim was retaken at once, with a newer fence
  });

  it('deadline: records not finished by the hard margin come back in batchItemFailures; redelivered, every job completes once', async () => {
    const handler = createImageWorkerHandler({
      env: { ...env, [CONSUMER_ENV.cpuConcurrency]: '1' },
      clients: clients(),
      render: (_b, req, opts) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => resolve(fakeImages(req.renditions)), 800);
          opts?.signal?.addEventListener('abort', () => { clearTimeout(t); reject(opts.signal!.reason); });
        }),
    });
    const ids = Array.from({ length: 6 }, newJob);
    await Promise.all(ids.map((id) => upload(`uploads/${id}.jpg`)));
    const records = ids.map((jobId) => record({ v: 1, jobId, sourceKey: `uploads/${jobId}.jpg` }));
    const t0 = Date.now();
    // 4 s left, soft margin 1 s, hard margin 0.5 s: one render lane of 0.8 s renders fits at most 4 of the 6
    // before the hard point, so some records must come back; the first one has seconds to finish.
    const { response: res, report } = await handler.invoke({ Records: records }, ctx(4_000));
    expect(Date.now() - t0).toBeLessThan(4_000);
    const failedIds = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    expect(failedIds.size).toBeGreaterThan(0);
    expect(failedIds.size).toBeLessThan(6);
    for (const o of report.outcomes) expect(failedIds.has(o.id)).toBe(o.status !== 'done');
    // A success means done. (A failed record's last write may still land after the abort: the guarantee
    // for those is that redelivery finishes them, once.)
    for (const [i, jobId] of ids.entries()) {
      if (!failedIds.has(records[i]!.messageId)) expect((await jobItem(jobId))?.['status']?.S).toBe('completed');
    }
    // SQS redelivers after the visibility timeout (>= 6 x the function timeout), long after the first
    // invocation's leases (= its deadline) ran out; a claim it could not release in time is then free.
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 4_000 + 50 - Date.now())));
    const again = await handler({ Records: records.filter((r) => failedIds.has(r.messageId)) }, ctx(60_000));
    expect(again.batchItemFailures).toEqual([]);
    for (const jobId of ids) {
      const item = await jobItem(jobId);
      expect(item?.['status']?.S).toBe('completed');
      expect(item?.['completions']?.N).toBe('1');
    }
  });

  it('a 1,000-record batch never exceeds the lane sizes', async () => {
    let cpuNow = 0;
    let cpuPeak = 0;
    const handler = createImageWorkerHandler({
      env: { ...env, [CONSUMER_ENV.ioConcurrency]: '8', [CONSUMER_ENV.cpuConcurrency]: '2' },
      clients: clients(),
      render: async (_b, req) => {
        cpuNow++;
        cpuPeak = Math.max(cpuPeak, cpuNow);
        await new Promise((r) => setImmediate(r));
        cpuNow--;
        return fakeImages(req.renditions.slice(0, 1));
      },
    });
    await upload('uploads/shared-source.jpg');
    const records = Array.from({ length: 1_000 }, () => record({ v: 1, jobId: newJob(), sourceKey: 'uploads/shared-source.jpg', renditions: ['thumb'] }));
    const { response: res, report, requests } = await handler.invoke({ Records: records }, ctx(600_000));
    expect(res.batchItemFailures).toEqual([]);
    expect(report.counts.done).toBe(1_000);
    expect(report.maxInFlight.io).toBeLessThanOrEqual(8);
    expect(report.maxInFlight.io).toBeGreaterThan(1);
    expect(report.maxInFlight.cpu).toBeLessThanOrEqual(2);
    expect(report.maxInFlight.memory).toBeLessThanOrEqual(4); // sources held at once: 2 x the CPU lane
    expect(cpuPeak).toBeLessThanOrEqual(2);
    expect(handler.clients.requests.get('dynamodb') / 1_000).toBe(3);
    expect(requests['dynamodb']).toBe(3_000); // the invocation's own count
  }, 120_000);
});

