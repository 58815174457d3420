/**
 * The chaos run: small-image jobs through the job API (or, without an API in the template, as the
 * producer would: S3 PutObject + job record + SendMessage) into the real bundled worker on the local
 * stack, with faults injected in the worker (FLOODGATE_FAULTS: SDK-level AWS errors, crashes at fault
 * points, pauses), duplicate submissions and poison jobs; then the invariants (chaos/invariants.ts).
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import { STACK_OUTPUTS, UPLOADS_PREFIX } from '../lambda/shared/contract';
import { FAULTS_ENV, type FaultConfig } from '@floodgate/runtime';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';
import { inFormat, quadrants } from '../test/fixtures/images';
import { ApiClient } from '../local/api-client';
import { corpusImages, corpusMessages, fillMessage, type CorpusImage, type CorpusMessage } from './corpus';
import { startHarness, requiredOutput } from './harness';
import { checkInvariants, type ChaosVerdict, type SubmittedJob } from './invariants';
import { listRenditions, queueDepth, readDeadLetters, scanJobs } from './observe';
import { probeStaleHolders, type StaleProbeResult } from './stale-probe';
import { startFaultProxy, type FaultProxy, type FaultProxyStats } from './network-faults';
import { DEFAULT_NETWORK_RATES, jobFaultPlan, type NetworkRates } from './network-plan';
import { runLockSingleton, type LockSingletonResult } from './lock-singleton';
import { crashRateFor, DEFAULT_RATES, FAULT_POINTS_PER_RECORD, planJobs, type ChaosRates, type PlannedJob } from './plan';

export interface ChaosOptions {
  /** @default 1000 */
  readonly jobs?: number;
  /** @default 1 */
  readonly seed?: number;
  readonly rates?: Partial<ChaosRates>;
  /** Shared emulators (tests); otherwise started and stopped. */
  readonly endpoints?: LocalEndpoints;
  readonly assemblyDir?: string;
  /** The whole run is bounded: after this the verdict is taken on what is there. @default 540000 (9 min) */
  readonly timeBudgetMs?: number;
  /** Local override of the worker's 60 s timeout (a crash then costs seconds, not minutes). @default 10 */
  readonly workerTimeoutSeconds?: number;
  /** Local override of the job queue's visibility timeout (6 x 60 s in the template). @default 15 */
  readonly queueVisibilitySeconds?: number;
  /** How long a paused holder sleeps. @default 8000 (most of the 10 s timeout: it resumes at its deadline) */
  readonly pauseMs?: number;
  /** Submit through the API when the template has one. @default true */
  readonly useApi?: boolean;
  /** Concurrent producer requests. @default 8 */
  readonly producerConcurrency?: number;
  readonly log?: (line: string) => void;
  /** Network faults between the worker and DynamoDB / S3 (network-faults.ts); false = none. @default DEFAULT_NETWORK_RATES */
  readonly network?: Partial<NetworkRates> | false;
  /** Run the LockTable singleton scenario under the same network faults after the pipeline settled. @default true */
  readonly lockSingleton?: boolean;
}

export interface ChaosResult {
  readonly verdict: ChaosVerdict;
  /** Stale completions replayed against the end state (see stale-probe.ts); all must be rejected. */
  readonly staleHolderProbe: StaleProbeResult;
  readonly producer: 'api' | 'direct';
  readonly submissions: number;
  readonly invocations: number;
  /** executionsKilled / invocations, measured. */
  readonly killedShare: number;
  readonly faults: FaultConfig;
  readonly overrides: Record<string, string>;
  readonly logEvents: Record<string, number>;
  /** DLQ messages by ErrorClass (a message dead-lettered twice after a crash between send and claim update counts twice). */
  readonly deadLetterClasses: Record<string, number>;
  readonly apiRetries: Record<string, number>;
  /** Whether every job reached its end state before the time budget ran out. */
  readonly settled: boolean;
  /** The network faults injected and what the storage answered the held writes. */
  readonly network?: { readonly rates: NetworkRates; readonly stats: FaultProxyStats };
  /** The LockTable singleton under the same faults, with paused holders. */
  readonly lockSingleton?: LockSingletonResult;
}

