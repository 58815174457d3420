/**
 * Drives one worker's handler (Floodgate's or the Powertools-based one) directly with SQS events, in
 * this process, against the local emulators: `records` jobs cut into batches of `batchSize`, one batch
 * at a time (what one execution environment does). The image step is a no-op (returns no renditions),
 * so what is measured is the consumer machinery: parsing, claims, S3 reads, job-record writes.
 * Used by `overhead` (both workers, batch 10) and `scaling` (Floodgate, up to 10,000 records a batch).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { childInput, reportResult } from '../child';
import { StageCollector } from '../scenarios/pipeline';

interface Input {
  readonly worker: 'floodgate' | 'powertools';
  /** The function's environment (tables, buckets, lanes), as the local deployment resolved it. */
  readonly env: Record<string, string>;
  readonly records: number;
  readonly batchSize: number;
  readonly sourceKey: string;
  readonly jobPrefix: string;
  /** Remaining time each invocation is given (ms). */
  readonly invocationMs: number;
  /**
   * Diagnostic mode: force a full GC every this many ms and record the heap still in use (live data).
   * Changes the GC behaviour, so its peak RSS is not the scaling figure. Needs --expose-gc.
   */
  readonly liveHeapSampleMs?: number;
}

const input = childInput<Input>();
Object.assign(process.env, input.env);

// The Floodgate worker publishes per-batch stage timings as EMF lines on stdout: collect them (and keep
// them off our stdout) to say which stage costs the time.
const stages = new StageCollector();
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const kept = text
    .split('\n')
    .filter((line) => {
      if (!line.includes('"_aws"')) return true;
      try {
        stages.add({ json: JSON.parse(line) as Record<string, unknown> });
      } catch {
        return true;
      }
      return false;
    })
    .join('\n');
  return kept.length === 0 ? true : (write as (c: string, ...r: unknown[]) => boolean)(kept, ...rest);
}) as typeof process.stdout.write;

const noopRender = async (): Promise<never[]> => [];

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let handler: Handler;
if (input.worker === 'floodgate') {
  const { createImageWorkerHandler } = await import('../../lambda/image-worker/handler');
  handler = createImageWorkerHandler({ render: noopRender }) as unknown as Handler;
} else {
  const { createPowertoolsHandler } = await import('../powertools-worker/handler');
  handler = createPowertoolsHandler({ render: noopRender });
}

function sqsRecord(i: number): SQSRecord {
  const body = JSON.stringify({ v: 1, jobId: `${input.jobPrefix}-${i}`, sourceKey: input.sourceKey });
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: `rh-${i}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: now, SenderId: 'bench', ApproximateFirstReceiveTimestamp: now },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
    awsRegion: 'us-east-1',
  };
}

function context(deadline: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
    memoryLimitInMB: '2048',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

let failures = 0;
let batches = 0;
// Heap in use, sampled while batches run (live data + garbage not yet collected), and after a full GC
// between batches (what stays reachable): together they say whether peak RSS is data or GC slack.
let peakHeapUsed = 0;
let retainedAfterGc = 0;
const sampler = setInterval(() => (peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed)), 20);
const gc = (globalThis as { gc?: () => void }).gc;
let baselineHeap = 0;
let maxLiveHeap = 0;
let liveSampler: NodeJS.Timeout | undefined;
if (input.liveHeapSampleMs && gc) {
  gc();
  baselineHeap = process.memoryUsage().heapUsed;
  liveSampler = setInterval(() => {
    gc();
    maxLiveHeap = Math.max(maxLiveHeap, process.memoryUsage().heapUsed);
  }, input.liveHeapSampleMs);
}
const start = performance.now();
for (let from = 0; from < input.records; from += input.batchSize) {
  const n = Math.min(input.batchSize, input.records - from);
  // Built per batch and dropped after: the driver must not hold 20,000 records for the worker.
  const event: SQSEvent = { Records: Array.from({ length: n }, (_, k) => sqsRecord(from + k)) };
  const res = await handler(event, context(Date.now() + input.invocationMs));
  failures += res.batchItemFailures.length;
  batches++;
  peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed);
}
const elapsedMs = performance.now() - start;
clearInterval(sampler);
if (liveSampler) clearInterval(liveSampler);
if (gc) {
  gc();
  retainedAfterGc = process.memoryUsage().heapUsed;
}
reportResult({ records: input.records, batches, failures, elapsedMs, stagesMs: stages.result(), peakHeapUsedMb: peakHeapUsed / 1048576, retainedHeapMb: gc ? retainedAfterGc / 1048576 : null, baselineHeapMb: baselineHeap / 1048576, maxLiveHeapMb: maxLiveHeap / 1048576 });
