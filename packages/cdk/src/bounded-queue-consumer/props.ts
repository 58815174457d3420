import type { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { DownstreamBudget, ProvisionedPollerConfig } from '../consumer-settings/index';

/** Bounds of the per-message retry backoff ({@link BoundedQueueConsumerProps.retryBackoff}). */
export interface RetryBackoffProps {
  /** Ceiling of the first retry's delay; it doubles with each receive. Whole seconds, at least 1 s. */
  readonly base: Duration;
  /** Ceiling of any retry's delay. Whole seconds, from `base` to 12 h minus the visibility timeout. */
  readonly max: Duration;
}

/**
 * Properties of a {@link BoundedQueueConsumer}.
 *
 * Numbers and Durations may be CDK tokens (e.g. `CfnParameter.valueAsNumber`): checks that involve a token
 * are skipped, and a value that would have to be computed from a token must be given explicitly.
 */
export interface BoundedQueueConsumerProps {
  /**
   * Path to the consumer's TypeScript/JavaScript entry file, bundled with esbuild into a Node.js 24
   * function (ESM, AWS SDK bundled at the project's pinned versions). Exactly one of `entry` and
   * `consumerFunction` must be set. Bundling needs `esbuild` installed in the app
   * (`npm install --save-dev esbuild`).
   * @default - none
   */
  readonly entry?: string;

  /**
   * Name of the exported handler in `entry`.
   * @default 'handler'
   */
  readonly handler?: string;

  /**
   * An existing function to use as the consumer instead of `entry`.
   *
   * If it is a `lambda.Function` defined in this app, the construct adds the sizing environment, sets
   * reserved concurrency (or validates the one you set) and reads its timeout and memory. If it is an
   * imported function (`fromFunctionAttributes`), none of that is possible: pass `timeout` and `memorySize`
   * matching the real function, and set its environment and reserved concurrency yourself; a warning
   * reminds you at synth.
   * @default - none
   */
  readonly consumerFunction?: lambda.IFunction;

  /**
   * Instruction set of the function (only with `entry`). `nodeModules` are installed for it.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;

  /**
   * Packages installed (not bundled) into the asset with `npm ci` for the function's platform
   * (linux, its architecture, glibc): native modules such as `sharp`. Only with `entry`.
   * @default - none
   */
  readonly nodeModules?: string[];

  /**
   * Files copied into the asset after bundling (only with `entry`): destination path inside the asset
   * -> absolute source path. For data the bundle cannot carry, e.g. fonts for text rendering (the Lambda
   * runtime ships none).
   * @default - none
   */
  readonly assetFiles?: Record<string, string>;

  /**
   * Extra environment for the function (only with `entry` or a `lambda.Function`). The FLOODGATE_* sizing
   * variables are set by the construct and cannot be overridden here.
   * @default - none
   */
  readonly environment?: Record<string, string>;

  /**
   * Function timeout. With an imported `consumerFunction`, it must equal the real function's timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;

  /**
   * Function memory in MB; also sizes the CPU lane (1 vCPU per 1,769 MB).
   * @default 1024
   */
  readonly memorySize?: number;

  /**
   * Make the source queue and the dead-letter queue FIFO queues. Records of one message group are then
   * delivered in order, one batch of a group at a time. FIFO event sources take no `maxBatchingWindow`
   * and at most 10 records per batch.
   * @default false
   */
  readonly fifo?: boolean;

  /**
   * FIFO only: deduplicate by a SHA-256 of the body when the producer sends no MessageDeduplicationId.
   * @default false
   */
  readonly contentBasedDeduplication?: boolean;

  /**
   * FIFO only: high-throughput mode, deduplication scope and throughput limit per message group
   * (`DeduplicationScope: messageGroup`, `FifoThroughputLimit: perMessageGroupId`).
   * @default false
   */
  readonly highThroughputFifo?: boolean;

  /**
   * Records per invocation (1..10,000; above 10 needs `maxBatchingWindow`; at most 10 on FIFO).
   * @default 10
   */
  readonly batchSize?: number;

  /**
   * How long the poller gathers records before invoking (0..300 s). Not on FIFO queues.
   * @default - no batching window
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * The event source's cap on concurrent invocations (ScalingConfig.MaximumConcurrency, 2..1000).
   * Set this, `downstreamBudget`, or `provisionedPollerConfig.maximumPollers`.
   * @default - derived from `downstreamBudget`
   */
  readonly maxConcurrency?: number;

  /**
   * Derive the cap from what the downstream can take: executions = floor(maxConnections /
   * connectionsPerExecution). Standard mode: `maxConcurrency` = executions (an error below 2, capped at
   * 1000). Provisioned mode: `maximumPollers` = floor(executions / 10) and reserved concurrency = executions.
   * @default - use `maxConcurrency` or `provisionedPollerConfig.maximumPollers`
   */
  readonly downstreamBudget?: DownstreamBudget;

  /**
   * SQS provisioned mode: dedicated pollers (ProvisionedPollerConfig) instead of ScalingConfig. Each poller
   * drives up to 10 concurrent invokes, so the cap is 10 x maximumPollers. Exclusive with `maxConcurrency`.
   * @default - standard mode (ScalingConfig.MaximumConcurrency)
   */
  readonly provisionedPollerConfig?: ProvisionedPollerConfig;

  /**
   * Reserved concurrency of the function. Below the cap (`maxConcurrency`, or 10 x maximumPollers) is an
   * error: Lambda would throttle the poller and throttled receives count toward the DLQ.
   * @default - the cap (with `downstreamBudget` in provisioned mode: the budget's executions)
   */
  readonly reservedConcurrency?: number;

  /**
   * Receives before SQS moves a message to the dead-letter queue; at least 5 (AWS guidance).
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * Visibility timeout of the queue; below 6 x timeout + maxBatchingWindow is an error.
   * @default - 6 x timeout + maxBatchingWindow
   */
  readonly visibilityTimeout?: Duration;

  /**
   * Retention of the source queue.
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;

  /**
   * Per-message retry backoff. A retryable failure stays invisible for a random delay in
   * [0, min(max, base x 2^(receives - 1))] (exponential backoff with full jitter, by the message's
   * ApproximateReceiveCount) instead of the queue's visibility timeout: the handler of
   * `@floodgate/runtime` sets it with ChangeMessageVisibilityBatch before returning its batch item
   * failures, and caps it so the message still reaches its last receive within `retentionPeriod`. The
   * function gets the bounds, the queue URL, its retention and visibility timeout in its environment; its
   * role has `sqs:ChangeMessageVisibility` on the queue (part of the event source's consume grant). On a FIFO queue the delay holds the message's
   * whole group. Checked at synth: whole seconds, base >= 1 s, max >= base, visibilityTimeout + max <= 12 h,
   * and (maxReceiveCount - 1) x (visibilityTimeout + max) <= retentionPeriod.
   * @default - no backoff: a failed message comes back after the visibility timeout
   */
  readonly retryBackoff?: RetryBackoffProps;

  /**
   * An existing queue to use as the dead-letter queue. It must be FIFO exactly when `fifo` is set. Its
   * retention and encryption are yours to choose (the function is granted send on it).
   * @default - a dead-letter queue is created
   */
  readonly deadLetterQueue?: sqs.IQueue;

  /**
   * Retention of the created dead-letter queue; must be at least `retentionPeriod` on standard queues.
   * Not with `deadLetterQueue`.
   * @default Duration.days(14)
   */
  readonly deadLetterRetentionPeriod?: Duration;

  /**
   * KMS key for both created queues. The function is granted decrypt (consume) and encrypt (DLQ sends).
   * @default - SSE-SQS (SQS-managed keys)
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Size of the I/O lane (S3/DynamoDB/SQS calls in flight per invocation), FLOODGATE_IO_CONCURRENCY.
   * @default 16
   */
  readonly ioConcurrency?: number;

  /**
   * Size of the CPU lane, FLOODGATE_CPU_CONCURRENCY.
   * @default - max(1, min(6, floor(memorySize / 1769))), the vCPUs Lambda gives that memory
   */
  readonly cpuConcurrency?: number;

  /**
   * Stop starting records when this much time remains (FLOODGATE_SOFT_MARGIN_MS).
   * @default - 20 % of timeout, clamped to 5..60 s (at most half the timeout)
   */
  readonly softDeadlineMargin?: Duration;

  /**
   * Abort in-flight I/O when this much time remains (FLOODGATE_HARD_MARGIN_MS); below the soft margin.
   * @default - 10 % of timeout, clamped to 2..30 s (at most a quarter of the timeout)
   */
  readonly hardDeadlineMargin?: Duration;

  /**
   * Threshold of the age-of-oldest-message alarm.
   * @default - timeout x maxReceiveCount
   */
  readonly ageOfOldestMessageAlarmThreshold?: Duration;

  /**
   * SNS topic notified when any alarm fires or recovers.
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Retention of the function's log group (only with `entry`).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}
