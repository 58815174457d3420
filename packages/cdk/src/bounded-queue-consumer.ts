import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { Annotations, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { createFloodgateFunction } from './nodejs-function';
import { CONSUMER_ENV } from './env';
import {
  deriveConsumerSettings,
  validateRetention,
  type ConsumerSettings,
  type DownstreamBudget,
} from './consumer-settings';

export type { DownstreamBudget } from './consumer-settings';

/** Functions already wired to a consumer (construct path), to refuse a second one. */
const CONSUMED_FUNCTIONS = new WeakMap<lambda.IFunction, string>();

/** Properties of a {@link BoundedQueueConsumer}. */
export interface BoundedQueueConsumerProps {
  /**
   * Path to the consumer's TypeScript/JavaScript entry file, bundled with esbuild into a Node.js 24
   * function (ESM, AWS SDK bundled at the project's pinned versions). Exactly one of `entry` and
   * `consumerFunction` must be set.
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
   * imported function (`fromFunctionArn`), none of that is possible: pass `timeout` and `memorySize`
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
   * Records per invocation (1..10,000; above 10 needs `maxBatchingWindow`).
   * @default 10
   */
  readonly batchSize?: number;

  /**
   * How long the poller gathers records before invoking (0..300 s).
   * @default - no batching window
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * The event source's cap on concurrent invocations (ScalingConfig.MaximumConcurrency, 2..1000).
   * Set this or `downstreamBudget`.
   * @default - derived from `downstreamBudget`
   */
  readonly maxConcurrency?: number;

  /**
   * Derive `maxConcurrency` from what the downstream can take:
   * floor(maxConnections / connectionsPerExecution). An error if that is below 2.
   * @default - use `maxConcurrency`
   */
  readonly downstreamBudget?: DownstreamBudget;

  /**
   * Reserved concurrency of the function. Below `maxConcurrency` is an error (Lambda would throttle the
   * poller and throttled receives count toward the DLQ).
   * @default - equal to maxConcurrency
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
   * Retention of the dead-letter queue; must be at least `retentionPeriod`.
   * @default Duration.days(14)
   */
  readonly deadLetterRetentionPeriod?: Duration;

  /**
   * KMS key for both queues. The function is granted decrypt (consume) and encrypt (DLQ sends).
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

/**
 * An SQS queue, its dead-letter queue, a Lambda consumer and the event source between them, with every
 * limit derived from one set of props so that they cannot disagree: the event-source cap, reserved
 * concurrency, visibility timeout, redrive, and the lane sizes and deadline margins the handler reads
 * from its environment (names in `CONSUMER_ENV`). ReportBatchItemFailures is always on and both queues
 * refuse non-TLS requests.
 */
export class BoundedQueueConsumer extends Construct {
  /** The source queue. */
  readonly queue: sqs.Queue;
  /** Where messages go after `maxReceiveCount` receives, and where the handler sends permanent failures. */
  readonly deadLetterQueue: sqs.Queue;
  /** The consumer function. */
  readonly function: lambda.IFunction;
  /** The SQS event source (ReportBatchItemFailures on, capped at `settings.maxConcurrency`). */
  readonly eventSource: SqsEventSource;
  /** Every derived number: cap, reserved concurrency, visibility, lanes, margins, alarm threshold. */
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

    if ((props.entry === undefined) === (props.consumerFunction === undefined)) {
      throw new Error(`${this.node.path}: set exactly one of 'entry' (a handler file to bundle) or 'consumerFunction'.`);
    }
    const existing = props.consumerFunction;
    const owned = existing instanceof lambda.Function ? existing : undefined;
    if (existing !== undefined) {
      for (const key of ['architecture', 'nodeModules', 'assetFiles', 'logRetention'] as const) {
        if (props[key] !== undefined) {
          throw new Error(`${this.node.path}: '${key}' applies only with 'entry'; configure it on your consumerFunction.`);
        }
      }
      if (owned === undefined && existing.role === undefined) {
        throw new Error(
          `${this.node.path}: the imported consumerFunction has no role, so the construct cannot grant it the queue ` +
            'and the DLQ. Import it with lambda.Function.fromFunctionAttributes({ functionArn, role }).',
        );
      }
      if (owned === undefined && props.environment !== undefined) {
        throw new Error(`${this.node.path}: cannot set 'environment' on an imported consumerFunction; set it on the function.`);
      }
    }

    if (existing !== undefined) {
      const previous = CONSUMED_FUNCTIONS.get(existing);
      if (previous !== undefined) {
        throw new Error(
          `${this.node.path}: consumerFunction already consumes ${previous}. Use one BoundedQueueConsumer per ` +
            'function: its environment names one dead-letter queue, and its reserved concurrency would have to ' +
            'cover the sum of both event-source caps.',
        );
      }
      CONSUMED_FUNCTIONS.set(existing, this.node.path);
    }

    const timeout = this.resolveTimeout(props, owned);
    const memorySize = this.resolveMemorySize(props, owned);
    const ownedReserved = owned ? (owned.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions : undefined;

    try {
      this.settings = deriveConsumerSettings({
        timeoutSeconds: timeout.toSeconds(),
        memorySizeMb: memorySize,
        batchSize: props.batchSize,
        maxBatchingWindowSeconds: props.maxBatchingWindow?.toSeconds(),
        maxConcurrency: props.maxConcurrency,
        downstreamBudget: props.downstreamBudget,
        reservedConcurrency: props.reservedConcurrency ?? ownedReserved,
        maxReceiveCount: props.maxReceiveCount,
        visibilityTimeoutSeconds: props.visibilityTimeout?.toSeconds(),
        ioConcurrency: props.ioConcurrency,
        cpuConcurrency: props.cpuConcurrency,
        softMarginMs: props.softDeadlineMargin?.toMilliseconds(),
        hardMarginMs: props.hardDeadlineMargin?.toMilliseconds(),
      });
    } catch (err) {
      throw new Error(`${this.node.path}: ${(err as Error).message}`);
    }
    const s = this.settings;

    // Queues: same encryption on both, TLS-only policies on both.
    const encryption = props.encryptionKey
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    const retention = props.retentionPeriod ?? Duration.days(4);
    const dlqRetention = props.deadLetterRetentionPeriod ?? Duration.days(14);
    try {
      validateRetention(retention.toSeconds(), dlqRetention.toSeconds());
    } catch (err) {
      throw new Error(`${this.node.path}: ${(err as Error).message}`);
    }
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...encryption,
      enforceSSL: true,
      retentionPeriod: dlqRetention,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...encryption,
      enforceSSL: true,
      retentionPeriod: retention,
      visibilityTimeout: Duration.seconds(s.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: s.maxReceiveCount },
    });

    const sizingEnv: Record<string, string> = {
      [CONSUMER_ENV.ioConcurrency]: String(s.ioConcurrency),
      [CONSUMER_ENV.cpuConcurrency]: String(s.cpuConcurrency),
      [CONSUMER_ENV.softMarginMs]: String(s.margins.softMs),
      [CONSUMER_ENV.hardMarginMs]: String(s.margins.hardMs),
      [CONSUMER_ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
      [CONSUMER_ENV.maxReceiveCount]: String(s.maxReceiveCount),
      // The handler sizes its connection pool from this, so the budget holds inside each execution too.
      ...(props.downstreamBudget ? { [CONSUMER_ENV.connectionsPerExecution]: String(props.downstreamBudget.connectionsPerExecution) } : {}),
    };
    const reservedNames = new Set(Object.values(CONSUMER_ENV) as string[]);
    for (const key of Object.keys(props.environment ?? {})) {
      if (reservedNames.has(key)) {
        throw new Error(`${this.node.path}: environment.${key} is set by the construct from its props; set the prop instead.`);
      }
    }

    if (existing === undefined) {
      const created = this.createFunction(props, timeout, memorySize, { ...props.environment, ...sizingEnv });
      this.function = created.fn;
      this.logGroup = created.logGroup;
    } else {
      this.function = existing;
      if (owned) {
        for (const [k, v] of Object.entries({ ...props.environment, ...sizingEnv })) owned.addEnvironment(k, v);
        (owned.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = s.reservedConcurrency;
      } else {
        Annotations.of(this).addWarningV2(
          'floodgate:importedConsumer',
          `Imported consumerFunction: set reserved concurrency >= ${s.reservedConcurrency}, timeout ` +
            `${timeout.toSeconds()} s and the environment ${JSON.stringify({ ...sizingEnv, [CONSUMER_ENV.deadLetterQueueUrl]: '<DLQ URL>' })} on it yourself.`,
        );
      }
    }

    // The handler sends permanent failures to the DLQ itself, so no retries are wasted on them.
    this.deadLetterQueue.grantSendMessages(this.function);

    this.eventSource = new SqsEventSource(this.queue, {
      batchSize: s.batchSize,
      maxBatchingWindow: s.maxBatchingWindowSeconds > 0 ? Duration.seconds(s.maxBatchingWindowSeconds) : undefined,
      maxConcurrency: s.maxConcurrency,
      reportBatchItemFailures: true,
    });
    this.function.addEventSource(this.eventSource);

    // Alarms.
    const period = Duration.minutes(1);
    this.deadLetterQueueAlarm = new cloudwatch.Alarm(this, 'DeadLetterQueueAlarm', {
      alarmDescription: 'Messages in the dead-letter queue: permanent failures or exhausted retries. Inspect and redrive.',
      metric: this.metricDeadLetterQueueDepth({ period }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.ageOfOldestMessageThreshold =
      props.ageOfOldestMessageAlarmThreshold ?? Duration.seconds(s.ageOfOldestMessageThresholdSeconds);
    const ageThreshold = this.ageOfOldestMessageThreshold.toSeconds();
    this.ageOfOldestMessageAlarm = new cloudwatch.Alarm(this, 'AgeOfOldestMessageAlarm', {
      alarmDescription: `Oldest message is older than ${ageThreshold} s (timeout x maxReceiveCount): the consumer is falling behind or stuck.`,
      metric: this.metricAgeOfOldestMessage({ period }),
      threshold: ageThreshold,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmDescription: 'Consumer invocations failed as a whole (crash, timeout, out of memory); partial failures are not errors.',
      metric: this.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.throttlesAlarm = new cloudwatch.Alarm(this, 'ThrottlesAlarm', {
      alarmDescription: 'Consumer invocations were throttled: reserved concurrency is below what the event source runs.',
      metric: this.metricThrottles({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms = [this.deadLetterQueueAlarm, this.ageOfOldestMessageAlarm, this.errorsAlarm, this.throttlesAlarm];
    if (props.alarmTopic) {
      const action = new cwActions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
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

  /** Let a producer send jobs to the source queue. */
  grantSendMessages(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
  }

  /** Let an operator tool read the DLQ and move messages back to the source queue. */
  grantRedrive(grantee: iam.IGrantable): iam.Grant {
    this.queue.grantSendMessages(grantee);
    return this.deadLetterQueue.grantConsumeMessages(grantee);
  }

  private resolveTimeout(props: BoundedQueueConsumerProps, owned: lambda.Function | undefined): Duration {
    if (props.consumerFunction === undefined) return props.timeout ?? Duration.seconds(30);
    if (owned) {
      const actual = owned.timeout ?? Duration.seconds(3); // Lambda's default
      if (props.timeout !== undefined && props.timeout.toSeconds() !== actual.toSeconds()) {
        throw new Error(
          `${this.node.path}: timeout (${props.timeout.toSeconds()} s) differs from consumerFunction's timeout ` +
            `(${actual.toSeconds()} s); remove the prop, the function's timeout is used.`,
        );
      }
      return actual;
    }
    if (props.timeout === undefined) {
      throw new Error(
        `${this.node.path}: an imported consumerFunction's timeout cannot be read; pass 'timeout' equal to the function's.`,
      );
    }
    return props.timeout;
  }

  private resolveMemorySize(props: BoundedQueueConsumerProps, owned: lambda.Function | undefined): number {
    if (props.consumerFunction === undefined) return props.memorySize ?? 1024;
    if (owned) {
      const actual = (owned.node.defaultChild as lambda.CfnFunction).memorySize ?? 128;
      if (typeof actual !== 'number') return props.memorySize ?? 128;
      if (props.memorySize !== undefined && props.memorySize !== actual) {
        throw new Error(
          `${this.node.path}: memorySize (${props.memorySize}) differs from consumerFunction's (${actual}); remove the prop.`,
        );
      }
      return actual;
    }
    return props.memorySize ?? 128;
  }

  private createFunction(
    props: BoundedQueueConsumerProps,
    timeout: Duration,
    memorySize: number,
    environment: Record<string, string>,
  ): { fn: nodejs.NodejsFunction; logGroup: logs.LogGroup } {
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const nodeModules = props.nodeModules ?? [];
    for (const [dest, src] of Object.entries(props.assetFiles ?? {})) {
      if (isAbsolute(dest) || dest.split(/[\\/]/).includes('..')) {
        throw new Error(`${this.node.path}: assetFiles destination '${dest}' must be a relative path inside the asset.`);
      }
      if (!isAbsolute(src) || !existsSync(src)) {
        throw new Error(`${this.node.path}: assetFiles source '${src}' (for '${dest}') must be an absolute path to an existing file.`);
      }
    }
    const npmCpu = architecture === lambda.Architecture.ARM_64 ? 'arm64' : 'x64';
    const { fn, logGroup } = createFloodgateFunction(this, {
      entry: props.entry!,
      ...(props.handler !== undefined ? { handler: props.handler } : {}),
      architecture,
      timeout,
      memorySize,
      reservedConcurrentExecutions: this.settings.reservedConcurrency,
      environment,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      roleDescription: `Consumer of ${Stack.of(this).stackName}/${this.node.path}`,
      bundling: {
        nodeModules,
        commandHooks: {
          beforeBundling: () => [],
          // npm installs native packages (sharp's @img/sharp-linux-*) for the TARGET, not this machine.
          beforeInstall: (_inputDir: string, outputDir: string) =>
            nodeModules.length > 0 ? [`printf 'os=linux\\ncpu=${npmCpu}\\nlibc=glibc\\n' > "${outputDir}/.npmrc"`] : [],
          afterBundling: (_inputDir: string, outputDir: string) => [
            ...(nodeModules.length > 0 ? [`rm -f "${outputDir}/.npmrc" "${outputDir}/package-lock.json"`] : []),
            ...Object.entries(props.assetFiles ?? {}).map(
              ([dest, src]) => `mkdir -p "$(dirname "${outputDir}/${dest}")" && cp "${src}" "${outputDir}/${dest}"`,
            ),
          ],
        },
      },
    });
    return { fn, logGroup };
  }
}
