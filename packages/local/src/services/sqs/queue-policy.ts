/**
 * AWS::SQS::QueuePolicy: recorded with its resolved document, not enforced by the emulators (fauxqs has
 * no access control); the gateway's authorizers can evaluate the recorded policies.
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { physicalName } from '../../core/deployment/values.js';

export const sqsQueuePolicy: Provisioner = {
  handles: ['AWS::SQS::QueuePolicy'],
  kind: 'recorded',
  async provision({ logicalId, resource, props, prefix }) {
    return {
      physical: { type: resource.Type, ref: physicalName(prefix, logicalId, 64), attributes: { Id: physicalName(prefix, logicalId, 64) } },
      recorded: { logicalId, type: resource.Type, properties: props },
    };
  },
};
