import { Duration, Tokenization } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deriveConsumerSettings, validateRetention, type ConsumerSettings } from '../consumer-settings/index';
import { CONSUMER_ENV } from '../env';
import { withScope } from '../errors';
import { createConsumerAlarms } from './alarms';
import { createOrAdoptConsumerFunction, existingReservedConcurrency, resolveMemorySize, resolveTimeout } from './consumer-function';
import { createConsumerEventSource } from './event-source';
import type { BoundedQueueConsumerProps } from './props';
import { createConsumerQueues } from './queues';
import { claimConsumerFunction, isToken, retryBackoffSeconds, toMillis, toSeconds, validateBoundedQueueConsumerProps, validateRetryBackoff } from './validate-props';

/**
 * An SQS queue, its dead-letter queue, a Lambda consumer and the event source between them, with every
 * limit derived from one set of props so that they cannot disagree: the event-source cap (or provisioned
 * pollers), reserved concurrency, visibility timeout, redrive, and the lane sizes and deadline margins the
 * handler reads from its environment (names in `CONSUMER_ENV`). ReportBatchItemFailures is always on and
 * both queues refuse non-TLS requests. Standard or FIFO (`fifo: true`).
 *
 * Props that cannot work together throw a {@link FloodgateValidationError} at construction.
 */
