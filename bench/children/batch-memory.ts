/**
 * `bounded` / `unbounded`: one batch of large images, GET from S3 -> renderImage -> PUT renditions to S3,
 * scheduled either by Floodgate's batch runtime and lanes (runBatch + createLanes with the lane sizes the
 * stack configures and the default memory lane) or by a plain Promise.all over the same per-record function (what an unbounded
 * consumer does, e.g. Powertools' BatchProcessor). Same sharp settings in both; only scheduling differs.
 * The process's VmHWM at the end is the figure.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { performance } from 'node:perf_hooks';
import { configureSharp, renderImage } from '../../lambda/image-worker/image/index';
import { runBatch, type RecordContext } from '@floodgate/runtime';
import { planDeadline } from '@floodgate/runtime';
import { createLanes } from '@floodgate/runtime';
import type { RenditionName } from '../../lambda/shared/job-message';
import { childInput, reportResult } from '../child';

interface Input {
  readonly mode: 'bounded' | 'unbounded';
  readonly s3Endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly keys: string[];
  readonly renditions: RenditionName[];
  readonly ioConcurrency: number;
  readonly cpuConcurrency: number;
}

const input = childInput<Input>();
process.env.FLOODGATE_CPU_CONCURRENCY = String(input.cpuConcurrency);
configureSharp(process.env);
const s3 = new S3Client({
  region: input.region,
  endpoint: input.s3Endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

let rendering = 0;
let maxRendering = 0;
let failures = 0;

/**
 * The worker's record shape (lambda/image-worker/worker.ts): download and render inside the memory lane
 * (few sources held at once), the download in the I/O lane, the render in the CPU lane, uploads after
 * the memory slot is freed. The unbounded mode passes pass-through lanes.
 */
async function processRecord(key: string, index: number, ctx: Pick<RecordContext, 'io' | 'cpu' | 'memory'>): Promise<void> {
  const outputs = await ctx.memory(async () => {
    const source = await ctx.io(async () => {
      const res = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    });
    return ctx.cpu(async () => {
      rendering++;
      maxRendering = Math.max(maxRendering, rendering);
      try {
        return await renderImage(source, { renditions: input.renditions });
      } finally {
        rendering--;
      }
    });
  });
  await Promise.all(
    outputs.map((o) =>
      ctx.io(() => s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: `renditions/${input.mode}/${index}/${o.name}.${o.ext}`, Body: o.data, ContentType: o.contentType }))),
    ),
  );
}

const start = performance.now();
if (input.mode === 'bounded') {
  const now = Date.now();
  const report = await runBatch({
    records: input.keys.map((key, index) => ({ key, index })),
    idOf: (r) => String(r.index),
    process: (r, ctx) => processRecord(r.key, r.index, ctx),
    lanes: createLanes(input.ioConcurrency, input.cpuConcurrency),
    // A generous deadline: this scenario measures memory, not deadline handling.
    plan: planDeadline(now, 600_000, 10_000, 3_000),
  });
  failures = report.batchItemFailures.length + report.counts.permanent;
} else {
  const direct = <T>(task: () => Promise<T>): Promise<T> => task();
  const results = await Promise.allSettled(input.keys.map((key, index) => processRecord(key, index, { io: direct, cpu: direct, memory: direct })));
  failures = results.filter((r) => r.status === 'rejected').length;
}
const elapsedMs = performance.now() - start;
if (failures > 0) throw new Error(`${failures} of ${input.keys.length} records failed in ${input.mode} mode`);
reportResult({ images: input.keys.length, elapsedMs, maxInFlightRender: maxRendering });
