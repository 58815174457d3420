/**
 * AWS::Events::Rule: an event-pattern rule or a scheduled rule on the default or a custom bus, run by
 * the local stack's EventBridge (bus-runtime.ts). Checked here as PutRule / PutTargets would check it:
 * the pattern compiles with the one matcher (core/event-pattern.ts), the schedule expression parses, and
 * every target is one the local stack delivers to (SQS, SNS, Lambda); any other target is refused by
 * name. Ref is the rule name (`bus|name` on a custom bus, as CloudFormation returns it).
 */
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { compileEventPattern } from '../../core/event-pattern.js';
import { parseScheduleExpression } from './schedule-expression.js';

/** Target services the local stack delivers to. */
export const RULE_TARGET_SERVICES = ['sqs', 'sns', 'lambda'] as const;

export function targetService(arn: string): string {
  return arn.split(':')[2] ?? '';
}

export const eventRule: Provisioner = {
  handles: ['AWS::Events::Rule'],
  kind: 'run',
  async provision({ logicalId, props, arn, name: nameOf }) {
    const name = nameOf(props.Name, { max: 64 });
    const busArg = typeof props.EventBusName === 'string' ? props.EventBusName : 'default';
    const bus = busArg.startsWith('arn:') ? busArg.split('/').pop()! : busArg;
    if (props.EventPattern === undefined && props.ScheduleExpression === undefined) throw new Error(`AWS::Events::Rule (${logicalId}): needs an EventPattern or a ScheduleExpression`);
    if (props.EventPattern !== undefined) compileEventPattern(props.EventPattern, `AWS::Events::Rule (${logicalId}) EventPattern`);
    if (props.ScheduleExpression !== undefined) {
      if (bus !== 'default') throw new Error(`AWS::Events::Rule (${logicalId}): scheduled rules are only supported on the default event bus`);
      const expr = String(props.ScheduleExpression);
      if (expr.startsWith('at(')) throw new Error(`AWS::Events::Rule (${logicalId}): at() is EventBridge Scheduler's; rules take rate() or cron()`);
      parseScheduleExpression(expr);
    }
    for (const t of (props.Targets as Array<Record<string, unknown>> | undefined) ?? []) {
      const service = targetService(String(t.Arn ?? ''));
      if (!(RULE_TARGET_SERVICES as readonly string[]).includes(service)) {
        throw new UnsupportedResourceError(`AWS::Events::Rule (${logicalId}): target ${String(t.Id)} (${String(t.Arn)}) is not delivered by the local stack (it delivers to ${RULE_TARGET_SERVICES.join(', ')})`);
      }
    }
    const Arn = arn('events', bus === 'default' ? `rule/${name}` : `rule/${bus}/${name}`);
    return {
      physical: { type: 'AWS::Events::Rule', ref: bus === 'default' ? name : `${bus}|${name}`, attributes: { Arn } },
      recorded: { logicalId, type: 'AWS::Events::Rule', properties: { ...props, Name: name, EventBusName: bus, Arn } },
    };
  },
};
