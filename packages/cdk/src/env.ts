/**
 * The environment contract between this library (which sets it on every consumer function) and
 * @floodgate/runtime (which reads it). The runtime keeps an identical copy (packages/runtime/src/env.ts);
 * test/env-contract.test.ts checks that they agree.
 */
/** Environment the BoundedQueueConsumer construct sets on every consumer function. */
export const CONSUMER_ENV = {
  /** Size of the I/O lane (S3, DynamoDB, SQS calls in flight per invocation). */
  ioConcurrency: 'FLOODGATE_IO_CONCURRENCY',
  /** Size of the CPU lane (sharp pipelines in flight per invocation). */
  cpuConcurrency: 'FLOODGATE_CPU_CONCURRENCY',
  /** Stop starting records when less than this many ms remain. */
  softMarginMs: 'FLOODGATE_SOFT_MARGIN_MS',
  /** Abort in-flight I/O when less than this many ms remain. */
  hardMarginMs: 'FLOODGATE_HARD_MARGIN_MS',
  /** URL of the dead-letter queue; permanent failures are sent there by the handler itself. */
  deadLetterQueueUrl: 'FLOODGATE_DLQ_URL',
  /** The source queue's maxReceiveCount (the handler reports it in DLQ attributes). */
  maxReceiveCount: 'FLOODGATE_MAX_RECEIVE_COUNT',
  /** downstreamBudget.connectionsPerExecution: the most connections one execution may open (size its pool with it). Set only with a budget. */
  connectionsPerExecution: 'FLOODGATE_CONNECTIONS_PER_EXECUTION',
  /** The source queue's URL, whose messages retryBackoff delays. Set only with retryBackoff. */
  queueUrl: 'FLOODGATE_QUEUE_URL',
  /** retryBackoff.base in seconds: ceiling of the first retry's delay (doubling per receive). Set only with retryBackoff. */
  retryBackoffBaseSeconds: 'FLOODGATE_RETRY_BACKOFF_BASE_SECONDS',
  /** retryBackoff.max in seconds: ceiling of any retry's delay. Set only with retryBackoff. */
  retryBackoffMaxSeconds: 'FLOODGATE_RETRY_BACKOFF_MAX_SECONDS',
  /** The source queue's retention in seconds: delays leave time for the last receive. Set only with retryBackoff. */
  queueRetentionSeconds: 'FLOODGATE_QUEUE_RETENTION_SECONDS',
  /** The source queue's visibility timeout in seconds (how long one receive holds a message). Set only with retryBackoff. */
  visibilityTimeoutSeconds: 'FLOODGATE_VISIBILITY_TIMEOUT_SECONDS',
} as const;
