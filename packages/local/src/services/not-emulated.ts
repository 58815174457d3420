/**
 * Types deliberately not emulated: they change nothing about how messages flow locally (observability,
 * encryption keys, deploy-time custom resources, versions). Ref and Arn get plausible values so outputs
 * and environments that mention them still resolve.
 */
import type { Provisioner } from '../core/deployment/provisioner.js';
import { physicalName } from '../core/deployment/values.js';

export const NOT_EMULATED = [
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::Logs::LogGroup',
  'AWS::Logs::MetricFilter',
  'AWS::Logs::SubscriptionFilter',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::Lambda::Version',
  'AWS::Lambda::Alias',
  'AWS::SSM::Parameter',
  'AWS::CDK::Metadata',
] as const;
const SET = new Set<string>(NOT_EMULATED);

export const notEmulated: Provisioner = {
  handles: (type) => SET.has(type) || type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource',
  kind: 'not-emulated',
  async provision({ logicalId, resource, props, prefix, arn }) {
    const explicit = ['Name', 'DashboardName', 'AlarmName', 'LogGroupName', 'TopicName'].map((k) => props[k]).find((v) => typeof v === 'string') as string | undefined;
    const name = explicit ?? physicalName(prefix, logicalId, 64);
    const service = (resource.Type.split('::')[1] ?? 'custom').toLowerCase();
    return { physical: { type: resource.Type, ref: name, attributes: { Arn: arn(service, name) } } };
  },
};
