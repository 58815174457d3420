/**
 * AWS::S3::Bucket: created in the target with its Tags; destroy() empties it first. Its
 * NotificationConfiguration is set through the endpoint's PutBucketNotificationConfiguration (served by
 * services/s3/handler.ts). A bucket of that name kept by the target (a data directory's) is taken over
 * with its objects. The reset deletes its objects and keeps it.
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutBucketNotificationConfigurationCommand, PutBucketTaggingCommand, type NotificationConfiguration, type S3Client } from '@aws-sdk/client-s3';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { fromTemplateShape, toApiShape } from './notifications.js';

export const s3Bucket: Provisioner = {
  handles: ['AWS::S3::Bucket'],
  kind: 'created',
  refuse(_logicalId, resource) {
    // Queue, Topic and Lambda configurations are delivered (notification-dispatch.ts); EventBridge is not.
    const n = resource.Properties?.NotificationConfiguration as Record<string, unknown> | undefined;
    if (n?.EventBridgeConfiguration === undefined) return undefined;
    return { consequence: 'S3 sends no event to EventBridge from this bucket (NotificationConfiguration EventBridgeConfiguration is not emulated); the bucket and its other notifications are created', placeholder: false };
  },
  async provision({ props, region, clients, name }) {
    const Bucket = name(props.BucketName, { max: 63, lower: true });
    try {
      await clients.s3.send(new CreateBucketCommand({ Bucket }));
    } catch (err) {
      // Ours already (a data directory's, or a restart on a shared endpoint): taken over as it is.
      if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw err;
    }
    // EventBridgeConfiguration is refused before the deploy (refuse above); with --allow-unsupported the
    // bucket gets its other notifications without it.
    const { EventBridgeConfiguration: _eventBridge, ...notifications } = (props.NotificationConfiguration ?? {}) as Record<string, unknown>;
    if (Object.keys(notifications).length > 0) {
      const config = toApiShape(fromTemplateShape(notifications)) as NotificationConfiguration;
      await clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration: config }));
    }
    const tags = (props.Tags as Array<{ Key: string; Value: string }> | undefined) ?? [];
    if (tags.length > 0) await clients.s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: tags.map((t) => ({ Key: String(t.Key), Value: String(t.Value) })) } }));
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
        await emptyBucket(clients.s3, Bucket);
        await clients.s3.send(new DeleteBucketCommand({ Bucket }));
      },
      empty: (c) => emptyBucket(c.s3, Bucket),
    };
  },
};

/** Deletes every object of `Bucket` (1000 keys a request); resolves with how many. */
export async function emptyBucket(s3: S3Client, Bucket: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys, Quiet: true } }));
    deleted += keys.length;
    if (keys.length === 0 || !page.IsTruncated) return deleted;
  }
}
