/**
 * createStreamHandler: one call turns `processRecord` into the Lambda handler of a DynamoDB Streams or
 * Kinesis event source with ReportBatchItemFailures.
 *
 * - Records with the same partition key run in sequence order, one at a time; different keys run side by
 *   side, inside the same I/O / CPU / memory lanes and deadline as the SQS handler (batch.ts).
 * - The response is a checkpoint: the lowest failed sequence number (stream-planner.ts). After a failure,
 *   records later in the batch are not started; Lambda delivers them again.
 * - Permanent failures (PermanentError, AccessDenied, ...) go to the on-failure queue (FLOODGATE_DLQ_URL,
 *   set by BoundedStreamConsumer) with their class and reason, and the shard goes on. Without a queue they
 *   are checkpoint failures, retried until the mapping's MaximumRetryAttempts / MaximumRecordAge.
 * - Same error classes (classify.ts), structured logs and metrics as createConsumerHandler.
 *
 * Built once per execution environment; everything an invocation changes is created per invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { countRequestsDuring, createHandlerClients, RequestCounter, type HandlerClients } from './aws-clients.js';
import { BatchMetrics } from './batch-metrics.js';
import { runBatch, type BatchReport, type RecordContext } from './batch.js';
import { readRuntimeConfig, type RuntimeConfig } from './config.js';
import type { LambdaContextLike, RecordFields } from './consumer-handler.js';
import { planDeadline } from './deadline.js';
import type { HandlerBaseOptions } from './handler-options.js';
import { createLanes } from './lanes.js';
import { sendStreamFailure, streamFailureMessage } from './stream-dead-letter.js';
import { checkpointResponse, createStreamPlanner } from './stream-planner.js';
import { partitionKeyOf, sequenceNumberOf, streamSourceOf, type StreamRecord, type StreamSource } from './stream-records.js';

export interface StreamRecordContext<TState = Record<string, unknown>> extends RecordContext {
  readonly lambdaContext: LambdaContextLike;
  /** `dynamodb` or `kinesis`. */
  readonly source: StreamSource;
  /** The unit of order (Kinesis partitionKey; DynamoDB the item's Keys as canonical JSON, or yours). */
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  /** Epoch ms at which Lambda ends the invocation. */
  readonly deadlineAt: number;
  /** Put fields here: they go on the runtime's log lines about this record. */
  readonly fields: RecordFields;
  /** Your per-record state (from `createState`). */
  readonly state: TState;
  readonly logger: Logger;
  readonly metrics: BatchMetrics;
}

export interface StreamHandlerOptions<R extends StreamRecord, TState> extends HandlerBaseOptions<R, TState, StreamBatchReport> {
  /**
   * Processes one record. Resolve: done. Throw `PermanentError(class, reason)` (sent to the on-failure
   * queue, the shard goes on) or `RetryableError(class, reason)` (the batch checkpoints before it and
   * Lambda retries from it); other errors are classified by the runtime (classify.ts).
   */
  readonly processRecord: (record: R, ctx: StreamRecordContext<TState>) => Promise<void>;
  /**
   * The unit of order. Records with equal keys run in sequence order, one at a time.
   * @default Kinesis `partitionKey`; DynamoDB the item's primary key (`dynamodb.Keys`)
   */
  readonly partitionKey?: (record: R) => string;
}

/** The batch report, with outcome ids = sequence numbers in ascending order, and the checkpoint. */
export interface StreamBatchReport extends BatchReport {
  /** The sequence number Lambda retries from, or undefined when the whole batch is done. */
  readonly checkpoint: string | undefined;
}

export interface StreamBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export interface StreamInvocation {
  readonly response: StreamBatchResponse;
  readonly report: StreamBatchReport;
  readonly metrics: ReturnType<BatchMetrics['snapshot']>;
  readonly requests: Record<string, number>;
}

export type StreamHandler<R extends StreamRecord = StreamRecord> = ((event: { Records: R[] }, context: LambdaContextLike) => Promise<StreamBatchResponse>) & {
  readonly invoke: (event: { Records: R[] }, context: LambdaContextLike) => Promise<StreamInvocation>;
  readonly config: RuntimeConfig;
  readonly clients: HandlerClients;
};

const REQUEST_METRICS: Record<string, string> = { dynamodb: 'DynamoDbRequests', s3: 'S3Requests', sqs: 'SqsRequests' };

/**
 * @example
 * export const handler = createStreamHandler<DynamoDBRecord>({
 *   processRecord: async (record, ctx) => {
 *     const item = unmarshall(record.dynamodb!.NewImage as never);
 *     await ctx.io(() => fetch(`https://search.internal/index/${item.id}`, { method: 'PUT', body: JSON.stringify(item), signal: ctx.signal }));
 *   },
 * });
 */
