/**
 * IAM roles and policies: recorded with their resolved documents, not created (the emulators do not
 * enforce IAM). Ref gives the role / policy name and Arn a well-formed IAM ARN, so environments and
 * outputs that mention them resolve; the gateway's authorizers can evaluate the recorded documents.
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';

export const iam: Provisioner = {
  handles: ['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'],
  kind: 'recorded',
  async provision({ logicalId, resource, props, accountId, name: nameFor }) {
    const explicit = [props.RoleName, props.PolicyName, props.ManagedPolicyName].find((v) => typeof v === 'string') as string | undefined;
    const name = nameFor(explicit, { max: 64 });
    const path = typeof props.Path === 'string' ? props.Path : '/';
    const kind = resource.Type === 'AWS::IAM::Role' ? 'role' : 'policy';
    const iamArn = `arn:aws:iam::${accountId}:${kind}${path}${name}`;
    // A managed policy's Ref is its ARN; a role's and an inline policy's Ref is the name.
    const ref = resource.Type === 'AWS::IAM::ManagedPolicy' ? iamArn : name;
    return {
      physical: { type: resource.Type, ref, attributes: { Arn: iamArn, RoleId: `AROA${name.slice(0, 16).toUpperCase()}`, PolicyArn: iamArn } },
      recorded: { logicalId, type: resource.Type, properties: props },
    };
  },
};
