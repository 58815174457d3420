import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { createAlarms } from '../alarms.js';

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
  const [onFailureQueue, iteratorAge, errors, throttles] = createAlarms(
    scope,
    [
      {
        id: 'OnFailureQueueAlarm',
        description:
          'Records in the on-failure queue: permanent failures sent by the handler (with ErrorClass and ErrorReason), or batch ranges the mapping gave up on (read those back from the stream before they expire).',
        metric: metrics.onFailureQueueDepth({ period }),
        threshold: 1,
        evaluationPeriods: 1,
        breach: 'atLeast',
      },
      {
        id: 'IteratorAgeAlarm',
        description: 'The consumer is behind the newest record by more than the threshold: a shard is stuck on a failing batch, throttled, or too slow.',
        // IteratorAge is in milliseconds.
        metric: metrics.iteratorAge({ period }),
        threshold: props.iteratorAgeThresholdSeconds * 1000,
        evaluationPeriods: 3,
        breach: 'above',
      },
      {
        id: 'ErrorsAlarm',
        description: 'Consumer invocations failed as a whole (crash, timeout, out of memory); checkpoint responses are not errors.',
        metric: metrics.errors({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        breach: 'atLeast',
      },
      {
        id: 'ThrottlesAlarm',
        description: 'Consumer invocations were throttled: the source has more shards x parallelization than reserved concurrency (raise expectedShards, or the budget).',
        metric: metrics.throttles({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        breach: 'atLeast',
      },
    ],
    props.alarmTopic,
  ) as [cloudwatch.Alarm, cloudwatch.Alarm, cloudwatch.Alarm, cloudwatch.Alarm];
  return { onFailureQueue, iteratorAge, errors, throttles, all: [onFailureQueue, iteratorAge, errors, throttles] as const };
}
