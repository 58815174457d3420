/**
 * `overhead` and `scaling`: the handlers driven directly (bench/children/handler-batches.ts) in child
 * processes, against tables and buckets deployed from the real template on the local emulators, with
 * DynamoDB requests counted at the wire (bench/ddb-counter.ts).
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { endpointEnv, LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';
import type { LocalDeployment } from '@floodgate/local';
import { PIPELINE_ENV, STACK_OUTPUTS } from '../../lambda/shared/contract';
import { runChild } from '../child';
import { imageWorker } from './pipeline';
import type { DdbCounter } from '../ddb-counter';
import type { OverheadSide, ScalingResult, ScalingRun } from '../result';
import { ratio, requestsPerRecord } from '../stats';

const CHILD = fileURLToPath(new URL('../children/handler-batches.ts', import.meta.url));

export interface HandlerLevelSetup {
  readonly endpoints: LocalEndpoints;
  readonly counter: DdbCounter;
  /** A local deployment of the stack (its worker function's environment is what the children get). */
  readonly deployment: LocalDeployment;
  readonly log: (m: string) => void;
}

/** Uploads one tiny JPEG every job of these scenarios points at; returns its key. */
export async function uploadTinySource(setup: HandlerLevelSetup): Promise<string> {
  const env = workerEnv(setup);
  const s3 = new S3Client({ region: setup.endpoints.region, endpoint: setup.endpoints.s3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  const key = 'uploads/bench-tiny.jpg';
  const body = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366aa' } }).jpeg().toBuffer();
  await s3.send(new PutObjectCommand({ Bucket: env[PIPELINE_ENV.uploadsBucket], Key: key, Body: body, ContentType: 'image/jpeg' }));
  s3.destroy();
  return key;
}

function workerEnv(setup: HandlerLevelSetup): Record<string, string> {
  const { fn } = imageWorker(setup.deployment);
  return {
    ...fn.environment,
    // The Powertools worker keeps its claims in the idempotency table (the Floodgate worker ignores it).
    [PIPELINE_ENV.idempotencyTable]: setup.deployment.outputs[STACK_OUTPUTS.idempotencyTable]!,
    ...endpointEnv(setup.endpoints),
    // Every DynamoDB request of the worker goes through the counter.
    AWS_ENDPOINT_URL_DYNAMODB: setup.counter.endpoint,
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
}

interface ChildOut {
  records: number;
  batches: number;
  failures: number;
  elapsedMs: number;
  peakHeapUsedMb: number;
  retainedHeapMb: number | null;
  baselineHeapMb: number;
  maxLiveHeapMb: number;
  stagesMs: Record<string, number>;
}

export async function runOverheadSide(setup: HandlerLevelSetup, worker: 'floodgate' | 'powertools', records: number, sourceKey: string): Promise<OverheadSide> {
  try {
    setup.counter.reset();
    const r = await runChild<ChildOut>(CHILD, {
      worker,
      env: workerEnv(setup),
      records,
      batchSize: 10,
      sourceKey,
      jobPrefix: `ovh-${worker}-${Date.now().toString(36)}`,
      invocationMs: 60_000,
    });
    const counts = setup.counter.snapshot();
    const ddbLatencyMs = setup.counter.latencies();
    const writeUnits = setup.counter.writeUnits();
    if (r.failures > 0) throw new Error(`${r.failures} of ${records} records failed`);
    const recordsPerSec = (records * 1000) / r.elapsedMs;
    setup.log(`overhead ${worker}: ${recordsPerSec.toFixed(1)} records/s, ${requestsPerRecord(counts, records)?.toFixed(2)} DynamoDB requests/record ${JSON.stringify(counts)}, ${(writeUnits / records).toFixed(2)} write units/record, mean latency ms ${JSON.stringify(ddbLatencyMs, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);
    return { recordsPerSec, ddbRequestsPerRecord: requestsPerRecord(counts, records), ddbWriteUnitsPerRecord: writeUnits / records, ddbByOperation: counts, ddbLatencyMs, ...(Object.keys(r.stagesMs).length ? { stagesMs: r.stagesMs } : {}), elapsedMs: r.elapsedMs };
  } catch (err) {
    return { recordsPerSec: null, ddbRequestsPerRecord: null, ddbWriteUnitsPerRecord: null, ddbByOperation: {}, elapsedMs: null, error: (err as Error).message };
  }
}

/** Lambda's largest SQS batch; bigger job counts are several invocations in a row. */
export const MAX_BATCH = 10_000;

export async function runScaling(setup: HandlerLevelSetup, sizes: readonly number[], sourceKey: string, diagnosticJobs: number): Promise<ScalingResult> {
  const runs: ScalingRun[] = [];
  try {
    for (const jobs of sizes) {
      const r = await runChild<ChildOut>(
        CHILD,
        {
          worker: 'floodgate',
          env: workerEnv(setup),
          records: jobs,
          batchSize: Math.min(MAX_BATCH, jobs),
          sourceKey,
          jobPrefix: `scale-${jobs}-${Date.now().toString(36)}`,
          // Time is what is measured here, not Lambda's timeout: give every batch room to finish.
          invocationMs: 30 * 60_000,
        },
        { timeoutMs: 30 * 60_000, nodeArgs: ['--expose-gc'] },
      );
      if (r.failures > 0) throw new Error(`${r.failures} of ${jobs} jobs failed`);
      const run: ScalingRun = { jobs, elapsedMs: r.elapsedMs, msPerJob: r.elapsedMs / jobs, peakRssMb: r.peakRssKb / 1024, peakHeapUsedMb: r.peakHeapUsedMb, retainedHeapMb: r.retainedHeapMb };
      setup.log(`scaling: ${jobs} jobs in ${(r.elapsedMs / 1000).toFixed(1)} s (${run.msPerJob.toFixed(3)} ms/job), peak RSS ${run.peakRssMb.toFixed(0)} MB, peak heap used ${r.peakHeapUsedMb.toFixed(0)} MB, heap after GC ${r.retainedHeapMb?.toFixed(1) ?? 'n/a'} MB`);
      runs.push(run);
    }
    // Diagnostic: one batch with a full GC every second, to see how much of the peak is live data.
    const jobs = Math.min(MAX_BATCH, diagnosticJobs);
    const d = await runChild<ChildOut>(
      CHILD,
      { worker: 'floodgate', env: workerEnv(setup), records: jobs, batchSize: jobs, sourceKey, jobPrefix: `live-${Date.now().toString(36)}`, invocationMs: 30 * 60_000, liveHeapSampleMs: 1000 },
      { timeoutMs: 30 * 60_000, nodeArgs: ['--expose-gc'] },
    );
    const liveHeap = { jobs, baselineHeapMb: d.baselineHeapMb, maxLiveHeapMb: d.maxLiveHeapMb, perRecordKb: ((d.maxLiveHeapMb - d.baselineHeapMb) * 1024) / jobs };
    setup.log(`scaling diagnostic: one batch of ${jobs}, live heap (after forced GC, every 1 s) at most ${d.maxLiveHeapMb.toFixed(1)} MB over a ${d.baselineHeapMb.toFixed(1)} MB baseline = ${liveHeap.perRecordKb.toFixed(2)} KB per record in the batch`);
    const first = runs[0];
    const last = runs[runs.length - 1];
    return { runs, timePerJobGrowth: ratio(last?.msPerJob, first?.msPerJob), memoryGrowth: ratio(last?.peakRssMb, first?.peakRssMb), liveHeap };
  } catch (err) {
    const first = runs[0];
    const last = runs[runs.length - 1];
    return { runs, timePerJobGrowth: runs.length > 1 ? ratio(last?.msPerJob, first?.msPerJob) : null, memoryGrowth: runs.length > 1 ? ratio(last?.peakRssMb, first?.peakRssMb) : null, error: (err as Error).message };
  }
}
