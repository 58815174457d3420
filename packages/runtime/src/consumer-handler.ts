/**
 * createConsumerHandler: one call turns `processRecord` into the Lambda handler of an SQS event source.
 *
 * Built once per execution environment (configuration, SDK clients, logger and metrics sinks); everything
 * an invocation changes is created per invocation (lanes, deadline plan, record contexts, metric
 * aggregates, request counts, child logger), so Lambda Managed Instances may run several invocations of
 * one handler at once in one process.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { countRequestsDuring, createHandlerClients, RequestCounter, type HandlerClients } from './aws-clients.js';
import { BatchMetrics } from './batch-metrics.js';
import { runBatch, type BatchReport, type RecordContext } from './batch.js';
import { readRuntimeConfig, type RuntimeConfig } from './config.js';
import { deadLetterUnderClaim, releaseClaim, resolveStore, runIdempotent, type ConsumerIdempotencyOptions, type RecordIdempotency } from './consumer-idempotency.js';
import { deadLetterMessage, receiveCount, sendToDeadLetterQueue } from './dead-letter.js';
import { planDeadline } from './deadline.js';
import type { ClassifiedFailure } from './errors.js';
import { isFifoBatch, messageGroupOf } from './fifo-groups.js';
import { createLanes } from './lanes.js';
import type { RetryBackoffOptions } from './retry-backoff.js';
import { createRetryBackoffStep, type RetryBackoffReport } from './retry-backoff-sqs.js';
import { validateBody, type StandardSchemaV1 } from './standard-schema.js';
import type { HandlerBaseOptions } from './handler-options.js';

/** What the handler needs of the Lambda context (tests and local runners may pass just this). */
export type LambdaContextLike = Pick<Context, 'getRemainingTimeInMillis'> & Partial<Context>;

/** The body processRecord sees: the schema's output, or the raw string without a schema. */
export type BodyOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : string;

/** Values that go on the runtime's log lines about a record (and to your deadLetterAttributes hook). */
export type RecordFields = Record<string, string | number | boolean | undefined>;

export interface ConsumerRecordContext<TBody = string, TState = Record<string, unknown>> extends RecordContext {
  /** The invocation's Lambda context. */
  readonly lambdaContext: LambdaContextLike;
  /** The parsed and validated body with a `schema`; the raw body otherwise. */
  readonly body: TBody;
  /** 1 on the first delivery. */
  readonly receiveCount: number;
  /** True on the message's last receive (maxReceiveCount): a retryable failure is dead-lettered now. */
  readonly isLastReceive: boolean;
  /** The record's MessageGroupId on a FIFO queue. */
  readonly messageGroupId: string | undefined;
  /** Epoch ms at which Lambda ends the invocation (the idempotency lease ends there too). */
  readonly deadlineAt: number;
  /** Put fields here (an order id, a tenant): they go on the runtime's log lines about this record. */
  readonly fields: RecordFields;
  /** Your per-record state (from `createState`): hooks see the same object. Not logged. */
  readonly state: TState;
  /** The invocation's logger (a child of the handler's, with the Lambda context). */
  readonly logger: Logger;
  /** The invocation's metric aggregates, emitted once at its end: `count(name)`, `duration(name, ms)`. */
  readonly metrics: BatchMetrics;
  /** With `idempotency`: the claim this record holds (its `fence` orders your own writes). */
  readonly idempotency: RecordIdempotency | undefined;
}

/** The record context hooks receive: the body is undefined when parsing or validation failed. */
export type HookContext<TBody, TState> = Omit<ConsumerRecordContext<TBody, TState>, 'body'> & { readonly body: TBody | undefined };

