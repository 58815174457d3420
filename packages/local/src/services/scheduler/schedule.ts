/**
 * AWS::Scheduler::Schedule, as CDK's aws-scheduler writes it: ScheduleExpression rate / cron / at()
 * with ScheduleExpressionTimezone, FlexibleTimeWindow, State, and one Target { Arn, RoleArn, Input,
 * SqsParameters, DeadLetterConfig, RetryPolicy }. Run by the local stack (scheduler/runtime.ts), which
 * delivers as the schedule's role so the endpoint's IAM applies. Targets other than SQS, SNS and
 * Lambda (universal targets, ECS, ...) are refused by name. Ref is the schedule name.
 */
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { parseScheduleExpression } from '../events/schedule-expression.js';

export const SCHEDULE_TARGET_SERVICES = ['sqs', 'sns', 'lambda'] as const;

export const schedulerSchedule: Provisioner = {
  handles: ['AWS::Scheduler::Schedule'],
  kind: 'run',
  async provision({ logicalId, props, arn, name: nameOf }) {
    const name = nameOf(props.Name, { max: 64 });
    const group = typeof props.GroupName === 'string' ? props.GroupName : 'default';
    const tz = typeof props.ScheduleExpressionTimezone === 'string' ? props.ScheduleExpressionTimezone : undefined;
    parseScheduleExpression(String(props.ScheduleExpression ?? ''), tz ?? 'UTC');
    const target = (props.Target ?? {}) as Record<string, unknown>;
    const targetArn = String(target.Arn ?? '');
    const service = targetArn.split(':')[2] ?? '';
    if (!(SCHEDULE_TARGET_SERVICES as readonly string[]).includes(service) || targetArn.startsWith('arn:aws:scheduler:::aws-sdk:')) {
      throw new UnsupportedResourceError(`AWS::Scheduler::Schedule (${logicalId}): target ${targetArn} is not delivered by the local stack (it delivers to ${SCHEDULE_TARGET_SERVICES.join(', ')})`);
    }
    if (typeof target.RoleArn !== 'string') throw new Error(`AWS::Scheduler::Schedule (${logicalId}): Target.RoleArn is required`);
    const Arn = arn('scheduler', `schedule/${group}/${name}`);
    return {
      physical: { type: 'AWS::Scheduler::Schedule', ref: name, attributes: { Arn } },
      recorded: { logicalId, type: 'AWS::Scheduler::Schedule', properties: { ...props, Name: name, GroupName: group, Arn } },
    };
  },
};
