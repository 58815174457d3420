/**
 * Alarms as the consumers create them: missing data is not breaching, and one SNS topic (if given) gets
 * both the ALARM and the OK transitions. Each consumer's alarms.ts says which alarms, in its own words.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

export interface AlarmSpec {
  /** Construct id, directly under the consumer (stable: renaming it replaces the alarm). */
  readonly id: string;
  readonly description: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  /** `atLeast`: threshold is the first breaching value (counts); `above`: breaching beyond it (ages). */
  readonly breach: 'atLeast' | 'above';
}

/** Creates the alarms in order, under `scope`, with `alarmTopic` (if any) as their alarm and OK action. */
export function createAlarms(scope: Construct, specs: readonly AlarmSpec[], alarmTopic?: sns.ITopic): cloudwatch.Alarm[] {
  const alarms = specs.map(
    (s) =>
      new cloudwatch.Alarm(scope, s.id, {
        alarmDescription: s.description,
        metric: s.metric,
        threshold: s.threshold,
        evaluationPeriods: s.evaluationPeriods,
        comparisonOperator: s.breach === 'atLeast' ? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD : cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
  );
  if (alarmTopic) {
    const action = new cwActions.SnsAction(alarmTopic);
    for (const alarm of alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }
  return alarms;
}
