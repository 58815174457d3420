/**
 * One job record through the pipeline. Dependencies are injected (clients, stores, the render step), so
 * the handler is wiring only and tests can swap the image step.
 *
 * parse -> claim (fence) -> mark processing (fenced) -> GET source (I/O lane) -> render (CPU lane)
 *   -> PUT renditions with the fence in metadata (I/O lane) -> complete job (fenced) + close the claim, in
 *   one transaction. DynamoDB: 3 requests per record on the happy path.
 * Permanent failure: job failed (fenced) + renditions already written deleted, then rethrown for the
 * runtime, whose onPermanent (dead-letter.ts) sends the message to the DLQ and marks the claim failed.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { RENDITIONS_PREFIX } from '../shared/contract';
import { PermanentError, RetryableError, type PermanentErrorClass } from '@floodgate/runtime';
import { faultPoint } from '@floodgate/runtime';
import { parseJobMessage, RENDITION_NAMES, type JobMessage, type RenditionName, type Watermark } from '../shared/job-message';
import type { RenditionRecord } from '../shared/job-record';
import type { IdempotencyStore, Claim } from '@floodgate/runtime/idempotency';
import { classify } from '@floodgate/runtime';
import type { RecordContext } from '@floodgate/runtime';
import type { RenderedImage } from './image';
import type { JobsTable } from './jobs-table';

/** The image step's output (lambda/image-worker/image renderImage); tests substitute fast fakes. */
export type RenderedOutput = RenderedImage;
export type RenderFn = (
  input: Buffer,
  request: { renditions: RenditionName[]; watermark?: Watermark; logo?: Buffer },
  options?: { limits?: { maxBytes?: number }; signal?: AbortSignal },
) => Promise<RenderedOutput[]>;

export interface WorkerObserver {
  log(level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR', message: string, fields?: Record<string, unknown>): void;
  count(metric: 'Processed' | 'DuplicatesSkipped' | 'InProgressElsewhere' | 'StaleWritesRejected' | 'ClaimsLost', value?: number): void;
  stage(stage: 'claim' | 'download' | 'render' | 'upload' | 'complete', ms: number): void;
}

export interface WorkerDeps {
  readonly s3: S3Client;
  readonly idempotency: IdempotencyStore;
  readonly jobs: JobsTable;
  readonly render: RenderFn;
  readonly uploadsBucket: string;
  readonly renditionsBucket: string;
  /** Largest accepted source object (checked from ContentLength before the body is read). */
  readonly maxSourceBytes: number;
  readonly observer: WorkerObserver;
  readonly now?: () => number;
}

/** What the worker learned about a record; the dead-letter step reads it (claim to mark failed, jobId). */
export interface RecordState {
  jobId?: string;
  claim?: Claim;
}

/** Cache headers: a rendition key is rewritten only with the same bytes (deterministic render of one job). */
export const RENDITION_CACHE_CONTROL = 'private, max-age=31536000, immutable';

export function renditionKey(jobId: string, name: string, ext: string): string {
  return `${RENDITIONS_PREFIX}${jobId}/${name}.${ext}`;
}

/** Stable hash of the message's meaning (key order does not matter): the idempotency payload hash. */
export function payloadHash(message: JobMessage): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canonical(x)])) : v;
  return createHash('sha256').update(JSON.stringify(canonical({ ...message, renditions: message.renditions ?? [...RENDITION_NAMES] }))).digest('base64url');
}

