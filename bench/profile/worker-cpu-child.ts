/** Child of bench/profile/worker-cpu.ts: the real worker handler over the given sources, batches of 10. */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance, PerformanceObserver, constants } from 'node:perf_hooks';
import type { Context, SQSRecord } from 'aws-lambda';
import { childInput, reportResult } from '../child';
import { threadDeltaMs, threadTicks } from '../cpu';
import { createImageWorkerHandler } from '../../lambda/image-worker/handler';
import { configureSharp } from '../../lambda/image-worker/image';

const { keys, bundle, profileFile } = childInput<{ keys: string[]; bundle?: string; profileFile: string }>();
// With a bundle (a CDK asset directory), profile exactly what Lambda runs; otherwise the sources (via tsx).
const handler: (event: { Records: SQSRecord[] }, ctx: Context) => Promise<{ batchItemFailures: unknown[] }> = bundle
  ? ((await import(pathToFileURL(join(bundle, 'index.mjs')).href)) as { handler: typeof handler }).handler
  : (configureSharp(), createImageWorkerHandler());
const record = (key: string, i: number): SQSRecord => ({
  messageId: randomUUID(), receiptHandle: 'rh', body: JSON.stringify({ v: 1, jobId: `prof-${Date.now().toString(36)}-${i}`, sourceKey: key }),
  attributes: { ApproximateReceiveCount: '1' } as SQSRecord['attributes'], messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:prof', awsRegion: 'us-east-1',
});
const ctx = { getRemainingTimeInMillis: () => 600_000 } as unknown as Context;
// One warm-up image (module and sharp initialisation are not per-image costs).
await handler({ Records: [record(keys[0]!, -1)] }, ctx);
let failures = 0;
// GC pauses by kind (main thread), so the profile's '(garbage collector)' can be split.
const gcKinds: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
const gc: Record<string, { count: number; ms: number }> = {};
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = gcKinds[(e as unknown as { detail: { kind: number } }).detail.kind] ?? 'other';
    const g = (gc[kind] ??= { count: 0, ms: 0 });
    g.count++;
    g.ms += e.duration;
  }
});
obs.observe({ entryTypes: ['gc'] });
// The profile covers the measured batches only (start-up and the warm-up image are not per-image costs).
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');
const threadsBefore = threadTicks(process.pid);
const t0 = performance.now();
for (let i = 0; i < keys.length; i += 10) {
  const res = await handler({ Records: keys.slice(i, i + 10).map((k, j) => record(k, i + j)) }, ctx);
  failures += res.batchItemFailures.length;
}
obs.disconnect();
const elapsedMs = performance.now() - t0;
const threadCpuMs = threadDeltaMs(threadsBefore, threadTicks(process.pid));
const { profile } = await session.post('Profiler.stop');
writeFileSync(profileFile, JSON.stringify(profile));
session.disconnect();
const mem = process.memoryUsage();
reportResult({ images: keys.length, elapsedMs, threadCpuMs, failures, gc, heapUsedMb: Math.round(mem.heapUsed / 1048576), externalMb: Math.round(mem.external / 1048576) });
