/**
 * Types the local stack passes over with a note: they move, transform or deliver no message (alarms,
 * dashboards, log groups, keys, versions, metadata). Ref and Arn get plausible values so
 * outputs and environments that mention them still resolve. A type that can move a message never
 * belongs here: without a provisioner it is refused (services/support.ts).
 */
import type { Provisioner } from '../core/deployment/provisioner.js';

export const NOT_EMULATED = [
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::Logs::LogGroup',
  'AWS::Logs::MetricFilter',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::Lambda::Version',
  'AWS::Lambda::Alias',
  'AWS::CDK::Metadata',
] as const;
const SET = new Set<string>(NOT_EMULATED);

export const notEmulated: Provisioner = {
  handles: (type) => SET.has(type),
  kind: 'not-emulated',
  async provision({ resource, props, arn, name: nameFor }) {
    const explicit = ['Name', 'DashboardName', 'AlarmName', 'LogGroupName', 'AliasName'].map((k) => props[k]).find((v) => typeof v === 'string') as string | undefined;
    const name = nameFor(explicit, { max: 64 });
    const service = (resource.Type.split('::')[1] ?? 'custom').toLowerCase();
    return { physical: { type: resource.Type, ref: name, attributes: { Arn: arn(service, name) } } };
  },
};
