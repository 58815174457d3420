import { Duration, Tokenization } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONSUMER_ENV } from '../env';
import { withScope } from '../errors';
import { createOrAdoptConsumerFunction, existingReservedConcurrency, resolveMemorySize, resolveTimeout } from '../bounded-queue-consumer/consumer-function';
import { claimConsumerFunction, isToken, toMillis, toSeconds } from '../bounded-queue-consumer/validate-props';
import { createStreamAlarms } from './alarms';
import type { BoundedStreamConsumerProps } from './props';
import { deriveStreamSettings, type StreamSettings } from './stream-settings';
import { functionProps, knownShardCount, validateBoundedStreamConsumerProps } from './validate-props';

/**
 * A DynamoDB Streams or Kinesis consumer whose limits are derived from one set of props: the event source
 * mapping (ReportBatchItemFailures always on, ParallelizationFactor, BisectBatchOnFunctionError,
 * MaximumRetryAttempts, MaximumRecordAge, an SQS on-failure destination), reserved concurrency = shards x
 * parallelization (fitted to a downstream budget), and the lane sizes, deadline margins and on-failure queue
 * the handler (`createStreamHandler` of `@floodgate/runtime`) reads from its environment. Alarms on the
 * on-failure queue, iterator age, errors and throttles.
 *
 * Props that cannot work together throw a {@link FloodgateValidationError} at construction.
 */
