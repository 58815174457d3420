/**
 * The orders consumer's Lambda handler: wiring only. The pool size comes from the construct's
 * environment (FLOODGATE_CONNECTIONS_PER_EXECUTION, set from `downstreamBudget`), so executions x pool
 * size never exceeds the database's connections; the batch (validation, lanes, deadline, classification,
 * dead-lettering, partial batch response, metrics) is @floodgate/runtime's `createConsumerHandler`.
 *
 * The pool lives for the execution environment (connections are reused across invocations, and several
 * concurrent invocations in one environment share its `max`); counters live per invocation (the
 * runtime's per-invocation `ctx.metrics`, and locals of `invoke`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  createConsumerHandler,
  readRuntimeConfig,
  CONSUMER_ENV,
  type ConsumerInvocation,
  type HandlerClients,
  type LambdaContextLike,
} from '@floodgate/runtime';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import pg from 'pg';
import { classifyPgError, isTooManyConnections, OrderMessage } from './order.js';
import { applyOrder, dispatchPending } from './store.js';

/** Environment the orders stack sets besides the construct's. */
export const ORDERS_ENV = {
  /** postgres://user@host:port/db (in production, from Secrets Manager / RDS Proxy). */
  databaseUrl: 'ORDERS_DATABASE_URL',
} as const;

/** The example's own metric names (the runtime adds RecordsSucceeded, PermanentFailures, ...). */
export const ORDERS_METRICS = {
  applied: 'OrdersApplied',
  duplicates: 'DuplicatesSkipped',
  /** SQLSTATE 53300 refusals met (the burst comparison sums this over every EMF line). */
  refusedConnections: 'RefusedConnections',
  dispatched: 'ShipmentsDispatched',
} as const;

export interface OrdersHandlerOptions {
  readonly env?: Record<string, string | undefined>;
  readonly clients?: HandlerClients;
  readonly pool?: pg.Pool;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

/** One invocation's result: the runtime's, plus the dispatch that followed the batch. */
export interface OrdersInvocation extends ConsumerInvocation {
  /** undefined when no order was applied (nothing to dispatch), or the dispatch failed. */
  readonly dispatch: { readonly ran: boolean; readonly claimed: number } | undefined;
}

export type OrdersHandler = ((event: SQSEvent, context: LambdaContextLike) => Promise<SQSBatchResponse>) & {
  readonly pool: pg.Pool;
  /** Like the handler, and also returns this invocation's report. Nothing is kept between invocations. */
  readonly invoke: (event: SQSEvent, context: LambdaContextLike) => Promise<OrdersInvocation>;
};

export function createOrdersHandler(options: OrdersHandlerOptions = {}): OrdersHandler {
  const env = options.env ?? process.env;
  const poolMax = readRuntimeConfig(env).connectionsPerExecution;
  if (poolMax === undefined) {
    throw new Error(`${CONSUMER_ENV.connectionsPerExecution} is not set: deploy the consumer with BoundedQueueConsumer's downstreamBudget`);
  }
  const databaseUrl = env[ORDERS_ENV.databaseUrl];
  if (!databaseUrl && !options.pool) throw new Error(`${ORDERS_ENV.databaseUrl} is not set`);
  const logger = options.logger ?? new Logger({ serviceName: 'orders' });
  // One sink for the runtime's EMF line and the dispatch's.
  const metrics = options.metrics ?? new Metrics({ namespace: 'FloodgateExamples', serviceName: 'orders' });
  const pool = options.pool ?? new pg.Pool({ connectionString: databaseUrl, max: poolMax, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 60_000 });
  // An idle client whose server went away emits 'error' on the pool; without a listener it would crash the environment.
  pool.on('error', (err) => logger.warn('idle connection lost', { error: err.message }));

  /** Runs `work`, counting a 53300 refusal and rethrowing any error classified (order.ts). */
  const classified = async <T>(work: () => Promise<T>, onRefused: () => void): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (isTooManyConnections(err)) onRefused();
      throw classifyPgError(err);
    }
  };

  const consumer = createConsumerHandler({
    env,
    logger,
    metrics,
    ...(options.clients ? { clients: options.clients } : {}),
    // Not JSON, or not an order: permanent InvalidMessage naming each failing field, dead-lettered.
    schema: OrderMessage,
    // More records in flight than pool connections would only queue inside the pool.
    recordConcurrency: poolMax,
    processRecord: async (_record, ctx) => {
      ctx.fields.orderId = ctx.body.orderId;
      const result = await ctx.io(() => classified(() => applyOrder(pool, ctx.body), () => ctx.metrics.count(ORDERS_METRICS.refusedConnections)));
      ctx.metrics.count(result === 'applied' ? ORDERS_METRICS.applied : ORDERS_METRICS.duplicates);
    },
    // Declared on every invocation's line, 0 included.
    onBatchEnd: (_report, { metrics: m }) => {
      for (const name of [ORDERS_METRICS.applied, ORDERS_METRICS.duplicates, ORDERS_METRICS.refusedConnections]) m.count(name, 0);
    },
  });

  const invoke = async (event: SQSEvent, context: LambdaContextLike): Promise<OrdersInvocation> => {
    const result = await consumer.invoke(event, context);
    if ((result.metrics.counts[ORDERS_METRICS.applied] ?? 0) === 0) return { ...result, dispatch: undefined };

    // The one-at-a-time job: whoever gets the advisory lock dispatches; a failure leaves shipments pending
    // for the next run. The batch's metrics are already published, so the dispatch has its own EMF line.
    const invocationLogger = logger.createChild();
    if (context.awsRequestId && context.functionName) invocationLogger.addContext(context as Context);
    let refused = 0;
    let dispatch: OrdersInvocation['dispatch'];
    try {
      dispatch = await classified(() => dispatchPending(pool), () => refused++);
    } catch (err) {
      invocationLogger.warn('dispatch skipped', { error: (err as Error).message, errorClass: (err as { errorClass?: string }).errorClass });
    }
    // add + publish in one synchronous block: concurrent invocations never flush each other's values.
    metrics.addMetric(ORDERS_METRICS.dispatched, MetricUnit.Count, dispatch?.claimed ?? 0);
    metrics.addMetric(ORDERS_METRICS.refusedConnections, MetricUnit.Count, refused);
    metrics.publishStoredMetrics();
    return { ...result, dispatch };
  };

  const handler = async (event: SQSEvent, context: LambdaContextLike): Promise<SQSBatchResponse> => (await invoke(event, context)).response;
  return Object.assign(handler, { pool, invoke });
}
