/** Child of bench/profile/worker-cpu.ts: the real worker handler over the given sources, batches of 10. */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Context, SQSRecord } from 'aws-lambda';
import { childInput, reportResult } from '../child';
import { createImageWorkerHandler } from '../../lambda/image-worker/handler';
import { configureSharp } from '../../lambda/image-worker/image';

const { keys } = childInput<{ keys: string[] }>();
configureSharp();
const handler = createImageWorkerHandler();
const record = (key: string, i: number): SQSRecord => ({
  messageId: randomUUID(), receiptHandle: 'rh', body: JSON.stringify({ v: 1, jobId: `prof-${Date.now().toString(36)}-${i}`, sourceKey: key }),
  attributes: { ApproximateReceiveCount: '1' } as SQSRecord['attributes'], messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:prof', awsRegion: 'us-east-1',
});
const ctx = { getRemainingTimeInMillis: () => 600_000 } as unknown as Context;
// One warm-up image (module and sharp initialisation are not per-image costs).
await handler({ Records: [record(keys[0]!, -1)] }, ctx);
let failures = 0;
const t0 = performance.now();
for (let i = 0; i < keys.length; i += 10) {
  const res = await handler({ Records: keys.slice(i, i + 10).map((k, j) => record(k, i + j)) }, ctx);
  failures += res.batchItemFailures.length;
}
reportResult({ images: keys.length, elapsedMs: performance.now() - t0, failures });
