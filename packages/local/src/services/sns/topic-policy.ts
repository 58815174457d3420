/**
 * AWS::SNS::TopicPolicy: recorded with its resolved document (fauxqs has no access control); the
 * gateway's IAM evaluation reads it as the topics' resource policy (gateway/iam/policies.ts).
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';

export const snsTopicPolicy: Provisioner = {
  handles: ['AWS::SNS::TopicPolicy'],
  kind: 'recorded',
  async provision({ logicalId, resource, props, name }) {
    const id = name(undefined, { max: 64 });
    return { physical: { type: resource.Type, ref: id, attributes: { Id: id } }, recorded: { logicalId, type: resource.Type, properties: props } };
  },
};
