/**
 * AWS::ECR::Repository: a name, an ARN and a URI, nothing more. The endpoint serves no ECR API and the
 * Lambda host runs no container images, so a container image asset cannot be pushed to it (the push is
 * refused by the endpoint with "does not serve ecr"). It is here because the CDK bootstrap stack
 * declares one for image assets; a stack that only uses file assets never touches it. Deploying one says
 * so by name.
 */
import type { Provisioner } from '../../core/deployment/provisioner.js';

export const ecrRepository: Provisioner = {
  handles: ['AWS::ECR::Repository'],
  kind: 'not-emulated',
  async provision({ logicalId, props, region, accountId, name, arn, log }) {
    const repositoryName = name(props.RepositoryName, { max: 256, lower: true });
    log(`local deploy: ${logicalId} (AWS::ECR::Repository ${repositoryName}) is a name only: the endpoint serves no ECR API, so no container image can be pushed to it or run from it`);
    return {
      physical: {
        type: 'AWS::ECR::Repository',
        ref: repositoryName,
        attributes: { Arn: arn('ecr', `repository/${repositoryName}`), RepositoryUri: `${accountId}.dkr.ecr.${region}.amazonaws.com/${repositoryName}` },
      },
    };
  },
};
