import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

export interface StreamAlarmMetrics {
  onFailureQueueDepth(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
  iteratorAge(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
  errors(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
  throttles(props: cloudwatch.MetricOptions): cloudwatch.IMetric;
}

/** The four alarms of a stream consumer (directly under `scope`, so their ids stay stable). */
export function createStreamAlarms(scope: Construct, props: { readonly metrics: StreamAlarmMetrics; readonly iteratorAgeThresholdSeconds: number; readonly alarmTopic?: sns.ITopic }) {
  const { metrics } = props;
  const period = Duration.minutes(1);
  const onFailureQueue = new cloudwatch.Alarm(scope, 'OnFailureQueueAlarm', {
    alarmDescription:
      'Records in the on-failure queue: permanent failures sent by the handler (with ErrorClass and ErrorReason), or batch ranges the mapping gave up on (read those back from the stream before they expire).',
    metric: metrics.onFailureQueueDepth({ period }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const iteratorAge = new cloudwatch.Alarm(scope, 'IteratorAgeAlarm', {
    alarmDescription: 'The consumer is behind the newest record by more than the threshold: a shard is stuck on a failing batch, throttled, or too slow.',
    // IteratorAge is in milliseconds.
    metric: metrics.iteratorAge({ period }),
    threshold: props.iteratorAgeThresholdSeconds * 1000,
    evaluationPeriods: 3,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const errors = new cloudwatch.Alarm(scope, 'ErrorsAlarm', {
    alarmDescription: 'Consumer invocations failed as a whole (crash, timeout, out of memory); checkpoint responses are not errors.',
    metric: metrics.errors({ period: Duration.minutes(5) }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const throttles = new cloudwatch.Alarm(scope, 'ThrottlesAlarm', {
    alarmDescription: 'Consumer invocations were throttled: the source has more shards x parallelization than reserved concurrency (raise expectedShards, or the budget).',
    metric: metrics.throttles({ period: Duration.minutes(5) }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const all = [onFailureQueue, iteratorAge, errors, throttles] as const;
  if (props.alarmTopic) {
    const action = new cwActions.SnsAction(props.alarmTopic);
    for (const alarm of all) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }
  return { onFailureQueue, iteratorAge, errors, throttles, all };
}