export class BoundedQueueConsumer extends Construct {
  /** The source queue. */
  readonly queue: sqs.Queue;
  /** Where messages go after `maxReceiveCount` receives, and where the handler sends permanent failures. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The consumer function. */
  readonly function: lambda.IFunction;
  /** The SQS event source (ReportBatchItemFailures on, capped by `settings`). */
  readonly eventSource: SqsEventSource;
  /** Every derived number: cap or pollers, reserved concurrency, visibility, lanes, margins, alarm threshold. */
  readonly settings: ConsumerSettings;
  /** The function's log group (undefined for a `consumerFunction`). */
  readonly logGroup?: logs.LogGroup;
  /** Any message in the dead-letter queue. */
  readonly deadLetterQueueAlarm: cloudwatch.Alarm;
  /** Threshold of {@link ageOfOldestMessageAlarm}. */
  readonly ageOfOldestMessageThreshold: Duration;
  /** The oldest message is older than the derived threshold: the consumer is falling behind or stuck. */
  readonly ageOfOldestMessageAlarm: cloudwatch.Alarm;
  /** The function failed invocations (crashes, timeouts: partial failures are not errors). */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** The function was throttled. */
  readonly throttlesAlarm: cloudwatch.Alarm;
  /** All alarms above. */
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: BoundedQueueConsumerProps) {
    super(scope, id);
    validateBoundedQueueConsumerProps(this, props);
    if (props.consumerFunction) claimConsumerFunction(this, props.consumerFunction);

    const timeout = resolveTimeout(this, props);
    const memorySize = resolveMemorySize(this, props);
    const fifo = props.fifo ?? false;
    this.settings = withScope(this, () =>
      deriveConsumerSettings({
        timeoutSeconds: toSeconds(this, 'timeout', timeout)!,
        memorySizeMb: memorySize,
        fifo,
        batchSize: props.batchSize,
        maxBatchingWindowSeconds: toSeconds(this, 'maxBatchingWindow', props.maxBatchingWindow),
        maxConcurrency: props.maxConcurrency,
        downstreamBudget: props.downstreamBudget,
        provisionedPollerConfig: props.provisionedPollerConfig,
        reservedConcurrency: props.reservedConcurrency ?? existingReservedConcurrency(props.consumerFunction),
        maxReceiveCount: props.maxReceiveCount,
        visibilityTimeoutSeconds: toSeconds(this, 'visibilityTimeout', props.visibilityTimeout),
        ioConcurrency: props.ioConcurrency,
        cpuConcurrency: props.cpuConcurrency,
        softMarginMs: toMillis(this, 'softDeadlineMargin', props.softDeadlineMargin),
        hardMarginMs: toMillis(this, 'hardDeadlineMargin', props.hardDeadlineMargin),
        ageOfOldestMessageThresholdSeconds: toSeconds(this, 'ageOfOldestMessageAlarmThreshold', props.ageOfOldestMessageAlarmThreshold),
        isToken,
      }),
    );
    const s = this.settings;

    const retentionPeriod = props.retentionPeriod ?? Duration.days(4);
    const deadLetterRetentionPeriod = props.deadLetterRetentionPeriod ?? Duration.days(14);
    withScope(this, () =>
      validateRetention(
        toSeconds(this, 'retentionPeriod', retentionPeriod)!,
        props.deadLetterQueue ? undefined : toSeconds(this, 'deadLetterRetentionPeriod', deadLetterRetentionPeriod),
        { fifo, isToken },
      ),
    );
    const retryBackoff = retryBackoffSeconds(this, props);
    const retentionSeconds = toSeconds(this, 'retentionPeriod', retentionPeriod)!;
    if (retryBackoff) {
      validateRetryBackoff(this, retryBackoff, { visibilityTimeoutSeconds: s.visibilityTimeoutSeconds, retentionSeconds, maxReceiveCount: s.maxReceiveCount });
    }
    const queues = createConsumerQueues(this, {
      fifo,
      contentBasedDeduplication: props.contentBasedDeduplication,
      highThroughputFifo: props.highThroughputFifo,
      encryptionKey: props.encryptionKey,
      retentionPeriod,
      deadLetterRetentionPeriod,
      deadLetterQueue: props.deadLetterQueue,
      visibilityTimeoutSeconds: s.visibilityTimeoutSeconds,
      maxReceiveCount: s.maxReceiveCount,
    });
    this.queue = queues.queue;
    this.deadLetterQueue = queues.deadLetterQueue;

    const num = (n: number) => Tokenization.stringifyNumber(n);
    const sizingEnv: Record<string, string> = {
      [CONSUMER_ENV.ioConcurrency]: num(s.ioConcurrency),
      [CONSUMER_ENV.cpuConcurrency]: num(s.cpuConcurrency),
      [CONSUMER_ENV.softMarginMs]: num(s.margins.softMs),
      [CONSUMER_ENV.hardMarginMs]: num(s.margins.hardMs),
      [CONSUMER_ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
      [CONSUMER_ENV.maxReceiveCount]: num(s.maxReceiveCount),
      // The handler sizes its connection pool from this, so the budget holds inside each execution too.
      ...(props.downstreamBudget ? { [CONSUMER_ENV.connectionsPerExecution]: num(props.downstreamBudget.connectionsPerExecution) } : {}),
      // The handler delays retries with these, capped by what the queue's retention leaves.
      ...(retryBackoff
        ? {
            [CONSUMER_ENV.queueUrl]: this.queue.queueUrl,
            [CONSUMER_ENV.retryBackoffBaseSeconds]: num(retryBackoff.baseSeconds),
            [CONSUMER_ENV.retryBackoffMaxSeconds]: num(retryBackoff.maxSeconds),
            [CONSUMER_ENV.queueRetentionSeconds]: num(retentionSeconds),
            [CONSUMER_ENV.visibilityTimeoutSeconds]: num(s.visibilityTimeoutSeconds),
          }
        : {}),
    };
    const consumer = createOrAdoptConsumerFunction(this, props, {
      timeout,
      memorySize,
      reservedConcurrency: s.reservedConcurrency,
      environment: { ...props.environment, ...sizingEnv },
    });
    this.function = consumer.fn;
    this.logGroup = consumer.logGroup;

    // The handler sends permanent failures to the DLQ itself, so no retries are wasted on them.
    this.deadLetterQueue.grantSendMessages(this.function);
    // retryBackoff needs no grant of its own: ChangeMessageVisibility(Batch) authorizes as
    // sqs:ChangeMessageVisibility, which the event source's consume grant already gives the role
    // (test/retry-backoff.test.ts checks it, so a change in aws-cdk-lib would show).
    this.eventSource = createConsumerEventSource(this.queue, s);
    this.function.addEventSource(this.eventSource);

    this.ageOfOldestMessageThreshold = Duration.seconds(s.ageOfOldestMessageThresholdSeconds);
    const alarms = createConsumerAlarms(this, {
      metrics: {
        deadLetterQueueDepth: (p) => this.metricDeadLetterQueueDepth(p),
        ageOfOldestMessage: (p) => this.metricAgeOfOldestMessage(p),
        errors: (p) => this.metricErrors(p),
        throttles: (p) => this.metricThrottles(p),
      },
      ageOfOldestMessageThresholdSeconds: s.ageOfOldestMessageThresholdSeconds,
      alarmTopic: props.alarmTopic,
    });
    this.deadLetterQueueAlarm = alarms.deadLetterQueue;
    this.ageOfOldestMessageAlarm = alarms.ageOfOldestMessage;
    this.errorsAlarm = alarms.errors;
    this.throttlesAlarm = alarms.throttles;
    this.alarms = alarms.all;
  }

  /** Messages available in the source queue (Maximum). */
  metricQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', ...props });
  }

  /** Messages received and not yet deleted: records being processed (Maximum). */
  metricMessagesInFlight(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', ...props });
  }

  /** Age of the oldest message in the source queue, in seconds (Maximum). */
  metricAgeOfOldestMessage(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', ...props });
  }

  /** Messages in the dead-letter queue (Maximum). */
  metricDeadLetterQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', ...props });
  }

  /** Concurrent executions of the consumer (Maximum); never above the reserved concurrency. */
  metricConcurrentExecutions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('ConcurrentExecutions', { statistic: 'Maximum', ...props });
  }

  /** Failed invocations (Sum). */
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ statistic: 'Sum', ...props });
  }

  /** Throttled invocations (Sum). */
  metricThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricThrottles({ statistic: 'Sum', ...props });
  }

  /** Let a producer send jobs to the source queue (and use its KMS key, if any). */
  grantSendMessages(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
  }

  /** Let an operator tool read the DLQ and move messages back to the source queue. */
  grantRedrive(grantee: iam.IGrantable): iam.Grant {
    this.queue.grantSendMessages(grantee);
    return this.deadLetterQueue.grantConsumeMessages(grantee);
  }
}
