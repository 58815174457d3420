/**
 * The image worker's SQS handler: wiring only. Configuration comes from the environment the constructs
 * set (CONSUMER_ENV: lanes, margins, DLQ; PIPELINE_ENV: tables, buckets); the work is in worker.ts, the
 * batch/deadline/lane machinery in ../runtime, the claim and fencing in ../idempotency and ../lock.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { PIPELINE_ENV } from '../shared/contract';
import { createHandlerClients, type HandlerClients } from '@floodgate/runtime';
import { runBatch, type BatchReport } from '@floodgate/runtime';
import { readRuntimeConfig, type RuntimeConfig } from '@floodgate/runtime';
import { deadLetterMessage, receiveCount, sendToDeadLetterQueue } from '@floodgate/runtime';
import { planDeadline } from '@floodgate/runtime';
import { createLanes } from '@floodgate/runtime';
import { fileURLToPath } from 'node:url';
import { configureSharp, DEFAULT_LIMITS, renderImage, useBundledFonts } from './image';
import { createJobsStore } from './jobs-table';
import { createWorker, type RecordState, type RenderFn, type WorkerObserver } from './worker';

export interface ImageWorkerOptions {
  readonly env?: Record<string, string | undefined>;
  readonly clients?: HandlerClients;
  /** The image step (tests pass a fast fake). @default renderImage */
  readonly render?: RenderFn;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

export type ImageWorkerHandler = ((event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Context>) => Promise<SQSBatchResponse>) & {
  /** The last batch's report (outcomes, lane peaks): for tests and the local runner's statistics. */
  readonly lastReport: () => BatchReport | undefined;
  readonly config: RuntimeConfig;
  readonly clients: HandlerClients;
};