export function createStreamHandler<R extends StreamRecord = StreamRecord, TState = Record<string, unknown>>(options: StreamHandlerOptions<R, TState>): StreamHandler<R> {
  const env = options.env ?? process.env;
  const config = readRuntimeConfig(env);
  const clients = options.clients ?? createHandlerClients(env);
  const now = options.now ?? Date.now;
  const serviceName = options.serviceName ?? env['POWERTOOLS_SERVICE_NAME'] ?? 'floodgate-stream-consumer';
  const baseLogger = options.logger ?? new Logger({ serviceName });
  const metricsSink = options.metrics ?? new Metrics({ serviceName, ...(env['POWERTOOLS_METRICS_NAMESPACE'] ? {} : { namespace: 'Floodgate' }) });
  const createState = options.createState ?? (() => ({}) as TState);
  const keyOf = options.partitionKey ?? partitionKeyOf;

  const invoke = async (event: { Records: R[] }, context: LambdaContextLike): Promise<StreamInvocation> => {
    // Lambda sends one shard's records in sequence order; sorting (stable) makes that a fact here, since
    // the checkpoint is "everything before the lowest failure".
    const entries = (event.Records ?? []).map((record) => {
      const seq = sequenceNumberOf(record);
      return { record, seq, order: BigInt(seq), key: keyOf(record) };
    });
    entries.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const records = entries.map((e) => e.record);
    const meta = new Map(entries.map((e) => [e.record, e]));
    const plan = planDeadline(now(), context.getRemainingTimeInMillis(), config.softMarginMs, config.hardMarginMs);
    const lanes = createLanes(config.ioConcurrency, config.cpuConcurrency);
    const metrics = new BatchMetrics();
    const requests = new RequestCounter();
    const logger = baseLogger.createChild();
    if (context.awsRequestId && context.functionName) logger.addContext(context as Context);
    const planner = createStreamPlanner(entries.map((e) => e.key));
    const fieldsOf = new Map<R, RecordFields>();
    const about = (record: R) => {
      const m = meta.get(record)!;
      return { sequenceNumber: m.seq, partitionKey: m.key, eventSourceARN: record.eventSourceARN, ...fieldsOf.get(record) };
    };

    const batch = await countRequestsDuring(requests, () =>
      runBatch<R>({
        records,
        idOf: (r) => meta.get(r)!.seq,
        lanes,
        plan,
        now,
        scheduler: planner,
        ...(options.recordConcurrency !== undefined ? { recordConcurrency: options.recordConcurrency } : {}),
        process: async (record, base) => {
          const m = meta.get(record)!;
          const fields: RecordFields = {};
          fieldsOf.set(record, fields);
          const ctx: StreamRecordContext<TState> = {
            ...base,
            lambdaContext: context,
            source: streamSourceOf(record),
            partitionKey: m.key,
            sequenceNumber: m.seq,
            deadlineAt: plan.deadlineAt,
            fields,
            state: createState(record),
            logger,
            metrics,
          };
          await options.processRecord(record, ctx);
        },
        onFailure: (record, failure) => {
          logger.warn('record failed', { ...about(record), errorKind: failure.kind, errorClass: failure.class, errorReason: failure.reason });
        },
        // Without an on-failure queue runBatch makes a permanent failure a checkpoint failure (retried
        // until the mapping gives up), so it is never dropped.
        ...(config.deadLetterQueueUrl
          ? {
              onPermanent: async (record: R, failure, _err, base) => {
                const message = streamFailureMessage(record, failure, { queueUrl: config.deadLetterQueueUrl!, now: new Date(now()) });
                await base.io(() => sendStreamFailure(clients.sqs, message, base.signal));
                logger.warn('record sent to the on-failure queue', { ...about(record), errorKind: failure.kind, errorClass: failure.class, errorReason: failure.reason });
              },
            }
          : {}),
      }),
    );

    const statuses = batch.outcomes.map((o) => (o.status === 'retryable' || o.status === 'not-started' ? 'failed' : 'done') as 'failed' | 'done');
    const response = checkpointResponse(entries.map((e) => e.seq), statuses);
    const report: StreamBatchReport = { ...batch, checkpoint: response.batchItemFailures[0]?.itemIdentifier };

    metrics.count('RecordsSucceeded', report.counts.done);
    metrics.count('PermanentFailures', report.counts.permanent);
    metrics.count('RetryableFailures', report.counts.retryable);
    metrics.count('RecordsNotStarted', report.counts['not-started']);
    metrics.count('MaxInFlightIo', report.maxInFlight.io);
    metrics.count('MaxInFlightCpu', report.maxInFlight.cpu);
    metrics.count('MaxInFlightMemory', report.maxInFlight.memory);
    metrics.count('MaxInFlightRecords', report.maxInFlight.records);
    for (const [key, name] of Object.entries(REQUEST_METRICS)) metrics.count(name, requests.get(key));
    options.onBatchEnd?.(report, { metrics, logger, requests });
    metrics.publishTo(metricsSink);
    logger.info('batch done', {
      records: records.length,
      source: records[0] ? streamSourceOf(records[0]) : undefined,
      eventSourceARN: records[0]?.eventSourceARN,
      ...report.counts,
      checkpoint: report.checkpoint,
      maxInFlight: report.maxInFlight,
      hardDeadlineHit: report.hardDeadlineHit,
      requests: requests.snapshot(),
    });
    return { response, report, metrics: metrics.snapshot(), requests: requests.snapshot() };
  };

  const handler = async (event: { Records: R[] }, context: LambdaContextLike): Promise<StreamBatchResponse> => (await invoke(event, context)).response;
  return Object.assign(handler, { invoke, config, clients });
}
