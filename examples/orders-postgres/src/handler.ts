/**
 * The orders consumer's Lambda handler: wiring only. The pool size comes from the construct's
 * environment (FLOODGATE_CONNECTIONS_PER_EXECUTION, set from `downstreamBudget`), so executions x pool
 * size never exceeds the database's connections; the batch machinery (lanes, deadline, classification,
 * dead-lettering, partial batch response) is @floodgate/runtime's.
 *
 * The pool lives for the execution environment (connections are reused across invocations, and several
 * concurrent invocations in one environment share its `max`); counters live per invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  createHandlerClients,
  createLanes,
  deadLetterMessage,
  planDeadline,
  readRuntimeConfig,
  receiveCount,
  runBatch,
  sendToDeadLetterQueue,
  CONSUMER_ENV,
  type BatchReport,
  type HandlerClients,
} from '@floodgate/runtime';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pg from 'pg';
import { classifyPgError, isTooManyConnections, parseOrder } from './order.js';
import { applyOrder, dispatchPending } from './store.js';

/** Environment the orders stack sets besides the construct's. */
export const ORDERS_ENV = {
  /** postgres://user@host:port/db (in production, from Secrets Manager / RDS Proxy). */
  databaseUrl: 'ORDERS_DATABASE_URL',
} as const;

export interface OrdersHandlerOptions {
  readonly env?: Record<string, string | undefined>;
  readonly clients?: HandlerClients;
  readonly pool?: pg.Pool;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

export type OrdersHandler = ((event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Context>) => Promise<SQSBatchResponse>) & {
  readonly pool: pg.Pool;
  readonly lastReport: () => BatchReport | undefined;
};

export function createOrdersHandler(options: OrdersHandlerOptions = {}): OrdersHandler {
  const env = options.env ?? process.env;
  const config = readRuntimeConfig(env);
  const poolMax = config.connectionsPerExecution;
  if (poolMax === undefined) {
    throw new Error(`${CONSUMER_ENV.connectionsPerExecution} is not set: deploy the consumer with BoundedQueueConsumer's downstreamBudget`);
  }
  const databaseUrl = env[ORDERS_ENV.databaseUrl];
  if (!databaseUrl && !options.pool) throw new Error(`${ORDERS_ENV.databaseUrl} is not set`);
  const logger = options.logger ?? new Logger({ serviceName: 'orders' });
  const metrics = options.metrics ?? new Metrics({ namespace: 'FloodgateExamples', serviceName: 'orders' });
  const clients = options.clients ?? createHandlerClients(env);
  const pool = options.pool ?? new pg.Pool({ connectionString: databaseUrl, max: poolMax, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 60_000 });
  // An idle client whose server went away emits 'error' on the pool; without a listener it would crash the environment.
  pool.on('error', (err) => logger.warn('idle connection lost', { error: err.message }));
  let lastReport: BatchReport | undefined;

  const handler = async (event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Context>): Promise<SQSBatchResponse> => {
    const plan = planDeadline(Date.now(), context.getRemainingTimeInMillis(), config.softMarginMs, config.hardMarginMs);
    if (context.awsRequestId && context.functionName) logger.addContext(context as Context);
    const lanes = createLanes(poolMax, 1);
    const counts = { applied: 0, duplicates: 0, refusedConnections: 0 };
    const classified = async <T>(work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (err) {
        if (isTooManyConnections(err)) counts.refusedConnections++;
        throw classifyPgError(err);
      }
    };

    const report = await runBatch<SQSRecord>({
      records: event.Records,
      idOf: (r) => r.messageId,
      lanes,
      plan,
      // More records in flight than pool connections would only queue inside the pool.
      recordConcurrency: poolMax,
      process: async (record, ctx) => {
        const order = parseOrder(record.body);
        const result = await ctx.io(() => classified(() => applyOrder(pool, order)));
        if (result === 'applied') counts.applied++;
        else counts.duplicates++;
      },
      isLastReceive: (record) => config.maxReceiveCount !== undefined && receiveCount(record) >= config.maxReceiveCount,
      onFailure: (record, failure) => logger.warn('record failed', { messageId: record.messageId, errorKind: failure.kind, errorClass: failure.class, errorReason: failure.reason }),
      onPermanent: async (record, failure, _err, ctx) => {
        if (!config.deadLetterQueueUrl) throw new Error(`${CONSUMER_ENV.deadLetterQueueUrl} is not set: the permanent failure is left to the redrive policy`);
        await ctx.io(() => sendToDeadLetterQueue(clients.sqs, deadLetterMessage(record, failure, { queueUrl: config.deadLetterQueueUrl!, now: new Date(), ...(config.maxReceiveCount !== undefined ? { maxReceiveCount: config.maxReceiveCount } : {}) }), ctx.signal));
      },
    });
    lastReport = report;

    // The one-at-a-time job: whoever gets the advisory lock dispatches; a failure leaves shipments pending for the next run.
    let dispatched = 0;
    if (counts.applied > 0) {
      try {
        dispatched = (await classified(() => dispatchPending(pool))).claimed;
      } catch (err) {
        logger.warn('dispatch skipped', { error: (err as Error).message });
      }
    }

    metrics.addMetric('OrdersApplied', MetricUnit.Count, counts.applied);
    metrics.addMetric('DuplicatesSkipped', MetricUnit.Count, counts.duplicates);
    metrics.addMetric('RefusedConnections', MetricUnit.Count, counts.refusedConnections);
    metrics.addMetric('ShipmentsDispatched', MetricUnit.Count, dispatched);
    metrics.addMetric('PermanentFailures', MetricUnit.Count, report.counts.permanent + report.counts.exhausted);
    metrics.addMetric('RetryableFailures', MetricUnit.Count, report.counts.retryable + report.counts['not-started']);
    metrics.publishStoredMetrics();
    return { batchItemFailures: report.batchItemFailures };
  };
  return Object.assign(handler, { pool, lastReport: () => lastReport });
}