async function readSource(s3: S3Client, bucket: string, key: string, maxBytes: number, signal: AbortSignal, what: string): Promise<Buffer> {
  let out;
  try {
    out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
      throw new PermanentError('SourceNotFound', `${what} s3://${bucket}/${key} does not exist`, { cause: err });
    }
    throw err;
  }
  const length = out.ContentLength;
  if (length !== undefined && length > maxBytes) {
    // Do not read a body we are going to refuse: free the socket now.
    (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
    throw new PermanentError('TooLarge', `${what} is ${length} bytes; the limit is ${maxBytes}`);
  }
  if (!out.Body) throw new PermanentError('SourceNotFound', `${what} s3://${bucket}/${key} has no body`);
  const bytes = await out.Body.transformToByteArray();
  if (bytes.byteLength > maxBytes) throw new PermanentError('TooLarge', `${what} is ${bytes.byteLength} bytes; the limit is ${maxBytes}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function createWorker(deps: WorkerDeps) {
  const now = deps.now ?? Date.now;
  const { observer } = deps;
  const timed = async <T>(stage: Parameters<WorkerObserver['stage']>[0], fn: () => Promise<T>): Promise<T> => {
    const t0 = now();
    try {
      return await fn();
    } finally {
      observer.stage(stage, now() - t0);
    }
  };

  /** Deletes what this owner published for the job, so a failed job leaves no partial output. */
  const deleteRenditions = async (keys: readonly string[], ctx: RecordContext) => {
    await Promise.all(keys.map((key) => ctx.io(() => deps.s3.send(new DeleteObjectCommand({ Bucket: deps.renditionsBucket, Key: key }), { abortSignal: ctx.signal }))));
  };

  return async function processRecord(record: SQSRecord, ctx: RecordContext, state: RecordState, leaseExpiresAt: number): Promise<void> {
    const message = parseJobMessage(record.body);
    state.jobId = message.jobId;
    const log = (level: 'INFO' | 'WARN' | 'ERROR', msg: string, fields: Record<string, unknown> = {}) =>
      observer.log(level, msg, { jobId: message.jobId, messageId: record.messageId, ...fields });

    const claimed = await timed('claim', () => ctx.io(() => deps.idempotency.claim(message.jobId, payloadHash(message), leaseExpiresAt, ctx.signal)));
    switch (claimed.type) {
      case 'completed':
      case 'failed':
        observer.count('DuplicatesSkipped');
        log('INFO', 'duplicate skipped: job already finished', { previous: claimed.type });
        return;
      case 'in-progress':
        observer.count('InProgressElsewhere');
        throw new RetryableError('InProgressElsewhere', `job ${message.jobId} is being processed by another invocation (lease until ${new Date(claimed.leaseExpiresAt).toISOString()})`);
      case 'payload-mismatch':
        throw new PermanentError('PayloadMismatch', `job ${message.jobId} was already submitted with a different payload`);
      case 'claimed':
        break;
    }
    const claim = claimed.claim;
    state.claim = claim;
    const fence = claim.fence;
    const written: string[] = [];
    try {
      await faultPoint('after-claim');
      const marked = await ctx.io(() => deps.jobs.markProcessing(message.jobId, message.sourceKey, fence, ctx.signal));
      if (marked.verdict !== 'accept') {
        if (marked.previous?.status === 'completed') {
          // Completed by an earlier owner that died before completing its claim: finish the claim, no work.
          await ctx.io(() => deps.idempotency.complete(claim, ctx.signal));
          state.claim = undefined;
          observer.count('DuplicatesSkipped');
          log('INFO', 'duplicate skipped: job record already completed');
          return;
        }
        if (marked.previous?.status === 'failed' && marked.verdict === 'not-forward') {
          // Failed earlier but the claim was not closed (crash before the DLQ send): dead-letter it again.
          const prev = marked.previous.error;
          throw new PermanentError((prev?.class ?? 'CorruptImage') as PermanentErrorClass, prev?.reason ?? 'failed earlier');
        }
        observer.count('StaleWritesRejected');
        throw new RetryableError('InProgressElsewhere', `job ${message.jobId}: a newer owner (fence ${marked.previous?.fence}) holds it; ours is ${fence}`);
      }

      // Download and render inside the memory lane: only a few sources are held in memory at once, however
      // wide the I/O lane is; the rendered outputs (small) are uploaded after the slot is freed.
      const images = await ctx.memory(async () => {
        const source = await timed('download', () => ctx.io(() => readSource(deps.s3, deps.uploadsBucket, message.sourceKey, deps.maxSourceBytes, ctx.signal, 'source image')));
        const logoKey = message.watermark?.logoKey;
        const logo = logoKey ? await ctx.io(() => readSource(deps.s3, deps.uploadsBucket, logoKey, deps.maxSourceBytes, ctx.signal, 'watermark logo')) : undefined;
        const renditions = message.renditions ?? [...RENDITION_NAMES];
        return timed('render', () =>
          ctx.cpu(() =>
            deps.render(source, { renditions, ...(message.watermark ? { watermark: message.watermark } : {}), ...(logo ? { logo } : {}) }, { limits: { maxBytes: deps.maxSourceBytes }, signal: ctx.signal }),
          ),
        );
      });

      // A holder whose lease (= its deadline) has passed must not publish: a newer owner may exist.
      ctx.signal.throwIfAborted();
      if (now() >= claim.leaseExpiresAt) throw new RetryableError('Timeout', `lease on job ${message.jobId} expired before upload`);
      const records: RenditionRecord[] = await timed('upload', () =>
        Promise.all(
          images.map((img) =>
            ctx.io(async () => {
              const key = renditionKey(message.jobId, img.name, img.ext);
              written.push(key);
              await deps.s3.send(
                new PutObjectCommand({
                  Bucket: deps.renditionsBucket,
                  Key: key,
                  Body: img.data,
                  ContentType: img.contentType,
                  CacheControl: RENDITION_CACHE_CONTROL,
                  Metadata: { fence: String(fence), 'job-id': message.jobId },
                }),
                { abortSignal: ctx.signal },
              );
              return { name: img.name, key, width: img.width, height: img.height, bytes: img.bytes, format: img.format };
            }),
          ),
        ),
      );
      await faultPoint('after-rendition-put');
      await faultPoint('before-complete');
      const done = await timed('complete', () =>
        ctx.io(() => deps.jobs.completeWithClaim(message.jobId, fence, records, deps.idempotency.completionTransactItem(claim), ctx.signal)),
      );
      if (done.claimLost) {
        // Our lease ran out and another delivery took the claim: it finishes the job under its newer fence.
        observer.count('ClaimsLost');
        state.claim = undefined;
        throw new RetryableError('InProgressElsewhere', `job ${message.jobId}: claim taken over by a newer owner before completion`);
      }
      if (done.verdict === 'stale') {
        observer.count('StaleWritesRejected');
        throw new RetryableError('InProgressElsewhere', `job ${message.jobId}: completion refused, a newer owner (fence ${done.previous?.fence}) took over`);
      }
      if (done.verdict === 'not-forward') {
        if (done.previous?.status !== 'completed') throw new RetryableError('Unknown', `job ${message.jobId}: completion refused in state ${done.previous?.status}`);
        // Completed by an earlier owner meanwhile: close our claim, nothing else to do.
        await ctx.io(() => deps.idempotency.complete(claim, ctx.signal));
        state.claim = undefined;
        observer.count('DuplicatesSkipped');
        return;
      }
      state.claim = undefined;
      observer.count('Processed');
    } catch (err) {
      const failure = classify(ctx.signal.aborted ? ctx.signal.reason : err);
      if (failure.kind === 'permanent') {
        const failed = await ctx.io(() => deps.jobs.fail(message.jobId, fence, { class: failure.class, reason: failure.reason }, ctx.signal));
        // Only the current owner cleans up: a stale owner's deletes could remove a newer owner's output.
        if (failed.verdict === 'accept' || failed.previous?.status === 'failed') await deleteRenditions(written, ctx);
        else if (failed.verdict === 'stale') throw new RetryableError('InProgressElsewhere', `job ${message.jobId}: failure refused, a newer owner took over`, { cause: err });
      } else if (state.claim) {
        // Let a redelivery take the job at once instead of waiting for our lease to run out.
        const claimToRelease = state.claim;
        state.claim = undefined;
        await deps.idempotency.release(claimToRelease, AbortSignal.timeout(1000)).catch(() => false);
      }
      throw err;
    }
  };
}
