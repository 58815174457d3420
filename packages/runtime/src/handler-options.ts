/**
 * The options every handler factory of the runtime takes (createConsumerHandler, createStreamHandler):
 * state per record, the end-of-batch hook, and what tests and wiring replace (clients, logger, metrics,
 * env, concurrency, clock).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { HandlerClients, RequestCounter } from './aws-clients.js';
import type { BatchMetrics } from './batch-metrics.js';

export interface HandlerBaseOptions<TRecord, TState, TReport> {
  /** Creates `ctx.state` for each record. @default () => ({}) */
  readonly createState?: (record: TRecord) => TState;
  /**
   * Runs at the end of each invocation, before its metrics are published: add your own aggregates.
   * @default - none
   */
  readonly onBatchEnd?: (report: TReport, invocation: { readonly metrics: BatchMetrics; readonly logger: Logger; readonly requests: RequestCounter }) => void;
  /** SDK clients (dead-lettering uses `sqs`, idempotency `dynamodb`). @default createHandlerClients(env) */
  readonly clients?: HandlerClients;
  /** @default new Logger({ serviceName }) */
  readonly logger?: Logger;
  /** @default new Metrics({ namespace: POWERTOOLS_METRICS_NAMESPACE ?? 'Floodgate', serviceName }) */
  readonly metrics?: Metrics;
  /**
   * Service name of the default logger and metrics.
   * @default POWERTOOLS_SERVICE_NAME, else 'floodgate-consumer' (queues) or 'floodgate-stream-consumer' (streams)
   */
  readonly serviceName?: string;
  /** Where the construct's settings are read (CONSUMER_ENV; FLOODGATE_DLQ_URL is the DLQ or on-failure queue). @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** Records started at once. @default io lane + cpu lane sizes */
  readonly recordConcurrency?: number;
  /** Clock (tests). @default Date.now */
  readonly now?: () => number;
}