export interface ConsumerHandlerOptions<S extends StandardSchemaV1 | undefined, TState> extends HandlerBaseOptions<SQSRecord, TState, BatchReport> {
  /**
   * Processes one record. Resolve: done. Throw `PermanentError(class, reason)` (retrying cannot help: the
   * message goes to the DLQ now, with its reason) or `RetryableError(class, reason)` (SQS delivers it
   * again); other errors are classified by the runtime (classify.ts).
   */
  readonly processRecord: (record: SQSRecord, ctx: ConsumerRecordContext<BodyOf<S>, TState>) => Promise<void>;
  /**
   * A Standard Schema v1 validator (zod, valibot, arktype, ...) for the JSON body. Not JSON, or invalid, is
   * the permanent class InvalidMessage, with a reason naming each failing field.
   * @default - no validation; `ctx.body` is the raw string
   */
  readonly schema?: S;
  /**
   * Take effect once per key, with the fenced persistence of `@floodgate/runtime/idempotency` (DynamoDB,
   * or any IdempotencyPersistence): duplicates of a finished key are skipped, a key in progress elsewhere
   * is retried (InProgressElsewhere). A message moved back from the DLQ claims its `failed` key again and
   * runs (redrivenFrom); the claim's attributes, the completion's result (`ctx.idempotency.setResult`) and
   * the lease are yours to set. @default - none
   */
  readonly idempotency?: ConsumerIdempotencyOptions<BodyOf<S>>;
  /**
   * FIFO batches (detected from the event source: a `.fifo` ARN or a MessageGroupId) run each message
   * group in order, one record at a time, and different groups side by side. What a permanent failure does
   * to its group: `continue` (dead-letter it now, the group goes on) or `block-group` (report it as a batch
   * item failure, so the group waits behind it until its last receive dead-letters it).
   * @default { onPermanentFailure: 'continue' }
   */
  readonly fifo?: { readonly onPermanentFailure?: 'continue' | 'block-group' };
  /**
   * Per-message backoff for retryable failures: before the handler returns, each one's visibility timeout
   * is set to a random delay in [0, min(maxSeconds, baseSeconds * 2^(receiveCount - 1))] (full jitter),
   * capped so the message still reaches its last receive within the queue's retention; one
   * ChangeMessageVisibilityBatch per 10 failures (needs sqs:ChangeMessageVisibility). On FIFO queues the
   * records of the group skipped behind the failure get the same delay: the whole group waits.
   * @default BoundedQueueConsumer's retryBackoff (FLOODGATE_RETRY_BACKOFF_*), else none: SQS delivers a
   *   failed message again after the queue's visibility timeout
   */
  readonly retryBackoff?: RetryBackoffOptions;
  /**
   * Application attributes of a dead-lettered message (a job id, a tenant), next to the runtime's
   * ErrorClass, ErrorKind, ErrorReason, FirstFailureAt, SourceMessageId and ReceiveCount: at most
   * MAX_EXTRA_DLQ_ATTRIBUTES (4), within SQS's 10. @default - none
   */
  readonly deadLetterAttributes?: (record: SQSRecord, ctx: HookContext<BodyOf<S>, TState>, failure: ClassifiedFailure) => Record<string, string> | undefined;
  /**
   * Runs once the DLQ has the message (and, with `idempotency`, the claim is marked failed, after the
   * send): e.g. mark your own record failed. If it throws, the record becomes a batch item failure.
   * @default - none
   */
  readonly onDeadLettered?: (record: SQSRecord, failure: ClassifiedFailure, ctx: HookContext<BodyOf<S>, TState>) => Promise<void>;
}

/** One invocation's full result: the response Lambda gets, and what happened (tests, local runners). */
export interface ConsumerInvocation {
  readonly response: SQSBatchResponse;
  readonly report: BatchReport;
  readonly metrics: ReturnType<BatchMetrics['snapshot']>;
  /** AWS requests this invocation sent through counted clients, by client (`dynamodb`, `s3`, `sqs`). */
  readonly requests: Record<string, number>;
  /** With a retry backoff: the delays set (and any that could not be). */
  readonly retryBackoff?: RetryBackoffReport;
}

export type ConsumerHandler = ((event: SQSEvent, context: LambdaContextLike) => Promise<SQSBatchResponse>) & {
  /** Like the handler, and also returns this invocation's report. Nothing is kept between invocations. */
  readonly invoke: (event: SQSEvent, context: LambdaContextLike) => Promise<ConsumerInvocation>;
  readonly config: RuntimeConfig;
  readonly clients: HandlerClients;
};

const REQUEST_METRICS: Record<string, string> = { dynamodb: 'DynamoDbRequests', s3: 'S3Requests', sqs: 'SqsRequests' };

