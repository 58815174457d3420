import { App, CfnOutput, Duration, Stack, StackProps, TimeZone } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';

/** A nightly rule and a Scheduler schedule, each sending a job to its queue. */
export class SchedulesStack extends Stack {
  constructor(scope: App, id: string, props?: StackProps) {
    super(scope, id, props);
    const nightlyQ = new sqs.Queue(this, 'NightlyJobs', { queueName: 'ea-nightly-jobs', retentionPeriod: Duration.hours(1) });
    new events.Rule(this, 'Nightly', {
      ruleName: 'ea-nightly',
      schedule: events.Schedule.cron({ minute: '0', hour: '3' }),
      targets: [new targets.SqsQueue(nightlyQ, { message: events.RuleTargetInput.fromObject({ job: 'nightly' }) })],
    });
    const reportQ = new sqs.Queue(this, 'Reports', { queueName: 'ea-reports', retentionPeriod: Duration.hours(1) });
    new scheduler.Schedule(this, 'Report', {
      scheduleName: 'ea-report',
      schedule: scheduler.ScheduleExpression.cron({ minute: '30', hour: '9', timeZone: TimeZone.EUROPE_PARIS }),
      target: new schedulerTargets.SqsSendMessage(reportQ, { input: scheduler.ScheduleTargetInput.fromObject({ job: 'report' }) }),
    });
    new CfnOutput(this, 'NightlyQueueUrl', { value: nightlyQ.queueUrl });
    new CfnOutput(this, 'ReportQueueUrl', { value: reportQ.queueUrl });
  }
}
