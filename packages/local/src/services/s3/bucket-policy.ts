/**
 * AWS::S3::BucketPolicy: recorded with its resolved document, not enforced by the emulators (fauxqs has
 * no bucket policies); the gateway's authorizers can evaluate the recorded policies.
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';

export const s3BucketPolicy: Provisioner = {
  handles: ['AWS::S3::BucketPolicy'],
  kind: 'recorded',
  async provision({ logicalId, resource, props }) {
    return {
      physical: { type: resource.Type, ref: String(props.Bucket ?? logicalId), attributes: {} },
      recorded: { logicalId, type: resource.Type, properties: props },
    };
  },
};