/**
 * Turns `processRecord` into the Lambda handler of an SQS event source with ReportBatchItemFailures:
 * records run through the I/O and CPU lanes under the invocation's deadline, permanent failures are
 * dead-lettered with their class and reason, retryable ones become batch item failures, FIFO batches keep
 * order within each message group. Build it once per module (it is stateless between invocations).
 *
 * @example
 * export const handler = createConsumerHandler({
 *   schema: Order, // any Standard Schema validator, e.g. zod
 *   processRecord: async (record, ctx) => {
 *     if (ctx.body.qty > 100) throw new PermanentError('OverOrderLimit', `qty ${ctx.body.qty} > 100`);
 *     await ctx.io(() => ddb.send(new PutItemCommand({ ... }), { abortSignal: ctx.signal }));
 *   },
 * });
 */
export function createConsumerHandler<S extends StandardSchemaV1 | undefined = undefined, TState = Record<string, unknown>>(
  options: ConsumerHandlerOptions<S, TState>,
): ConsumerHandler {
  type Body = BodyOf<S>;
  type Ctx = Omit<ConsumerRecordContext<Body, TState>, 'body' | 'idempotency'> & { body: Body | undefined; idempotency: RecordIdempotency | undefined };
  const env = options.env ?? process.env;
  const config = readRuntimeConfig(env);
  const clients = options.clients ?? createHandlerClients(env);
  const now = options.now ?? Date.now;
  const serviceName = options.serviceName ?? env['POWERTOOLS_SERVICE_NAME'] ?? 'floodgate-consumer';
  const baseLogger = options.logger ?? new Logger({ serviceName });
  const metricsSink = options.metrics ?? new Metrics({ serviceName, ...(env['POWERTOOLS_METRICS_NAMESPACE'] ? {} : { namespace: 'Floodgate' }) });
  const store = options.idempotency ? resolveStore(options.idempotency, clients.dynamodb, now) : undefined;
  const onPermanentFailure = options.fifo?.onPermanentFailure ?? 'continue';
  const createState = options.createState ?? (() => ({}) as TState);
  const retryBackoff = createRetryBackoffStep(options.retryBackoff, config, clients.sqs, now);
  const isLastReceive = (record: SQSRecord) => config.maxReceiveCount !== undefined && receiveCount(record) >= config.maxReceiveCount;

  const invoke = async (event: SQSEvent, context: LambdaContextLike): Promise<ConsumerInvocation> => {
    const records = event.Records ?? [];
    const plan = planDeadline(now(), context.getRemainingTimeInMillis(), config.softMarginMs, config.hardMarginMs);
    const lanes = createLanes(config.ioConcurrency, config.cpuConcurrency);
    const metrics = new BatchMetrics();
    const requests = new RequestCounter();
    const logger = baseLogger.createChild();
    // Request id, function name and cold start on every line, when Lambda gives a full context.
    if (context.awsRequestId && context.functionName) logger.addContext(context as Context);
    const fifo = isFifoBatch(records);
    // Record objects are this invocation's own: the key of its per-record contexts.
    const contexts = new Map<SQSRecord, Ctx>();

    const report = await countRequestsDuring(requests, () =>
      runBatch<SQSRecord>({
        records,
        idOf: (r) => r.messageId,
        lanes,
        plan,
        now,
        ...(options.recordConcurrency !== undefined ? { recordConcurrency: options.recordConcurrency } : {}),
        ...(fifo ? { fifo: { groupOf: messageGroupOf, onPermanentFailure } } : {}),
        isLastReceive,
        process: async (record, base) => {
          const lastReceive = isLastReceive(record);
          const ctx: Ctx = {
            ...base,
            lambdaContext: context,
            body: undefined,
            receiveCount: receiveCount(record),
            isLastReceive: lastReceive,
            messageGroupId: record.attributes?.MessageGroupId,
            deadlineAt: plan.deadlineAt,
            fields: {},
            state: createState(record),
            logger,
            metrics,
            idempotency: undefined,
          };
          contexts.set(record, ctx);
          ctx.body = (options.schema ? await validateBody(options.schema, record.body) : record.body) as Body;
          const run = () => options.processRecord(record, ctx as ConsumerRecordContext<Body, TState>);
          if (!store || !options.idempotency) return run();
          return runIdempotent(store, options.idempotency, {
            record,
            body: ctx.body as Body,
            ctx: base,
            deadlineAt: plan.deadlineAt,
            now,
            metrics,
            deadLettersPermanent: !(fifo && onPermanentFailure === 'block-group' && !lastReceive),
            onClaimed: (claim) => (ctx.idempotency = claim),
            log: (message, fields) => logger.info(message, { messageId: record.messageId, ...ctx.fields, ...fields }),
          }, run);
        },
        onFailure: (record, failure) => {
          logger.warn('record failed', {
            messageId: record.messageId,
            ...(fifo ? { messageGroupId: record.attributes?.MessageGroupId } : {}),
            ...contexts.get(record)?.fields,
            errorKind: failure.kind,
            errorClass: failure.class,
            errorReason: failure.reason,
          });
        },
        onPermanent: async (record, failure, _err, base) => {
          const ctx = contexts.get(record)!;
          const claim = ctx.idempotency?.claim;
          const dlqUrl = config.deadLetterQueueUrl;
          if (!dlqUrl) {
            if (store && claim) await releaseClaim(store, claim);
            throw new Error('FLOODGATE_DLQ_URL is not set: the failure is left to the redrive policy');
          }
          const extraAttributes = options.deadLetterAttributes?.(record, ctx, failure) ?? {};
          const message = deadLetterMessage(record, failure, { queueUrl: dlqUrl, now: new Date(now()), extraAttributes, ...(config.maxReceiveCount !== undefined ? { maxReceiveCount: config.maxReceiveCount } : {}) });
          // The DLQ send first, then the `failed` mark: whichever fails between them, nothing is lost.
          await deadLetterUnderClaim(
            store,
            {
              record,
              failure,
              claim,
              ctx: base,
              metrics,
              log: (level, msg, fields) => logger[level](msg, { messageId: record.messageId, ...ctx.fields, ...fields }),
            },
            async () => {
              await base.io(() => sendToDeadLetterQueue(clients.sqs, message, base.signal));
              logger.warn('record dead-lettered', { messageId: record.messageId, ...ctx.fields, errorKind: failure.kind, errorClass: failure.class, errorReason: failure.reason });
            },
          );
          await options.onDeadLettered?.(record, failure, ctx);
        },
      }),
    );

    // Before the response: a failed message must be invisible for its delay before SQS may return it.
    const backoff = retryBackoff && (await countRequestsDuring(requests, () => retryBackoff.run({ records, outcomes: report.outcomes, fifo, logger, deadlineAt: plan.deadlineAt })));
    if (backoff) {
      metrics.count('RetriesDelayed', backoff.changed.length);
      metrics.count('RetryDelaysFailed', backoff.failed.length);
    }
    metrics.count('RecordsSucceeded', report.counts.done);
    metrics.count('PermanentFailures', report.counts.permanent);
    metrics.count('RetryableFailures', report.counts.retryable);
    metrics.count('RecordsNotStarted', report.counts['not-started']);
    metrics.count('RetriesExhausted', report.counts.exhausted);
    if (store) for (const name of ['DuplicatesSkipped', 'InProgressElsewhere', 'ClaimsLost', 'RedrivesClaimed', 'FailedMarksLost']) metrics.count(name, 0);
    metrics.count('MaxInFlightIo', report.maxInFlight.io);
    metrics.count('MaxInFlightCpu', report.maxInFlight.cpu);
    metrics.count('MaxInFlightMemory', report.maxInFlight.memory);
    metrics.count('MaxInFlightRecords', report.maxInFlight.records);
    for (const [key, name] of Object.entries(REQUEST_METRICS)) metrics.count(name, requests.get(key));
    options.onBatchEnd?.(report, { metrics, logger, requests });
    metrics.publishTo(metricsSink);
    logger.info('batch done', {
      records: records.length,
      fifo,
      ...report.counts,
      maxInFlight: report.maxInFlight,
      hardDeadlineHit: report.hardDeadlineHit,
      requests: requests.snapshot(),
    });
    return { response: { batchItemFailures: report.batchItemFailures }, report, metrics: metrics.snapshot(), requests: requests.snapshot(), ...(backoff ? { retryBackoff: backoff } : {}) };
  };

  const handler = async (event: SQSEvent, context: LambdaContextLike): Promise<SQSBatchResponse> => (await invoke(event, context)).response;
  return Object.assign(handler, { invoke, config, clients });
}
