/**
 * `limit`: the same image work the worker does (renderImage with the default renditions, sharp set up by
 * configureSharp exactly as in the worker), on images already in memory, `concurrency` at a time. No
 * S3, no DynamoDB, no queue, no bookkeeping: the physical limit of this machine for this work.
 */
import pLimit from 'p-limit';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { configureSharp, renderImage } from '../../lambda/image-worker/image/index';
import type { RenditionName } from '../../lambda/shared/job-message';
import { childInput, reportResult } from '../child';
import { threadDeltaMs, threadTicks } from '../cpu';

interface Input {
  readonly paths: string[];
  readonly concurrency: number;
  readonly renditions: RenditionName[];
}

const input = childInput<Input>();
// The worker's CPU lane size decides sharp's threads per pipeline; the limit gets the same treatment.
process.env.FLOODGATE_CPU_CONCURRENCY = String(input.concurrency);
configureSharp(process.env);
const buffers = await Promise.all(input.paths.map((p) => readFile(p)));
// Warm-up: the first pipeline pays libvips' start-up (codecs, thread pool); the worker pays it at cold start.
await renderImage(buffers[0]!, { renditions: input.renditions });
const limit = pLimit(input.concurrency);
let outputs = 0;
const threadsBefore = threadTicks(process.pid);
const start = performance.now();
await Promise.all(
  buffers.map((b) =>
    limit(async () => {
      const out = await renderImage(b, { renditions: input.renditions });
      outputs += out.length;
    }),
  ),
);
const elapsedMs = performance.now() - start;
// CPU per thread group during the timed renders only (start-up and warm-up excluded).
const threadCpuMs = threadDeltaMs(threadsBefore, threadTicks(process.pid));
reportResult({ images: buffers.length, outputs, elapsedMs, threadCpuMs });