export class BoundedStreamConsumer extends Construct {
  /** The consumer function. */
  readonly function: lambda.IFunction;
  /** The event source mapping from the table's stream or the Kinesis stream. */
  readonly eventSourceMapping: lambda.EventSourceMapping;
  /** Where the mapping sends ranges it gave up on, and the handler permanently failed records. */
  readonly onFailureQueue: sqs.IQueue;
  /** Every derived number: shards, parallelization, reserved concurrency, retries, lanes, margins, alarm threshold. */
  readonly settings: StreamSettings;
  /** The function's log group (undefined for a `consumerFunction`). */
  readonly logGroup?: logs.LogGroup;
  /** Any message in the on-failure queue. */
  readonly onFailureQueueAlarm: cloudwatch.Alarm;
  /** Iterator age above the threshold: the consumer is falling behind or a shard is stuck. */
  readonly iteratorAgeAlarm: cloudwatch.Alarm;
  /** Threshold of {@link iteratorAgeAlarm}. */
  readonly iteratorAgeThreshold: Duration;
  /** Invocations that failed as a whole. */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** Throttled invocations (more shards x parallelization than reserved concurrency). */
  readonly throttlesAlarm: cloudwatch.Alarm;
  /** All alarms above. */
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: BoundedStreamConsumerProps) {
    super(scope, id);
    validateBoundedStreamConsumerProps(this, props);
    if (props.consumerFunction) claimConsumerFunction(this, props.consumerFunction);
    const fnProps = functionProps(props);
    const timeout = resolveTimeout(this, fnProps);
    const memorySize = resolveMemorySize(this, fnProps);
    const knownShards = knownShardCount(props.stream);
    const age = props.maxRecordAge;
    this.settings = withScope(this, () =>
      deriveStreamSettings({
        source: props.table ? 'dynamodb' : 'kinesis',
        timeoutSeconds: toSeconds(this, 'timeout', timeout)!,
        memorySizeMb: memorySize,
        batchSize: props.batchSize,
        maxBatchingWindowSeconds: toSeconds(this, 'maxBatchingWindow', props.maxBatchingWindow),
        parallelizationFactor: props.parallelizationFactor,
        ...(knownShards !== undefined ? { knownShards } : {}),
        expectedShards: props.expectedShards,
        downstreamBudget: props.downstreamBudget,
        reservedConcurrency: props.reservedConcurrency ?? existingReservedConcurrency(props.consumerFunction),
        retryAttempts: props.retryAttempts,
        maxRecordAgeSeconds: age === 'infinite' ? -1 : toSeconds(this, 'maxRecordAge', age),
        ioConcurrency: props.ioConcurrency,
        cpuConcurrency: props.cpuConcurrency,
        softMarginMs: toMillis(this, 'softDeadlineMargin', props.softDeadlineMargin),
        hardMarginMs: toMillis(this, 'hardDeadlineMargin', props.hardDeadlineMargin),
        iteratorAgeThresholdSeconds: toSeconds(this, 'iteratorAgeAlarmThreshold', props.iteratorAgeAlarmThreshold),
        isToken,
      }),
    );
    const s = this.settings;

    this.onFailureQueue =
      props.onFailureQueue ??
      new sqs.Queue(this, 'OnFailureQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });

    const num = (n: number) => Tokenization.stringifyNumber(n);
    const consumer = createOrAdoptConsumerFunction(this, fnProps, {
      timeout,
      memorySize,
      reservedConcurrency: s.reservedConcurrency,
      environment: {
        ...props.environment,
        [CONSUMER_ENV.ioConcurrency]: num(s.ioConcurrency),
        [CONSUMER_ENV.cpuConcurrency]: num(s.cpuConcurrency),
        [CONSUMER_ENV.softMarginMs]: num(s.margins.softMs),
        [CONSUMER_ENV.hardMarginMs]: num(s.margins.hardMs),
        // The handler sends permanently failed records here itself, with their class and reason.
        [CONSUMER_ENV.deadLetterQueueUrl]: this.onFailureQueue.queueUrl,
        ...(props.downstreamBudget ? { [CONSUMER_ENV.connectionsPerExecution]: num(props.downstreamBudget.connectionsPerExecution) } : {}),
      },
    });
    this.function = consumer.fn;
    this.logGroup = consumer.logGroup;

    // Read grants: the table's stream (DescribeStream, GetRecords, GetShardIterator, ListStreams) or the
    // Kinesis stream; the on-failure queue: the mapping's records and the handler's sends.
    let eventSourceArn: string;
    if (props.table) {
      props.table.grantStreamRead(this.function);
      eventSourceArn = props.table.tableStreamArn!;
    } else {
      props.stream!.grantRead(this.function);
      eventSourceArn = props.stream!.streamArn;
    }
    this.onFailureQueue.grantSendMessages(this.function);
    this.eventSourceMapping = new lambda.EventSourceMapping(this, 'EventSource', {
      target: this.function,
      eventSourceArn,
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize: s.batchSize,
      ...(s.maxBatchingWindowSeconds !== 0 ? { maxBatchingWindow: Duration.seconds(s.maxBatchingWindowSeconds) } : {}),
      parallelizationFactor: s.parallelizationFactor,
      bisectBatchOnError: props.bisectBatchOnError ?? true,
      retryAttempts: s.retryAttempts,
      ...(s.maxRecordAgeSeconds !== -1 ? { maxRecordAge: Duration.seconds(s.maxRecordAgeSeconds) } : {}),
      onFailure: new SqsDlq(this.onFailureQueue),
      reportBatchItemFailures: true,
    });
    // -1 written out: "retry until the record expires" is then visible in the template, not a silent default.
    if (s.maxRecordAgeSeconds === -1) (this.eventSourceMapping.node.defaultChild as lambda.CfnEventSourceMapping).maximumRecordAgeInSeconds = -1;
    // The function must be able to read the stream before the mapping is created.
    if (this.function.role) this.eventSourceMapping.node.addDependency(this.function.role);

    this.iteratorAgeThreshold = Duration.seconds(s.iteratorAgeThresholdSeconds);
    const alarms = createStreamAlarms(this, {
      metrics: {
        onFailureQueueDepth: (p) => this.metricOnFailureQueueDepth(p),
        iteratorAge: (p) => this.metricIteratorAge(p),
        errors: (p) => this.metricErrors(p),
        throttles: (p) => this.metricThrottles(p),
      },
      iteratorAgeThresholdSeconds: s.iteratorAgeThresholdSeconds,
      alarmTopic: props.alarmTopic,
    });
    this.onFailureQueueAlarm = alarms.onFailureQueue;
    this.iteratorAgeAlarm = alarms.iteratorAge;
    this.errorsAlarm = alarms.errors;
    this.throttlesAlarm = alarms.throttles;
    this.alarms = alarms.all;
  }

  /** How far behind the newest record the consumer is, in milliseconds (Maximum). */
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('IteratorAge', { statistic: 'Maximum', ...props });
  }

  /** Messages in the on-failure queue (Maximum). */
  metricOnFailureQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.onFailureQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', ...props });
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

  /** Let an operator tool read (and delete from) the on-failure queue. */
  grantConsumeOnFailure(grantee: iam.IGrantable): iam.Grant {
    return this.onFailureQueue.grantConsumeMessages(grantee);
  }
}
