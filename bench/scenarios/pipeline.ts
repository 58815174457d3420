/**
 * `floodgate` / `powertools`: end to end on the local stack. The assembly's template is deployed on the
 * emulators (local/deploy.ts), the worker's bundled asset runs in the local Lambda host (one child
 * process per execution environment, peak RSS read from /proc), and the event source runner feeds it
 * from the queue with the mapping's batch size and concurrency cap, exactly as `npm start` does. Only the
 * assembly differs between the two runs (bench/app.ts swaps the worker entry).
 *
 * Measured phase: from the first SendMessageBatch until the runner has deleted every message (success or
 * dead-lettered); jobs are then checked in the jobs table. A warm-up round of as many tiny jobs first
 * brings up the execution environments (steady state, like the limit's warm-up render); environments
 * still created during the measured phase pay their cold start inside it, and the profile counts them.
 */
import { BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { cpus } from 'node:os';
import sharp from 'sharp';
import { cpuBreakdown, cpuSnapshot, descendants, sumThreadTicks, threadDeltaMs } from '../cpu';
import { readAssembly, selectStack } from '@floodgate/local';
import { deployTemplate, type LocalDeployment } from '@floodgate/local';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';
import { concurrencyCap, createEventSourceRunner } from '@floodgate/local';
import { createFunctionHost, type LogEntry } from '@floodgate/local';
import { PIPELINE_ENV, TABLE_ATTRIBUTES } from '../../lambda/shared/contract';
import { dynamoItemBytes } from '../../lambda/image-worker/jobs-table';
import type { DdbCounter } from '../ddb-counter';
import type { PipelineResult } from '../result';
import { perSecond, ratio, requestsPerRecord } from '../stats';

export interface PipelineOptions {
  readonly name: 'floodgate' | 'powertools';
  readonly assemblyDir: string;
  readonly endpoints: LocalEndpoints;
  readonly counter: DdbCounter;
  readonly images: readonly { name: string; path: string }[];
  /**
   * Warm-up jobs sent (and finished) before the measured phase, with a tiny JPEG each: as many as the
   * measured phase has, so the runner forms the same batches and the same number of execution
   * environments is started (cold starts happen here, cheaply), as in a steady stream on Lambda.
   */
  readonly warmupJobs: number;
  readonly limitImagesPerSec: number | null;
  readonly log: (m: string) => void;
  /** Give up on the measured phase after this long. @default 300000 */
  readonly timeoutMs?: number;
  /** Environment variables that replace the template's (diagnostic variants, e.g. another lane size). */
  readonly envOverrides?: Record<string, string>;
  /** Label in logs. @default name */
  readonly label?: string;
  /** PID of the DynamoDB Local watchdog (its JVM is a descendant), for the CPU breakdown. */
  readonly dynamodbPid?: number;
}

export interface StageProfile {
  /** Mean per-record duration of each worker stage (from the worker's EMF metrics), ms. */
  readonly stagesMs: Record<string, number>;
  /** Mean wire latency per DynamoDB operation during the measured phase, ms. */
  readonly ddbLatencyMs: Record<string, number>;
  readonly invocations: number;
  readonly coldStarts: number;
  readonly meanInitMs: number | null;
  /** The worker's CPU lane size (FLOODGATE_CPU_CONCURRENCY), when set. */
  readonly cpuLane: number | null;
  /** Records per invocation in the measured phase. */
  readonly batchSizes: readonly number[];
}

const STAGE_METRICS = ['claim', 'download', 'render', 'upload', 'complete'];

/** The stage profiles of several measured rounds of one side: means weighted by invocations, counts summed. */
export function mergeStageProfiles(profiles: readonly StageProfile[]): StageProfile | null {
  if (profiles.length <= 1) return profiles[0] ?? null;
  const weighted = (pick: (p: StageProfile) => Record<string, number>): Record<string, number> => {
    const sums: Record<string, { v: number; w: number }> = {};
    for (const p of profiles) {
      for (const [k, v] of Object.entries(pick(p))) {
        const s = (sums[k] ??= { v: 0, w: 0 });
        s.v += v * Math.max(1, p.invocations);
        s.w += Math.max(1, p.invocations);
      }
    }
    return Object.fromEntries(Object.entries(sums).map(([k, s]) => [k, s.v / s.w]));
  };
  const inits = profiles.filter((p) => p.meanInitMs !== null && p.coldStarts > 0);
  const coldStarts = inits.reduce((a, p) => a + p.coldStarts, 0);
  return {
    stagesMs: weighted((p) => p.stagesMs),
    ddbLatencyMs: weighted((p) => p.ddbLatencyMs),
    invocations: profiles.reduce((a, p) => a + p.invocations, 0),
    coldStarts: profiles.reduce((a, p) => a + p.coldStarts, 0),
    meanInitMs: coldStarts > 0 ? inits.reduce((a, p) => a + p.meanInitMs! * p.coldStarts, 0) / coldStarts : null,
    cpuLane: profiles[0]!.cpuLane,
    batchSizes: profiles.flatMap((p) => p.batchSizes),
  };
}

/** Aggregates the worker's per-batch stage averages (EMF lines) weighted by the records in each batch. */
export class StageCollector {
  private readonly sums = new Map<string, { weighted: number; n: number }>();
  add(entry: Pick<LogEntry, 'json'>): void {
    const j = entry.json;
    if (!j || typeof j !== 'object' || !('_aws' in j)) return;
    const n = Number(j['RecordsSucceeded'] ?? 0) + Number(j['PermanentFailures'] ?? 0) + Number(j['RetryableFailures'] ?? 0);
    for (const stage of STAGE_METRICS) {
      const v = j[`${stage}DurationAvg`];
      if (typeof v === 'number' && n > 0) {
        const s = this.sums.get(stage) ?? { weighted: 0, n: 0 };
        s.weighted += v * n;
        s.n += n;
        this.sums.set(stage, s);
      }
    }
  }
  result(): Record<string, number> {
    return Object.fromEntries([...this.sums].map(([k, v]) => [k, v.weighted / v.n]));
  }
}

/** The image worker of a local deployment: the function with an SQS event source and the jobs table. */
export function imageWorker(deployment: Pick<LocalDeployment, 'functions' | 'eventSourceMappings'>): { fn: LocalDeployment['functions'][number]; mapping: LocalDeployment['eventSourceMappings'][number] } {
  for (const mapping of deployment.eventSourceMappings) {
    const fn = deployment.functions.find((f) => f.logicalId === mapping.functionLogicalId && f.environment[PIPELINE_ENV.jobsTable] !== undefined);
    if (fn) return { fn, mapping };
  }
  throw new Error('no image worker function (an SQS event source and JOBS_TABLE_NAME) in the template');
}

function unmeasured(o: PipelineOptions, error: string): PipelineResult {
  return { imagesPerSec: null, ratioToLimit: null, peakRssMb: null, ddbRequestsPerRecord: null, ddbWriteUnitsPerRecord: null, images: o.images.length, completed: 0, failed: 0, elapsedMs: null, maxConcurrentExecutions: null, ddbByOperation: {}, error };
}

export async function runPipeline(o: PipelineOptions): Promise<{ result: PipelineResult; profile: StageProfile | null }> {
  const { endpoints, counter, log } = o;
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  // Talks to DynamoDB Local directly, not through the counter: the producer's and checker's requests
  // are not the worker's.
  const ddb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  let deployment: LocalDeployment | undefined;
  const stops: Array<() => Promise<void>> = [];
  try {
    // Absolute: the Lambda host resolves the asset from its own working directory.
    const assemblyDir = resolve(o.assemblyDir);
    const stack = selectStack(readAssembly(assemblyDir));
    deployment = await deployTemplate({
      template: stack.template,
      stackName: stack.stackName,
      assemblyDir,
      endpoints,
      prefix: `b${o.name.slice(0, 2)}${Date.now().toString(36).slice(-6)}`,
      log: () => undefined,
    });
    // The image worker is the function fed by the queue (the job API has the same table names in its env).
    const { fn, mapping } = imageWorker(deployment);
    const env = { ...fn.environment, ...(o.envOverrides ?? {}) };
    const cap = concurrencyCap(mapping.maximumConcurrency, fn.reservedConcurrency);
    const stages = new StageCollector();
    const host = createFunctionHost({
      functionName: fn.functionName,
      assetDir: fn.assetDir,
      handler: fn.handler,
      environment: env,
      timeoutSeconds: fn.timeoutSeconds,
      memoryMb: fn.memoryMb,
      maxEnvironments: cap,
      // The worker's DynamoDB traffic goes through the counting proxy.
      endpoints: { ...endpoints, dynamodb: counter.endpoint },
      onLog: (e) => {
        stages.add(e);
        if (process.env.BENCH_DEBUG) log(`[${o.name} env ${e.environmentId}] ${e.line.slice(0, 400)}`);
      },
    });
    stops.push(() => host.stop());
    const runner = createEventSourceRunner({
      name: mapping.logicalId,
      queueUrl: mapping.queueUrl,
      queueArn: mapping.queueArn,
      host,
      endpoints,
      batchSize: mapping.batchSize,
      maximumBatchingWindowSeconds: mapping.maximumBatchingWindowSeconds,
      ...(mapping.maximumConcurrency !== undefined ? { maximumConcurrency: mapping.maximumConcurrency } : {}),
      ...(fn.reservedConcurrency !== undefined ? { reservedConcurrency: fn.reservedConcurrency } : {}),
      reportBatchItemFailures: mapping.reportBatchItemFailures,
      waitTimeSeconds: 1,
      ...(process.env.BENCH_DEBUG ? { onInvocation: (r: unknown) => log(`[${o.name} invocation] ${JSON.stringify(r)}`) } : {}),
    });
    runner.start();
    stops.unshift(() => runner.stop());
    const label = o.label ?? o.name;
    log(`${label}: deployed (${fn.memoryMb} MB, batch ${mapping.batchSize}, concurrency cap ${cap}, lanes io=${env['FLOODGATE_IO_CONCURRENCY']} cpu=${env['FLOODGATE_CPU_CONCURRENCY']})`);

    const bucket = env[PIPELINE_ENV.uploadsBucket]!;
    const jobsTable = env[PIPELINE_ENV.jobsTable]!;
    const upload = async (round: string, images: readonly { name: string; body: () => Promise<Buffer> }[]): Promise<{ jobId: string; key: string }[]> => {
      const jobs: { jobId: string; key: string }[] = [];
      for (const [i, img] of images.entries()) {
        const key = `uploads/${round}/${i}-${img.name}`;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await img.body() }));
        jobs.push({ jobId: `${round}-${i}`, key });
      }
      return jobs;
    };
    const sendAll = async (jobs: readonly { jobId: string; key: string }[]): Promise<void> => {
      for (let i = 0; i < jobs.length; i += 10) {
        const chunk = jobs.slice(i, i + 10);
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: mapping.queueUrl,
            Entries: chunk.map((j, k) => ({ Id: String(k), MessageBody: JSON.stringify({ v: 1, jobId: j.jobId, sourceKey: j.key }) })),
          }),
        );
        if (out.Failed?.length) throw new Error(`SendMessageBatch failed for ${out.Failed.length} messages`);
      }
    };
    const deadline = Date.now() + (o.timeoutMs ?? 300_000);
    const waitDeleted = async (total: number): Promise<void> => {
      while (runner.stats().messagesDeleted < total) {
        if (Date.now() > deadline) throw new Error(`timed out: ${runner.stats().messagesDeleted} of ${total} messages done`);
        // A worker that cannot even start will never drain the queue: say why instead of waiting.
        const broken = runner.stats().invocationLog.find((r) => r.failureKind === 'init' || r.failureKind === 'crash');
        if (broken) throw new Error(`${o.name} worker ${broken.failureKind} failure: ${broken.reason ?? 'no reason given'}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    // Warm-up round (not measured).
    const tiny = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const warmJobs = await upload(`warm-${o.name}`, Array.from({ length: o.warmupJobs }, () => ({ name: 'tiny.jpg', body: async () => tiny })));
    await sendAll(warmJobs);
    await waitDeleted(warmJobs.length);
    const afterWarm = runner.stats().messagesDeleted;
    const hostWarm = host.stats();
    const warmInvocations = runner.stats().invocationLog.length;

    // Measured round: sources are uploaded first, then every message is sent at once.
    const jobs = await upload(`run-${o.name}`, o.images.map((img) => ({ name: img.name, body: () => readFile(img.path) })));
    const ddbPids = o.dynamodbPid !== undefined ? [o.dynamodbPid, ...descendants(o.dynamodbPid)] : [];
    const cpuGroups = {
      workers: () => host.stats().environments.filter((e) => e.alive).map((e) => e.pid),
      'bench process (fauxqs, runner, proxy)': () => [process.pid],
      'dynamodb-local': () => ddbPids,
    };
    counter.reset();
    const envPids = () => host.stats().environments.filter((e) => e.alive).map((e) => e.pid);
    const threadsBefore = sumThreadTicks(envPids());
    const cpuBefore = cpuSnapshot(cpuGroups);
    const t0 = performance.now();
    await sendAll(jobs);
    await waitDeleted(afterWarm + jobs.length);
    const elapsedMs = performance.now() - t0;
    const cpu = cpuBreakdown(cpuBefore, cpuSnapshot(cpuGroups), cpus().length);
    const threadMs = threadDeltaMs(threadsBefore, sumThreadTicks(envPids()));
    const ddbByOperation = counter.snapshot();
    const ddbLatencyMs = counter.latencies();
    const writeUnits = counter.writeUnits();

    // Check the outcome in the jobs table.
    const statuses = new Map<string, string>();
    let maxItemBytes = 0;
    for (let i = 0; i < jobs.length; i += 100) {
      const keys = jobs.slice(i, i + 100).map((j) => ({ [TABLE_ATTRIBUTES.jobs.partitionKey]: { S: j.jobId } }));
      // Whole items: their size (DynamoDB's rule) says whether each write is 1 write unit.
      const out = await ddb.send(new BatchGetItemCommand({ RequestItems: { [jobsTable]: { Keys: keys } } }));
      for (const item of out.Responses?.[jobsTable] ?? []) {
        statuses.set(item['jobId']!.S!, item['status']!.S!);
        maxItemBytes = Math.max(maxItemBytes, dynamoItemBytes(item));
      }
    }
    const completed = jobs.filter((j) => statuses.get(j.jobId) === 'completed').length;
    const failed = jobs.length - completed;
    const hs = host.stats();
    const rs = runner.stats();
    const imagesPerSec = perSecond(completed, elapsedMs);
    const result: PipelineResult = {
      imagesPerSec,
      ratioToLimit: ratio(imagesPerSec, o.limitImagesPerSec),
      peakRssMb: hs.maxPeakRssKb / 1024,
      ddbRequestsPerRecord: requestsPerRecord(ddbByOperation, jobs.length),
      ddbWriteUnitsPerRecord: writeUnits / jobs.length,
      images: jobs.length,
      completed,
      failed,
      elapsedMs,
      maxConcurrentExecutions: rs.maxConcurrentExecutions,
      ddbByOperation,
      cpu,
      ...(completed > 0 ? { workerThreadCpuMsPerImage: Object.fromEntries(Object.entries(threadMs).map(([g, ms]) => [g, ms / completed])) } : {}),
      maxItemBytes,
      ...(failed > 0 ? { error: `${failed} of ${jobs.length} jobs did not complete` } : {}),
    };
    const coldStarts = hs.coldStarts - hostWarm.coldStarts;
    const newInits = hs.initDurationsMs.slice(hostWarm.initDurationsMs.length);
    const profile: StageProfile = {
      stagesMs: stages.result(),
      ddbLatencyMs,
      invocations: hs.invocations - hostWarm.invocations,
      coldStarts,
      meanInitMs: newInits.length ? newInits.reduce((a, b) => a + b, 0) / newInits.length : null,
      cpuLane: env['FLOODGATE_CPU_CONCURRENCY'] ? Number(env['FLOODGATE_CPU_CONCURRENCY']) : null,
      batchSizes: rs.invocationLog.slice(warmInvocations).map((i) => i.batchSize),
    };
    log(
      `${label}: ${completed}/${jobs.length} in ${(elapsedMs / 1000).toFixed(1)} s = ${imagesPerSec?.toFixed(2)} img/s, peak RSS ${result.peakRssMb?.toFixed(0)} MB, ` +
        `${result.ddbRequestsPerRecord?.toFixed(2)} DDB req/record, max ${rs.maxConcurrentExecutions} executions, ${profile.invocations} invocations (${coldStarts} cold)`,
    );
    return { result, profile };
  } catch (err) {
    return { result: unmeasured(o, (err as Error).message), profile: null };
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await deployment?.destroy().catch(() => undefined);
    s3.destroy();
    sqs.destroy();
    ddb.destroy();
  }
}
