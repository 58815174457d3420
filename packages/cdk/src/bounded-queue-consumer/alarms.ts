import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { createAlarms } from '../alarms.js';

/** The metrics the alarms watch (the consumer's metric* methods). */
export interface ConsumerAlarmMetrics {
  deadLetterQueueDepth(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
  ageOfOldestMessage(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
  errors(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
  throttles(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
}

export interface ConsumerAlarmsProps {
  readonly metrics: ConsumerAlarmMetrics;
  /** Threshold of the age-of-oldest-message alarm, in seconds (may be a token). */
  readonly ageOfOldestMessageThresholdSeconds: number;
  /** @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
}

/** The four alarms of a queue consumer (created directly under `scope`, so their ids stay stable). */
export function createConsumerAlarms(scope: Construct, props: ConsumerAlarmsProps) {
  const { metrics } = props;
  const period = Duration.minutes(1);
  const [deadLetterQueue, ageOfOldestMessage, errors, throttles] = createAlarms(
    scope,
    [
      {
        id: 'DeadLetterQueueAlarm',
        description: 'Messages in the dead-letter queue: permanent failures or exhausted retries. Inspect and redrive.',
        metric: metrics.deadLetterQueueDepth({ period }),
        threshold: 1,
        evaluationPeriods: 1,
        breach: 'atLeast',
      },
      {
        id: 'AgeOfOldestMessageAlarm',
        description: 'Oldest message is older than the threshold (default timeout x maxReceiveCount): the consumer is falling behind or stuck.',
        metric: metrics.ageOfOldestMessage({ period }),
        threshold: props.ageOfOldestMessageThresholdSeconds,
        evaluationPeriods: 3,
        breach: 'above',
      },
      {
        id: 'ErrorsAlarm',
        description: 'Consumer invocations failed as a whole (crash, timeout, out of memory); partial failures are not errors.',
        metric: metrics.errors({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        breach: 'atLeast',
      },
      {
        id: 'ThrottlesAlarm',
        description: 'Consumer invocations were throttled: reserved concurrency is below what the event source runs.',
        metric: metrics.throttles({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        breach: 'atLeast',
      },
    ],
    props.alarmTopic,
  ) as [cloudwatch.Alarm, cloudwatch.Alarm, cloudwatch.Alarm, cloudwatch.Alarm];
  return { deadLetterQueue, ageOfOldestMessage, errors, throttles, all: [deadLetterQueue, ageOfOldestMessage, errors, throttles] as const };
}