function required(env: Record<string, string | undefined>, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (the image pipeline stack sets it)`);
  return v;
}

const STAGES = ['claim', 'download', 'render', 'upload', 'complete'] as const;

export function createImageWorkerHandler(options: ImageWorkerOptions = {}): ImageWorkerHandler {
  const env = options.env ?? process.env;
  const config = readRuntimeConfig(env);
  const clients = options.clients ?? createHandlerClients(env);
  const now = options.now ?? Date.now;
  const logger = options.logger ?? new Logger({ serviceName: 'image-worker' });
  const metrics = options.metrics ?? new Metrics({ namespace: 'Floodgate', serviceName: 'image-worker' });
  const maxUploadBytes = Number(env[PIPELINE_ENV.maxUploadBytes] ?? '') || DEFAULT_LIMITS.maxBytes;

  // Per batch aggregates (a 10,000-record batch must not emit 50,000 metric values).
  let counters = new Map<string, number>();
  let stages = new Map<string, { sum: number; n: number; max: number }>();
  const observer: WorkerObserver = {
    log: (level, message, fields) => {
      if (level === 'ERROR') logger.error(message, fields ?? {});
      else if (level === 'WARN') logger.warn(message, fields ?? {});
      else if (level === 'INFO') logger.info(message, fields ?? {});
      else logger.debug(message, fields ?? {});
    },
    count: (metric, value = 1) => counters.set(metric, (counters.get(metric) ?? 0) + value),
    stage: (stage, ms) => {
      const s = stages.get(stage) ?? { sum: 0, n: 0, max: 0 };
      s.sum += ms;
      s.n++;
      s.max = Math.max(s.max, ms);
      stages.set(stage, s);
    },
  };
  // The job record is the idempotency claim (jobs-table.ts): one item, 2 DynamoDB writes per job.
  const jobs = createJobsStore(clients.dynamodb, required(env, PIPELINE_ENV.jobsTable), now);
  const processRecord = createWorker({
    s3: clients.s3,
    jobs,
    render: options.render ?? (renderImage as RenderFn),
    uploadsBucket: required(env, PIPELINE_ENV.uploadsBucket),
    renditionsBucket: required(env, PIPELINE_ENV.renditionsBucket),
    maxSourceBytes: maxUploadBytes,
    observer,
    now,
  });
  let lastReport: BatchReport | undefined;

  const handler = async (event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Context>): Promise<SQSBatchResponse> => {
    const plan = planDeadline(now(), context.getRemainingTimeInMillis(), config.softMarginMs, config.hardMarginMs);
    // Request id, function name and cold start on every log line when Lambda gives us a full context.
    if (context.awsRequestId && context.functionName) logger.addContext(context as Context);
    // Fresh lanes per invocation: the peaks are per invocation, and nothing from an aborted batch leaks in.
    const lanes = createLanes(config.ioConcurrency, config.cpuConcurrency);
    const states = new Map<string, RecordState>();
    const ddbBefore = clients.requests.get('dynamodb');
    counters = new Map();
    stages = new Map();

    const report = await runBatch<SQSRecord>({
      records: event.Records,
      idOf: (r) => r.messageId,
      lanes,
      plan,
      now,
      process: async (record, ctx) => {
        const state: RecordState = {};
        states.set(record.messageId, state);
        await processRecord(record, ctx, state, plan.deadlineAt);
      },
      isLastReceive: (record) => config.maxReceiveCount !== undefined && receiveCount(record) >= config.maxReceiveCount,
      onFailure: (record, failure) => {
        const state = states.get(record.messageId);
        logger.warn('record failed', { messageId: record.messageId, jobId: state?.jobId, errorKind: failure.kind, errorClass: failure.class, errorReason: failure.reason });
      },
      onPermanent: async (record, failure, _err, ctx) => {
        if (!config.deadLetterQueueUrl) throw new Error('FLOODGATE_DLQ_URL is not set: the permanent failure is left to the redrive policy');
        const state = states.get(record.messageId);
        await ctx.io(() => sendToDeadLetterQueue(clients.sqs, deadLetterMessage(record, failure, config.deadLetterQueueUrl!, new Date(now()), state?.jobId, config.maxReceiveCount), ctx.signal));
        // After the DLQ has it: duplicates of this message are then skipped instead of failing again.
        if (failure.kind === 'permanent' && state?.claim) await ctx.io(() => jobs.fail(state.claim!, failure.class, failure.reason, ctx.signal));
      },
    });
    lastReport = report;

    const ddbRequests = clients.requests.get('dynamodb') - ddbBefore;
    metrics.addMetric('RecordsSucceeded', MetricUnit.Count, report.counts.done);
    metrics.addMetric('PermanentFailures', MetricUnit.Count, report.counts.permanent);
    metrics.addMetric('RetryableFailures', MetricUnit.Count, report.counts.retryable);
    metrics.addMetric('RecordsNotStarted', MetricUnit.Count, report.counts['not-started']);
    metrics.addMetric('RetriesExhausted', MetricUnit.Count, report.counts.exhausted);
    for (const name of ['Processed', 'DuplicatesSkipped', 'InProgressElsewhere', 'StaleWritesRejected', 'ClaimsLost']) {
      metrics.addMetric(name, MetricUnit.Count, counters.get(name) ?? 0);
    }
    metrics.addMetric('LockContention', MetricUnit.Count, counters.get('InProgressElsewhere') ?? 0);
    metrics.addMetric('MaxInFlightIo', MetricUnit.Count, report.maxInFlight.io);
    metrics.addMetric('MaxInFlightCpu', MetricUnit.Count, report.maxInFlight.cpu);
    metrics.addMetric('MaxInFlightMemory', MetricUnit.Count, report.maxInFlight.memory);
    metrics.addMetric('DynamoDbRequests', MetricUnit.Count, ddbRequests);
    for (const stage of STAGES) {
      const s = stages.get(stage);
      if (s) {
        metrics.addMetric(`${stage}DurationAvg`, MetricUnit.Milliseconds, s.sum / s.n);
        metrics.addMetric(`${stage}DurationMax`, MetricUnit.Milliseconds, s.max);
      }
    }
    metrics.publishStoredMetrics();
    logger.info('batch done', {
      records: event.Records.length,
      ...report.counts,
      maxInFlight: report.maxInFlight,
      hardDeadlineHit: report.hardDeadlineHit,
      dynamodbRequests: ddbRequests,
    });
    return { batchItemFailures: report.batchItemFailures };
  };
  return Object.assign(handler, { lastReport: () => lastReport, config, clients });
}

let instance: ImageWorkerHandler | undefined;

/** The Lambda entry point: built once per execution environment (cold start), reused while warm. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  if (!instance) {
    // In the asset, fonts/ sits beside the bundle (see ImagePipelineStack); from source there is none.
    useBundledFonts(fileURLToPath(new URL('./fonts', import.meta.url)));
    configureSharp();
    instance = createImageWorkerHandler();
  }
  return instance(event, context);
};
