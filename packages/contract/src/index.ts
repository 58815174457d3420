/**
 * @floodgate/contract: the names and limits the Floodgate packages share, defined once. No dependencies:
 * @floodgate/cdk (which sets them at synth), @floodgate/runtime (which reads them in the handler) and
 * @floodgate/local (which sets the context key) all import them from here.
 */

/**
 * Context key: Lambda architecture, `arm64` or `x86_64`. `BoundedQueueConsumer` uses it when its
 * `architecture` prop is not set; `floodgate-local` sets it to the host's architecture so that native
 * modules in a bundle (sharp) load on the machine that runs it.
 */
export const ARCH_CONTEXT = 'floodgate:architecture';

/** The values ARCH_CONTEXT takes (Lambda's architecture names). */
export const ARCHITECTURES = ['arm64', 'x86_64'] as const;
export type ArchitectureName = (typeof ARCHITECTURES)[number];

/** Environment the BoundedQueueConsumer construct sets on every consumer function, and the runtime reads. */
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

/**
 * The message attributes the runtime writes on every message it dead-letters (@floodgate/runtime's
 * deadLetterMessage); the local stack's console shows ErrorClass and ErrorReason of a dead-lettered message.
 */
export const DLQ_ATTRIBUTES = ['ErrorClass', 'ErrorKind', 'ErrorReason', 'FirstFailureAt', 'SourceMessageId', 'ReceiveCount'] as const;

/** Key and TTL attribute names of the idempotency and lock tables; TTL attributes hold epoch SECONDS. */
export const TABLE_ATTRIBUTES = {
  idempotency: { partitionKey: 'id', ttl: 'expiresAt' },
  locks: { partitionKey: 'lockKey', ttl: 'expiresAt' },
} as const;

// Limits of Lambda and SQS (AWS documentation), checked at synth and honoured by the local stack.

/** Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (AWS Lambda docs). */
export const LAMBDA_MB_PER_VCPU = 1769;
/** Lambda's ceiling: 6 vCPUs at 10,240 MB. */
export const LAMBDA_MAX_VCPUS = 6;
/** Event-source ScalingConfig.MaximumConcurrency bounds (AWS::Lambda::EventSourceMapping). */
export const MIN_EVENT_SOURCE_CONCURRENCY = 2;
export const MAX_EVENT_SOURCE_CONCURRENCY = 1000;
/** ProvisionedPollerConfig bounds for SQS in CloudFormation. */
export const MIN_PROVISIONED_POLLERS = 2;
export const MAX_MINIMUM_PROVISIONED_POLLERS = 200;
export const MAX_MAXIMUM_PROVISIONED_POLLERS = 2000;
/** Each provisioned SQS poller drives up to 10 concurrent invokes (AWS Lambda docs, services-sqs-scaling). */
export const INVOKES_PER_POLLER = 10;
/** SQS queue visibility timeout ceiling (12 hours). */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** Lambda function timeout ceiling (15 minutes). */
export const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
/** SQS event source MaximumBatchingWindowInSeconds ceiling. */
export const MAX_BATCHING_WINDOW_SECONDS = 300;
/** Standard-queue BatchSize ceiling (needs a batching window above 10). */
export const MAX_BATCH_SIZE = 10_000;
/** FIFO-queue BatchSize ceiling (no batching window on FIFO). */
export const MAX_FIFO_BATCH_SIZE = 10;
/** SQS message retention ceiling (14 days). */
export const MAX_MESSAGE_RETENTION_SECONDS = 1_209_600;
