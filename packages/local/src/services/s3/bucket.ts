/** AWS::S3::Bucket: created in the target; destroy() empties it first. */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Provisioner } from '../../core/deployment/provisioner.js';

export const s3Bucket: Provisioner = {
  handles: ['AWS::S3::Bucket'],
  kind: 'created',
  refuse(_logicalId, resource) {
    const n = resource.Properties?.NotificationConfiguration as Record<string, unknown[] | undefined> | undefined;
    const configured = ['QueueConfigurations', 'TopicConfigurations', 'LambdaConfigurations'].filter((k) => (n?.[k]?.length ?? 0) > 0);
    if (n?.EventBridgeConfiguration !== undefined) configured.push('EventBridgeConfiguration');
    if (configured.length === 0) return undefined;
    return { consequence: `S3 sends no event notification from this bucket (NotificationConfiguration ${configured.join(', ')} is not emulated); the bucket itself is created` };
  },
  async provision({ props, region, clients, name }) {
    const Bucket = name(props.BucketName, { max: 63, lower: true });
    await clients.s3.send(new CreateBucketCommand({ Bucket }));
    return {
      physical: {
        type: 'AWS::S3::Bucket',
        ref: Bucket,
        attributes: {
          Arn: `arn:aws:s3:::${Bucket}`,
          DomainName: `${Bucket}.s3.amazonaws.com`,
          RegionalDomainName: `${Bucket}.s3.${region}.amazonaws.com`,
          DualStackDomainName: `${Bucket}.s3.dualstack.${region}.amazonaws.com`,
          WebsiteURL: `http://${Bucket}.s3-website-${region}.amazonaws.com`,
        },
      },
      async destroy() {
        for (;;) {
          const page = await clients.s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1000 }));
          const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
          if (keys.length === 0) break;
          await clients.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys } }));
        }
        await clients.s3.send(new DeleteBucketCommand({ Bucket }));
      },
    };
  },
};
