/**
 * One job record through the pipeline. Dependencies are injected (clients, the render step), so the
 * handler is wiring only and tests can swap the image step.
 *
 * The runtime's idempotency (createConsumerHandler({ idempotency }), configured in handler.ts with the job
 * record as the claim) runs around this: claim the job record (takes the fence) -> [this file: GET source
 * (I/O lane) -> render (CPU lane) -> PUT renditions with the fence in metadata (I/O lane)] -> complete the
 * job record with the renditions (owner + fence). DynamoDB 2 requests and 2 write units per record on the
 * happy path. A duplicate of a finished job is skipped before this runs; a redrive of a failed job (moved
 * back from the DLQ) claims it again and runs.
 * Permanent failure: the runtime dead-letters the message, then marks the record failed. Renditions this
 * owner already published are deleted first, while its lease still holds (no newer owner can exist yet).
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSRecord } from 'aws-lambda';
import { RENDITIONS_PREFIX } from '../shared/contract';
import { PermanentError, RetryableError } from '@floodgate/runtime';
import { faultPoint } from '@floodgate/runtime';
import { parseJobMessage, RENDITION_NAMES, type JobMessage, type RenditionName, type Watermark } from '../shared/job-message';
import type { RenditionRecord } from '../shared/job-record';
import { payloadHash } from '@floodgate/runtime/idempotency';
import { classify } from '@floodgate/runtime';
import type { ConsumerRecordContext, RecordContext } from '@floodgate/runtime';
import type { RenderedImage } from './image';
import { completionAttributes } from './jobs-table';

/** The image step's output (lambda/image-worker/image renderImage); tests substitute fast fakes. */
export type RenderedOutput = RenderedImage;
export type RenderFn = (
  input: Buffer,
  request: { renditions: RenditionName[]; watermark?: Watermark; logo?: Buffer },
  options?: { limits?: { maxBytes?: number }; signal?: AbortSignal },
) => Promise<RenderedOutput[]>;

export interface WorkerObserver {
  log(level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR', message: string, fields?: Record<string, unknown>): void;
  stage(stage: 'download' | 'render' | 'upload', ms: number): void;
}

export interface WorkerDeps {
  readonly s3: S3Client;
  readonly render: RenderFn;
  readonly uploadsBucket: string;
  readonly renditionsBucket: string;
  /** Largest accepted source object (checked from ContentLength before the body is read). */
  readonly maxSourceBytes: number;
  readonly observer: WorkerObserver;
  readonly now?: () => number;
}

/** What the worker learned about a record; the dead-letter step reads it (the JobId attribute). */
export interface RecordState {
  jobId?: string;
}

/** Cache headers: a rendition key is rewritten only with the same bytes (deterministic render of one job). */
export const RENDITION_CACHE_CONTROL = 'private, max-age=31536000, immutable';

export function renditionKey(jobId: string, name: string, ext: string): string {
  return `${RENDITIONS_PREFIX}${jobId}/${name}.${ext}`;
}

/** Stable hash of the message's meaning (key order and defaulted fields do not matter). */
export function jobPayloadHash(message: JobMessage): string {
  return payloadHash({ ...message, renditions: message.renditions ?? [...RENDITION_NAMES] });
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
  return readBody(out.Body as AsyncIterable<Uint8Array> & { destroy?: () => void }, length, maxBytes, what);
}

/**
 * Reads the body straight into ONE buffer of the announced length (allocUnsafe: no zero fill, no list
 * of chunks concatenated afterwards, as the SDK's transformToByteArray does); the size limit is enforced
 * while reading, so a body longer than announced stops at the limit.
 */
export async function readBody(body: AsyncIterable<Uint8Array> & { destroy?: () => void }, length: number | undefined, maxBytes: number, what: string): Promise<Buffer> {
  const tooLarge = (n: number) => {
    body.destroy?.();
    return new PermanentError('TooLarge', `${what} is more than ${n} bytes; the limit is ${maxBytes}`);
  };
  if (length !== undefined) {
    const buf = Buffer.allocUnsafe(length);
    let offset = 0;
    for await (const chunk of body) {
      if (offset + chunk.byteLength > length) throw offset + chunk.byteLength > maxBytes ? tooLarge(offset + chunk.byteLength) : new RetryableError('ServiceUnavailable', `${what}: body longer than its Content-Length ${length}`);
      buf.set(chunk, offset);
      offset += chunk.byteLength;
    }
    if (offset !== length) throw new RetryableError('ServiceUnavailable', `${what}: body ended at ${offset} of ${length} bytes`);
    return buf;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge(total);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
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

  return async function processRecord(record: SQSRecord, ctx: ConsumerRecordContext<string, RecordState>, message: JobMessage = parseJobMessage(record.body)): Promise<void> {
    ctx.state.jobId = message.jobId;
    const held = ctx.idempotency;
    if (!held) throw new Error('the image worker runs under the job record claim: createImageWorkerHandler configures idempotency');
    const { claim, fence } = held;
    const written: string[] = [];
    try {
      await faultPoint('after-claim');
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
      // The runtime's completion writes them with `completed`, conditioned on our owner + fence.
      held.setResult(completionAttributes(records, now()));
    } catch (err) {
      const failure = classify(ctx.signal.aborted ? ctx.signal.reason : err);
      if (failure.kind === 'permanent' && written.length > 0) {
        // Renditions are out and the job is going to fail: delete them, so a failed job leaves no partial
        // output. Only while our lease holds: after it, a newer owner may have written the same keys.
        if (now() >= claim.leaseExpiresAt || ctx.signal.aborted) {
          observer.log('WARN', 'stale-fenced-write-rejected', { event: 'stale-fenced-write-rejected', jobId: message.jobId, fence, to: 'delete-renditions' });
          throw new RetryableError('InProgressElsewhere', `job ${message.jobId}: lease ended before its partial renditions were deleted`, { cause: err });
        }
        await deleteRenditions(written, ctx);
      }
      throw err;
    }
  };
}