/** Records per invocation seen in chaos runs (the producer is slower than the consumers). */
const TYPICAL_RECORDS_PER_INVOCATION = 4;

const WATCHED_EVENTS = ['stale-fenced-write-rejected', 'stale-fenced-write-accepted', 'fault-crash', 'fault-pause'] as const;

/** A few distinct small images (JPEG and PNG) the good jobs cycle through. */
async function goodImages(): Promise<{ data: Buffer; contentType: string }[]> {
  const out: { data: Buffer; contentType: string }[] = [];
  for (const [w, h] of [[64, 48], [80, 60], [48, 64], [120, 90]] as const) {
    out.push({ data: await quadrants(w, h).jpeg({ quality: 80 }).toBuffer(), contentType: 'image/jpeg' });
  }
  out.push({ data: await inFormat('png', 64, 64), contentType: 'image/png' });
  return out;
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const started = Date.now();
  const jobsCount = options.jobs ?? 1000;
  const seed = options.seed ?? 1;
  const rates: ChaosRates = { ...DEFAULT_RATES, ...options.rates };
  const log = options.log ?? (() => undefined);
  const budget = options.timeBudgetMs ?? 540_000;
  const timeout = options.workerTimeoutSeconds ?? 10;
  const faults: FaultConfig = {
    seed,
    awsErrorRate: rates.awsErrorRate,
    // Sized per fault point so that about killRate of invocations die: batches fill only partly while the
    // producer trickles jobs in (about 4 records per batch in a 1,000-job run here, measured), and each record passes
    // FAULT_POINTS_PER_RECORD points. The measured share of killed invocations is reported.
    crashRate: Number(crashRateFor(rates.killRate, FAULT_POINTS_PER_RECORD * TYPICAL_RECORDS_PER_INVOCATION).toFixed(5)),
    pauseRate: rates.pauseRate,
    pauseMs: options.pauseMs ?? 8000,
  };

  const images = await goodImages();
  const badImages: CorpusImage[] = (await corpusImages({ oversized: false })).filter((i) => i.expect !== 'ok' && i.data.length > 0);
  const badMessages: CorpusMessage[] = corpusMessages();
  const plan = planJobs(jobsCount, seed, rates, { images: badImages.length, messages: badMessages.length });

  const events: Record<string, number> = Object.fromEntries(WATCHED_EVENTS.map((e) => [e, 0]));
  // The network-fault proxy sits between the worker and the endpoint; it starts first (the worker needs
  // its URL), and forwards to the stack's endpoint once that is up.
  const networkRates: NetworkRates | undefined = options.network === false ? undefined : { ...DEFAULT_NETWORK_RATES, ...options.network };
  const indexByJob = new Map<string, number>();
  let endpointUrl = '';
  // Until the stack is up (and the jobs table known) nothing is faulted.
  let decideNetwork: Parameters<typeof startFaultProxy>[0]['decide'] = () => ({ fault: 'none' });
  let proxy: FaultProxy | undefined;
  if (networkRates) {
    proxy = await startFaultProxy({
      upstream: () => endpointUrl,
      decide: (req) => decideNetwork(req),
      maxHolds: Math.max(1, Math.ceil(jobsCount * networkRates.holdRate)),
      maxDrops: Math.max(1, Math.ceil(jobsCount * networkRates.dropRate * 2)),
      log,
    });
  }
  const harness = await startHarness({
    ...(options.endpoints ? { endpoints: options.endpoints } : {}),
    ...(options.assemblyDir ? { assemblyDir: options.assemblyDir } : {}),
    workerEnv: { [FAULTS_ENV]: JSON.stringify(faults), ...(proxy ? { AWS_ENDPOINT_URL_DYNAMODB: proxy.url, AWS_ENDPOINT_URL_S3: proxy.url } : {}) },
    workerTimeoutSeconds: timeout,
    queueVisibilitySeconds: options.queueVisibilitySeconds ?? 15,
    api: options.useApi ?? true,
    log,
    onLog: (entry) => {
      if (process.env.CHAOS_DEBUG) process.stderr.write(`[${entry.functionName}#${entry.environmentId}] ${entry.line}\n`);
      const j = entry.json;
      if (j === undefined) return;
      const ev = typeof j.event === 'string' ? j.event : typeof j.message === 'string' ? j.message : undefined;
      if (ev !== undefined && ev in events) events[ev]!++;
    },
  });
  const { endpoints, outputs } = harness;
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  endpointUrl = endpoints.endpoint;
  if (networkRates) decideNetwork = jobFaultPlan({ seed, rates: networkRates, jobsTable: requiredOutput(outputs, STACK_OUTPUTS.jobsTable), dynamodb: () => dynamodb, indexOf: (id) => indexByJob.get(id) });
  try {
    const uploadsBucket = requiredOutput(outputs, STACK_OUTPUTS.uploadsBucket);
    const renditionsBucket = requiredOutput(outputs, STACK_OUTPUTS.renditionsBucket);
    const queueUrl = requiredOutput(outputs, STACK_OUTPUTS.jobQueueUrl);
    const dlqUrl = requiredOutput(outputs, STACK_OUTPUTS.deadLetterQueueUrl);
    const jobsTable = requiredOutput(outputs, STACK_OUTPUTS.jobsTable);
    const api = harness.apiUrl !== undefined ? new ApiClient({ baseUrl: harness.apiUrl }) : undefined;
    const producer: 'api' | 'direct' = api ? 'api' : 'direct';
    log(`chaos: ${jobsCount} jobs, seed ${seed}, producer=${producer === 'api' ? 'job API (local front, SigV4)' : 'direct (S3 PutObject + job record + SendMessage; the template has no HTTP API)'}`);
    log(`chaos: faults ${JSON.stringify(faults)}; local overrides ${JSON.stringify(harness.overrides)}`);

    const runId = `${seed}-${Date.now().toString(36)}`;
    // Poison messages point at a real upload, so only the broken part of each message is broken.
    const poisonSource = `${UPLOADS_PREFIX}chaos/${runId}/poison-source.jpg`;
    await s3.send(new PutObjectCommand({ Bucket: uploadsBucket, Key: poisonSource, Body: images[0]!.data, ContentType: 'image/jpeg' }));

    const submitted: SubmittedJob[] = [];
    let submissions = 0;
    const send = async (body: string): Promise<void> => {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      submissions++;
    };

    const uploadAndSubmit = async (p: PlannedJob, data: Buffer, contentType: string): Promise<{ jobId: string; sourceKey: string; idemKey: string; request: object }> => {
      const idemKey = `chaos-${runId}-${p.index}`;
      if (api) {
        const up = await api.request('POST', '/uploads', { contentType, contentLength: data.length });
        if (up.status !== 201) throw new Error(`POST /uploads -> ${up.status} ${up.body}`);
        const u = up.json as { sourceKey: string; uploadUrl: string; headers?: Record<string, string> };
        const put = await fetch(u.uploadUrl, { method: 'PUT', body: data, headers: { 'content-type': contentType, ...u.headers } }).catch((e: unknown) => {
          throw new Error(`presigned PUT to ${new URL(u.uploadUrl).host} failed`, { cause: e });
        });
        if (!put.ok) throw new Error(`presigned PUT -> ${put.status} ${await put.text()}`);
        const request = { sourceKey: u.sourceKey };
        const res = await api.request('POST', '/jobs', request, { 'idempotency-key': idemKey });
        if (res.status !== 202) throw new Error(`POST /jobs -> ${res.status} ${res.body}`);
        submissions++;
        return { jobId: (res.json as { jobId: string }).jobId, sourceKey: u.sourceKey, idemKey, request };
      }
      const jobId = `c${runId.replace(/[^A-Za-z0-9]/g, '')}-${p.index}`;
      indexByJob.set(jobId, p.index);
      const sourceKey = `${UPLOADS_PREFIX}chaos/${runId}/${p.index}`;
      await s3.send(new PutObjectCommand({ Bucket: uploadsBucket, Key: sourceKey, Body: data, ContentType: contentType }));
      const now = new Date().toISOString();
      await dynamodb.send(
        new PutItemCommand({
          TableName: jobsTable,
          Item: { jobId: { S: jobId }, status: { S: 'queued' }, sourceKey: { S: sourceKey }, createdAt: { S: now }, updatedAt: { S: now } },
          ConditionExpression: 'attribute_not_exists(jobId)',
        }),
      );
      await send(JSON.stringify({ v: 1, jobId, sourceKey }));
      return { jobId, sourceKey, idemKey, request: { sourceKey } };
    };

    const extras: Promise<unknown>[] = [];
    const settle = (fn: () => Promise<void>): Promise<unknown> => fn().then(() => undefined, (e: unknown) => e ?? new Error('failed'));
    const limit = pLimit(options.producerConcurrency ?? 8);
    let done = 0;
    await Promise.all(
      plan.map((p) =>
        limit(async () => {
          if (p.kind === 'poison-message') {
            const m = badMessages[p.corpusIndex]!;
            const jobId = `p${runId.replace(/[^A-Za-z0-9]/g, '')}-${p.index}`;
            const body = fillMessage(m.body, jobId, poisonSource);
            indexByJob.set(jobId, p.index);
            await send(body);
            submitted.push({ jobId, poison: true, body });
          } else {
            const bad = p.kind === 'poison-image' ? badImages[p.corpusIndex]! : undefined;
            const img = bad ? { data: bad.data, contentType: 'image/jpeg' } : images[p.index % images.length]!;
            const s = await uploadAndSubmit(p, img.data, img.contentType);
            indexByJob.set(s.jobId, p.index);
            submitted.push({ jobId: s.jobId, poison: bad !== undefined });
            p.extra.forEach((kind, i) => {
              extras.push(
                // Settled into a result at once: a failure is rethrown after all submissions, never left
                // as an unhandled rejection that kills the run before it can stop the stack.
                settle(async () => {
                  await new Promise((r) => setTimeout(r, p.extraDelaysMs[i]));
                  if (kind === 'api-replay' && api) {
                    const res = await api.request('POST', '/jobs', s.request, { 'idempotency-key': s.idemKey });
                    if (res.status !== 202 || (res.json as { jobId?: string }).jobId !== s.jobId) {
                      throw new Error(`replay of ${s.idemKey} -> ${res.status} ${res.body} (expected 202 with job ${s.jobId})`);
                    }
                    submissions++;
                  } else {
                    await send(JSON.stringify({ v: 1, jobId: s.jobId, sourceKey: s.sourceKey }));
                  }
                }),
              );
            });
          }
          if (++done % 100 === 0) log(`chaos: submitted ${done}/${jobsCount} (${Date.now() - started} ms)`);
        }),
      ),
    );
    const extraErrors = (await Promise.all(extras)).filter((e) => e !== undefined);
    if (extraErrors.length > 0) throw new Error(`${extraErrors.length} duplicate submissions failed; first: ${String(extraErrors[0])}`, { cause: extraErrors[0] });
    log(`chaos: all ${submissions} submissions in (${Date.now() - started} ms); waiting for the pipeline to settle`);

    // Settle: every good job completed, every poison job failed or dead-lettered, and the queue empty
    // (late duplicates processed) - or the time budget is spent.
    const goodIds = new Set(submitted.filter((j) => !j.poison).map((j) => j.jobId));
    const poisonImages = new Set(submitted.filter((j) => j.poison && j.body === undefined).map((j) => j.jobId));
    const poisonMessages = submitted.filter((j) => j.body !== undefined).length;
    let settled = false;
    let lastLine = '';
    while (Date.now() - started < budget) {
      const records = await scanJobs(dynamodb, jobsTable);
      const completed = records.filter((r) => goodIds.has(r.jobId) && r.status === 'completed').length;
      const failed = records.filter((r) => poisonImages.has(r.jobId) && r.status === 'failed').length;
      const q = await queueDepth(sqs, queueUrl);
      const dlq = await queueDepth(sqs, dlqUrl);
      const line = `chaos: completed ${completed}/${goodIds.size}, poison images failed ${failed}/${poisonImages.size}, dlq ${dlq.visible} (>= ${poisonMessages + poisonImages.size}), queue visible ${q.visible} in flight ${q.inFlight}`;
      if (line !== lastLine) log(`${line} (${Math.round((Date.now() - started) / 1000)} s)`);
      lastLine = line;
      if (completed === goodIds.size && failed === poisonImages.size && dlq.visible >= poisonMessages + poisonImages.size && q.visible + q.inFlight + q.delayed === 0) {
        settled = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }

    // Held writes still in the network are delivered (their newer owners have finished) before the verdict.
    await proxy?.idle(Math.max(5_000, budget - (Date.now() - started)));
    const net = proxy?.stats();
    const stats = harness.stack.stats();
    const runnerStats = stats.runners[0];
    const workerName = harness.stack.deployment.functions.find((f) => f.logicalId === harness.workerLogicalId)?.functionName;
    const workerStats = stats.functions.find((f) => f.functionName === workerName);
    const cap = harness.reservedConcurrency;
    const executionsKilled = (workerStats?.crashes ?? 0) + (workerStats?.timeouts ?? 0);
    const invocations = runnerStats?.invocations ?? 0;
    const deadLetters = await readDeadLetters(sqs, dlqUrl);
    const deadLetterClasses: Record<string, number> = {};
    for (const d of deadLetters) deadLetterClasses[d.errorClass] = (deadLetterClasses[d.errorClass] ?? 0) + 1;
    const records = await scanJobs(dynamodb, jobsTable);
    const verdict = checkInvariants({
      jobs: submitted,
      records,
      renditions: await listRenditions(s3, renditionsBucket),
      deadLetters,
      maxConcurrentExecutions: stats.maxConcurrentExecutions,
      reservedConcurrency: cap,
      concurrencySamplesAboveCap: (runnerStats?.samples ?? []).filter((s) => s.inFlight > cap).length,
      // Logged by live writers, plus the late writes of senders that were gone when the proxy delivered them.
      staleFencedWritesAccepted: (events['stale-fenced-write-accepted'] ?? 0) + (net?.staleAccepted ?? 0),
      staleFencedWritesRejected: (events['stale-fenced-write-rejected'] ?? 0) + (net?.staleRejected ?? 0),
      executionsKilled,
      elapsedMs: Date.now() - started,
    });
    // After the verdict's observations: the probe's writes must not (and, if rejected, cannot) change them.
    const staleHolderProbe = await probeStaleHolders(dynamodb, jobsTable, records);
    let lockSingleton: LockSingletonResult | undefined;
    if (options.lockSingleton ?? true) {
      log('chaos: LockTable singleton under the network faults, with paused holders');
      lockSingleton = await runLockSingleton({
        seed,
        endpoint: proxy?.url ?? endpoints.endpoint,
        admin: dynamodb,
        region: endpoints.region,
        tableName: requiredOutput(outputs, STACK_OUTPUTS.lockTable),
        ...(networkRates ? { rates: networkRates } : {}),
        log,
      });
    }
    return {
      verdict,
      staleHolderProbe,
      producer,
      submissions,
      invocations,
      killedShare: invocations > 0 ? executionsKilled / invocations : 0,
      faults,
      overrides: harness.overrides,
      logEvents: events,
      deadLetterClasses,
      apiRetries: Object.fromEntries([...(api?.retriedStatuses ?? new Map<number, number>())].map(([k, v]) => [String(k), v])),
      settled,
      ...(networkRates && net ? { network: { rates: networkRates, stats: net } } : {}),
      ...(lockSingleton ? { lockSingleton } : {}),
    };
  } finally {
    await proxy?.stop();
    s3.destroy();
    sqs.destroy();
    dynamodb.destroy();
    await harness.stop();
  }
}
