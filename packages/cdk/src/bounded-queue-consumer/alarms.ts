import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

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

/** The four alarms of a consumer (created directly under `scope`, so their ids stay stable). */
export function createConsumerAlarms(scope: Construct, props: ConsumerAlarmsProps) {
  const period = Duration.minutes(1);
  const { metrics } = props;
  const deadLetterQueue = new cloudwatch.Alarm(scope, 'DeadLetterQueueAlarm', {
    alarmDescription: 'Messages in the dead-letter queue: permanent failures or exhausted retries. Inspect and redrive.',
    metric: metrics.deadLetterQueueDepth({ period }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const ageOfOldestMessage = new cloudwatch.Alarm(scope, 'AgeOfOldestMessageAlarm', {
    alarmDescription: 'Oldest message is older than the threshold (default timeout x maxReceiveCount): the consumer is falling behind or stuck.',
    metric: metrics.ageOfOldestMessage({ period }),
    threshold: props.ageOfOldestMessageThresholdSeconds,
    evaluationPeriods: 3,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const errors = new cloudwatch.Alarm(scope, 'ErrorsAlarm', {
    alarmDescription: 'Consumer invocations failed as a whole (crash, timeout, out of memory); partial failures are not errors.',
    metric: metrics.errors({ period: Duration.minutes(5) }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const throttles = new cloudwatch.Alarm(scope, 'ThrottlesAlarm', {
    alarmDescription: 'Consumer invocations were throttled: reserved concurrency is below what the event source runs.',
    metric: metrics.throttles({ period: Duration.minutes(5) }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const all = [deadLetterQueue, ageOfOldestMessage, errors, throttles] as const;
  if (props.alarmTopic) {
    const action = new cwActions.SnsAction(props.alarmTopic);
    for (const alarm of all) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }
  return { deadLetterQueue, ageOfOldestMessage, errors, throttles, all };
}
