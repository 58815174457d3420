/**
 * The image worker's SQS handler: createConsumerHandler (@floodgate/runtime: lanes, deadline, partial
 * batch response, dead-lettering, logs and metrics) around the image work of worker.ts. Configuration comes
 * from the environment the constructs set (CONSUMER_ENV: lanes, margins, DLQ; PIPELINE_ENV: tables,
 * buckets). The job record is the idempotency claim, through the runtime's `idempotency` option like any
 * user's (its fence orders the job record and the rendition writes); the worker has no claim code of its own.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { fileURLToPath } from 'node:url';
import { createConsumerHandler, createHandlerClients, type ConsumerHandler, type ConsumerRecordContext, type HandlerClients } from '@floodgate/runtime';
import { PIPELINE_ENV } from '../shared/contract';
import { configureSharp, DEFAULT_LIMITS, renderImage, useBundledFonts } from './image';
import { parseJobMessage, type JobMessage } from '../shared/job-message';
import { claimAttributes, createJobsStore } from './jobs-table';
import { createWorker, jobPayloadHash, type RecordState, type RenderFn, type WorkerDeps, type WorkerObserver } from './worker';

export interface ImageWorkerOptions {
  readonly env?: Record<string, string | undefined>;
  readonly clients?: HandlerClients;
  /** The image step (tests pass a fast fake). @default renderImage */
  readonly render?: RenderFn;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

export type ImageWorkerHandler = ConsumerHandler;

function required(env: Record<string, string | undefined>, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (the image pipeline stack sets it)`);
  return v;
}

/** Best effort jobId of a message that failed before it was parsed (for the JobId DLQ attribute). */
export function sniffJobId(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { jobId?: unknown };
    return typeof j.jobId === 'string' && j.jobId.length > 0 && j.jobId.length <= 256 ? j.jobId : undefined;
  } catch {
    return undefined;
  }
}

/** The worker's log lines and stage timings go to the invocation's logger and aggregates. */
function observerOf(ctx: ConsumerRecordContext<string, RecordState>): WorkerObserver {
  return {
    log: (level, message, fields = {}) => {
      if (level === 'ERROR') ctx.logger.error(message, fields);
      else if (level === 'WARN') ctx.logger.warn(message, fields);
      else if (level === 'INFO') ctx.logger.info(message, fields);
      else ctx.logger.debug(message, fields);
    },
    stage: (stage, ms) => ctx.metrics.duration(stage, ms),
  };
}

export function createImageWorkerHandler(options: ImageWorkerOptions = {}): ImageWorkerHandler {
  const env = options.env ?? process.env;
  const clients = options.clients ?? createHandlerClients(env);
  const now = options.now ?? Date.now;
  const logger = options.logger ?? new Logger({ serviceName: 'image-worker' });
  // The job record is the idempotency claim (jobs-table.ts): one item, 2 DynamoDB writes per job.
  const jobs = createJobsStore(clients.dynamodb, required(env, PIPELINE_ENV.jobsTable), now);
  // The message is parsed once per record (the claim's key, hash and attributes, then the work).
  const parsed = new WeakMap<SQSRecord, JobMessage>();
  const messageOf = (record: SQSRecord): JobMessage => {
    let m = parsed.get(record);
    if (!m) parsed.set(record, (m = parseJobMessage(record.body)));
    return m;
  };
  const deps: Omit<WorkerDeps, 'observer'> = {
    s3: clients.s3,
    render: options.render ?? (renderImage as RenderFn),
    uploadsBucket: required(env, PIPELINE_ENV.uploadsBucket),
    renditionsBucket: required(env, PIPELINE_ENV.renditionsBucket),
    maxSourceBytes: Number(env[PIPELINE_ENV.maxUploadBytes] ?? '') || DEFAULT_LIMITS.maxBytes,
    now,
  };

  return createConsumerHandler<undefined, RecordState>({
    env,
    clients,
    now,
    logger,
    metrics: options.metrics ?? new Metrics({ namespace: 'Floodgate', serviceName: 'image-worker' }),
    createState: () => ({}),
    // The job record is the claim: claimed `processing` with the fence, completed with its renditions; a
    // duplicate of a finished job is skipped, a redrive of a failed one claims it again.
    idempotency: {
      store: jobs,
      key: (record) => messageOf(record).jobId,
      payloadHash: (record) => jobPayloadHash(messageOf(record)),
      claimAttributes: (record) => claimAttributes(messageOf(record).sourceKey, now()),
    },
    processRecord: async (record, ctx) => {
      // The worker is a few closures: built per record, it reports to this invocation's aggregates only.
      const processRecord = createWorker({ ...deps, observer: observerOf(ctx) });
      try {
        await processRecord(record, ctx, messageOf(record));
      } finally {
        if (ctx.state.jobId) ctx.fields['jobId'] = ctx.state.jobId;
      }
    },
    deadLetterAttributes: (record, ctx) => ({ JobId: ctx.state.jobId ?? sniffJobId(record.body) ?? '(unknown)' }),
    onBatchEnd: (report, { metrics }) => {
      // Jobs rendered and completed here (duplicates skipped also end `done`).
      metrics.count('Processed', Math.max(0, report.counts.done - metrics.getCount('DuplicatesSkipped')));
      metrics.count('LockContention', metrics.getCount('InProgressElsewhere'));
    },
  });
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
