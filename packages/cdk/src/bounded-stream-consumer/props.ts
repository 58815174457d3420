import type { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { DownstreamBudget } from '../consumer-settings/index';

/**
 * Properties of a {@link BoundedStreamConsumer}. Its handler is `createStreamHandler` from
 * `@floodgate/runtime`, which reads the lane sizes, deadline margins and on-failure queue the construct
 * sets in its environment.
 *
 * Numbers may be CDK tokens: checks that involve a token are skipped, and a value that would have to be
 * computed from a token must be given explicitly.
 */
export interface BoundedStreamConsumerProps {
  /**
   * A DynamoDB table with a stream (`stream: StreamViewType...` on `Table`, `dynamoStream` on `TableV2`, or
   * `tableStreamArn` when imported). Exactly one of `table` and `stream`.
   * @default - none
   */
  readonly table?: dynamodb.ITable;

  /**
   * A Kinesis data stream. Exactly one of `table` and `stream`.
   * @default - none
   */
  readonly stream?: kinesis.IStream;

  /**
   * Path to the consumer's entry file, bundled with esbuild into a Node.js 24 function. Exactly one of
   * `entry` and `consumerFunction`.
   * @default - none
   */
  readonly entry?: string;

  /**
   * Name of the exported handler in `entry`.
   * @default 'handler'
   */
  readonly handler?: string;

  /**
   * An existing function instead of `entry` (see BoundedQueueConsumerProps.consumerFunction: an imported
   * one needs `timeout`, and its environment and reserved concurrency set by you).
   * @default - none
   */
  readonly consumerFunction?: lambda.IFunction;

  /**
   * Instruction set of the function (only with `entry`).
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;

  /**
   * Packages installed (not bundled) into the asset for the function's platform (only with `entry`).
   * @default - none
   */
  readonly nodeModules?: string[];

  /**
   * Files copied into the asset (only with `entry`): destination inside the asset -> absolute source path.
   * @default - none
   */
  readonly assetFiles?: Record<string, string>;

  /**
   * Extra environment (not the FLOODGATE_* variables, which the construct sets).
   * @default - none
   */
  readonly environment?: Record<string, string>;

  /**
   * Function timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;

  /**
   * Function memory in MB; also sizes the CPU lane (1 vCPU per 1,769 MB).
   * @default 1024
   */
  readonly memorySize?: number;

  /**
   * Where a new mapping starts reading: `TRIM_HORIZON` (the oldest record kept) or `LATEST`.
   * @default lambda.StartingPosition.TRIM_HORIZON
   */
  readonly startingPosition?: lambda.StartingPosition;

  /**
   * Records per invocation, 1..10,000 (BatchSize). All come from one shard.
   * @default 100
   */
  readonly batchSize?: number;

  /**
   * How long the mapping gathers records before invoking, 0..300 s.
   * @default - no batching window
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * Concurrent batches per shard, 1..10 (ParallelizationFactor). Lambda keeps records of one partition key
   * in one of them, in order. With `downstreamBudget`, the largest factor the budget allows for the shards.
   * @default - 1; with `downstreamBudget`, min(10, floor(budget executions / shards))
   */
  readonly parallelizationFactor?: number;

  /**
   * Shards the sizing assumes when the count cannot be read at synth: always for a DynamoDB table (its
   * stream has one shard per table partition, which DynamoDB manages), and for an on-demand or imported
   * Kinesis stream. A provisioned Kinesis `Stream` of this app gives its own `shardCount`.
   * Reserved concurrency is expectedShards x parallelizationFactor: if the source has more shards, their
   * batches wait (throttled: the throttles and iterator-age alarms fire) and the downstream budget still holds.
   * @default 4 (what a new on-demand table or on-demand Kinesis stream starts with)
   */
  readonly expectedShards?: number;

  /**
   * Derive parallelization and reserved concurrency from what the downstream can take: shards x
   * parallelizationFactor executions must fit in floor(maxConnections / connectionsPerExecution).
   * connectionsPerExecution is also passed to the handler (FLOODGATE_CONNECTIONS_PER_EXECUTION).
   * @default - parallelizationFactor 1, reserved concurrency = shards
   */
  readonly downstreamBudget?: DownstreamBudget;

  /**
   * Reserved concurrency; below shards x parallelizationFactor is an error, and above the budget's
   * executions too.
   * @default - shards x parallelizationFactor
   */
  readonly reservedConcurrency?: number;

  /**
   * Split a batch in two and retry each half when an invocation fails as a whole (a crash, out of memory,
   * a timeout), so one record that kills the function is isolated instead of holding up the batch. With a
   * partial response, Lambda retries only the records from the checkpoint (BisectBatchOnFunctionError).
   * @default true
   */
  readonly bisectBatchOnError?: boolean;

  /**
   * Retries of a failed batch before the mapping gives up and sends the batch's range (shard, sequence
   * numbers; not the records) to the on-failure queue: -1 (until `maxRecordAge`) or 0..10,000.
   * Permanent failures do not use them: the handler sends those records to the on-failure queue itself.
   * @default -1 (bounded by maxRecordAge)
   */
  readonly retryAttempts?: number;

  /**
   * Records older than this are not retried any more (their range goes to the on-failure queue):
   * 60 s..7 days, or `'infinite'` (until the record expires from the stream). At most 24 hours on DynamoDB,
   * whose stream keeps records 24 hours.
   * @default Duration.hours(1)
   */
  readonly maxRecordAge?: Duration | 'infinite';

  /**
   * The on-failure queue: the mapping sends a batch's range there when it gives up; the handler sends each
   * permanently failed record there with ErrorClass and ErrorReason. A standard queue.
   * @default - a queue is created (SSE-SQS, TLS only, 14 days retention)
   */
  readonly onFailureQueue?: sqs.IQueue;

  /**
   * Size of the I/O lane, FLOODGATE_IO_CONCURRENCY.
   * @default 16
   */
  readonly ioConcurrency?: number;

  /**
   * Size of the CPU lane, FLOODGATE_CPU_CONCURRENCY.
   * @default - the vCPUs Lambda gives `memorySize` (1..6)
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
   * Threshold of the iterator-age alarm (how far behind the newest record the consumer is). Must be below
   * `maxRecordAge`, or records would be discarded before it fires.
   * @default - max(5 minutes, 2 x timeout), at most half of maxRecordAge
   */
  readonly iteratorAgeAlarmThreshold?: Duration;

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
