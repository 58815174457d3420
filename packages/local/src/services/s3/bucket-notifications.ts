/**
 * CDK's `Custom::S3BucketNotifications` (what `bucket.addEventNotification()` synthesizes), provisioned
 * natively: the resource's behaviour is fixed by CDK's handler (aws-cdk-lib
 * custom-resource-handlers/aws-s3/notifications-resource-handler/index.py), which we do not run (it is
 * Python, and Lambda's Python runtime is not hosted locally). As that handler does, it puts the
 * NotificationConfiguration on the bucket through PutBucketNotificationConfiguration:
 * - `Managed` true (a bucket of this stack): the configuration replaces the bucket's; on delete it is
 *   emptied;
 * - `Managed` false (an imported bucket): configurations already on the bucket are kept and ours are
 *   added with ids `<StackId>-<hash>`; on delete only those are removed.
 *
 * Its ServiceToken, the Python `BucketNotificationsHandler050a0587b7544547bf325f094a3db834` function, is
 * deployed like any function but never invoked: nothing else calls it. It is therefore not a refusal
 * (see `isCdkBucketNotificationsHandler`).
 */
import { createHash } from 'node:crypto';
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, type NotificationConfiguration } from '@aws-sdk/client-s3';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { fromApiShape, toApiShape, type BucketNotificationConfiguration } from './notifications.js';

/** The logical id prefix CDK gives the singleton handler function of Custom::S3BucketNotifications. */
export const CDK_BUCKET_NOTIFICATIONS_HANDLER = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/**
 * Whether a function is CDK's bucket-notifications handler, served natively by this provisioner (so a
 * Python runtime there refuses nothing: the function is never invoked locally).
 */
export function isCdkBucketNotificationsHandler(logicalId: string): boolean {
  return logicalId.startsWith(CDK_BUCKET_NOTIFICATIONS_HANDLER);
}

const managedFlag = (v: unknown): boolean => (v === undefined ? true : String(v).toLowerCase() === 'true');

/** CDK's unmanaged merge: existing configurations stay, ours get ids `<stackId>-<hash>`. */
export function mergeUnmanaged(existing: BucketNotificationConfiguration, incoming: BucketNotificationConfiguration, stackId: string): BucketNotificationConfiguration {
  const ours = incoming.targets.map((t) => {
    const hash = createHash('sha256').update(JSON.stringify({ ...t, id: '' })).digest('hex').slice(0, 16);
    return { ...t, id: `${stackId}-${hash}` };
  });
  const external = existing.targets.filter((t) => !t.id.startsWith(`${stackId}-`));
  return { targets: [...external, ...ours], eventBridge: existing.eventBridge || incoming.eventBridge };
}

export const s3BucketNotifications: Provisioner = {
  handles: ['Custom::S3BucketNotifications'],
  kind: 'created',
  async provision({ logicalId, props, prefix, clients, arn }) {
    const Bucket = String(props.BucketName ?? '');
    if (!Bucket) throw new Error(`${logicalId}: Custom::S3BucketNotifications without BucketName`);
    const managed = managedFlag(props.Managed);
    const stackId = arn('cloudformation', `stack/${prefix}/local`);
    const incoming = fromApiShape((props.NotificationConfiguration ?? {}) as Record<string, unknown>);
    const current = async (): Promise<BucketNotificationConfiguration> => fromApiShape((await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }))) as unknown as Record<string, unknown>);
    const put = async (c: BucketNotificationConfiguration): Promise<void> => {
      await clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration: toApiShape(c) as NotificationConfiguration }));
    };
    await put(managed ? incoming : mergeUnmanaged(await current(), incoming, stackId));
    return {
      physical: { type: 'Custom::S3BucketNotifications', ref: logicalId, attributes: {} },
      async destroy() {
        if (managed) return put({ targets: [], eventBridge: false });
        const existing = await current();
        await put({ targets: existing.targets.filter((t) => !t.id.startsWith(`${stackId}-`)), eventBridge: existing.eventBridge });
      },
    };
  },
};
