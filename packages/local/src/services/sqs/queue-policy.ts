/**
 * AWS::SQS::QueuePolicy: recorded with its resolved document, not enforced by the emulators (fauxqs has
 * no access control); the gateway's authorizers can evaluate the recorded policies.
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';

export const sqsQueuePolicy: Provisioner = {
  handles: ['AWS::SQS::QueuePolicy'],
  kind: 'recorded',
  async provision({ logicalId, resource, props, name }) {
    const id = name(undefined, { max: 64 });
    return {
      physical: { type: resource.Type, ref: id, attributes: { Id: id } },
      recorded: { logicalId, type: resource.Type, properties: props },
    };
  },
};
