/**
 * AWS::SNS::TopicPolicy: recorded with its resolved document (fauxqs has no access control); the
 * gateway's IAM evaluation reads it as the topics' resource policy (gateway/iam/policies.ts).
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { physicalName } from '../../core/deployment/values.js';

export const snsTopicPolicy: Provisioner = {
  handles: ['AWS::SNS::TopicPolicy'],
  kind: 'recorded',
  async provision({ logicalId, resource, props, prefix }) {
    const id = physicalName(prefix, logicalId, 64);
    return { physical: { type: resource.Type, ref: id, attributes: { Id: id } }, recorded: { logicalId, type: resource.Type, properties: props } };
  },
};
