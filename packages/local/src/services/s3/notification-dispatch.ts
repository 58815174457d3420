/**
 * S3 event notifications, the delivering part: each endpoint keeps its buckets' notification
 * configurations (set through PutBucketNotificationConfiguration: by the S3 API, by the bucket
 * provisioner from the template, and by Custom::S3BucketNotifications), and after a successful
 * PutObject, CopyObject, CompleteMultipartUpload, DeleteObject or DeleteObjects the S3 service hands the
 * events here. Each matching configuration gets `{ Records: [record] }`: a queue as an SQS message, a
 * topic as an SNS message (Subject "Amazon S3 Notification"), a function through its asynchronous
 * event queue. A queue destination gets an `s3:TestEvent` message when it is configured.
 *
 * Destinations are checked when configured, as S3 does ("Unable to validate the following destination
 * configurations"): the queue or topic must exist, S3 refuses FIFO queues, and the destination's
 * resource policy (queue policy, topic policy, the function's Lambda permissions) must let
 * `s3.amazonaws.com` deliver from this bucket (gateway/deliveries.ts, with aws:SourceArn the bucket's
 * ARN and aws:SourceAccount the account), with AWS's wording for each refusal.
 */
import { randomUUID } from 'node:crypto';
import { upstreamCall } from '../../gateway/forward.js';
import type { GatewayContext } from '../../gateway/types.js';
import { publishToTopic, sqsJson, SNS_API_VERSION } from '../sns/handler.js';
import { deliveryAction } from '../../core/delivery-gate.js';
import { matchingTargets, NotificationConfigurationError, s3EventRecord, s3TestEvent, type BucketNotificationConfiguration, type NotificationTarget, type ObjectEvent } from './notifications.js';

export interface NotificationDispatcher {
  get(bucket: string): BucketNotificationConfiguration | undefined;
  /** Validates the destinations, stores the configuration and sends s3:TestEvent to new queue destinations. */
  put(bucket: string, config: BucketNotificationConfiguration): Promise<void>;
  /** Delivers events to every matching configuration of their bucket. */
  emit(events: readonly ObjectEvent[]): Promise<void>;
}

const queueName = (arn: string): string => arn.split(':')[5] ?? '';

export function createNotificationDispatcher(ctx: GatewayContext, log: (line: string) => void): NotificationDispatcher {
  const configs = new Map<string, BucketNotificationConfiguration>();
  const sqs = ctx.upstreams.sqs;
  const queueUrls = new Map<string, string>();

  const queueUrl = async (arn: string): Promise<string> => {
    let url = queueUrls.get(arn);
    if (!url) {
      if (!sqs) throw new Error('no SQS upstream');
      url = String((await sqsJson(sqs, 'GetQueueUrl', { QueueName: queueName(arn), QueueOwnerAWSAccountId: arn.split(':')[4] })).QueueUrl);
      queueUrls.set(arn, url);
    }
    return url;
  };
  const sendToQueue = async (arn: string, body: unknown): Promise<void> => {
    await sqsJson(sqs!, 'SendMessage', { QueueUrl: await queueUrl(arn), MessageBody: JSON.stringify(body) });
  };

  /** What S3 says of a destination whose policy does not let it deliver from the bucket. */
  const POLICY_REFUSAL = {
    queue: 'Permissions on the destination queue do not allow S3 to publish notifications from this bucket',
    topic: 'Permissions on the destination topic do not allow S3 to publish notifications from this bucket',
    lambda: 'Not authorized to invoke function',
  } as const;
  const checkDestination = async (bucket: string, t: NotificationTarget): Promise<string | undefined> => {
    const missing = await checkExists(t);
    if (missing !== undefined) return missing;
    const decision = await ctx.deliveries?.authorize({ service: 's3.amazonaws.com', action: deliveryAction(t.arn), resource: t.arn, sourceArn: `arn:aws:s3:::${bucket}` });
    if (decision && !decision.allowed) return t.kind === 'lambda' ? `${t.arn}: ${POLICY_REFUSAL.lambda} [${t.arn}]` : `${t.arn}: ${POLICY_REFUSAL[t.kind]}`;
    return undefined;
  };
  const checkExists = async (t: NotificationTarget): Promise<string | undefined> => {
    if (t.kind === 'queue') {
      if (queueName(t.arn).endsWith('.fifo')) return `${t.arn}: FIFO queues are not supported as S3 notification destinations`;
      try {
        queueUrls.delete(t.arn);
        await queueUrl(t.arn);
      } catch {
        return `${t.arn}: the queue does not exist`;
      }
    } else if (t.kind === 'topic') {
      const upstream = ctx.upstreams.sns ?? sqs;
      const body = Buffer.from(new URLSearchParams({ Action: 'GetTopicAttributes', TopicArn: t.arn, Version: SNS_API_VERSION }).toString());
      const r = upstream ? await upstreamCall(upstream, 'POST', '/', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) }, body) : undefined;
      if (!r || r.status >= 300) return `${t.arn}: the topic does not exist`;
    } else {
      // While the stack is being deployed it is not attached yet: its functions are checked at delivery.
      const stack = ctx.stack();
      const name = t.arn.split(':')[6];
      if (stack && !stack.deployment.functions.some((f) => f.functionName === name)) return `${t.arn}: the function is not part of the local stack`;
    }
    return undefined;
  };

  const deliver = async (t: NotificationTarget, records: unknown[]): Promise<void> => {
    const payload = { Records: records };
    if (t.kind === 'queue') return sendToQueue(t.arn, payload);
    if (t.kind === 'topic') return void (await publishToTopic(ctx, t.arn, JSON.stringify(payload), 'Amazon S3 Notification', log));
    const stack = ctx.stack();
    const name = t.arn.split(':')[6];
    const fn = stack?.deployment.functions.find((f) => f.functionName === name);
    const invoker = fn ? stack?.asyncInvokers?.get(fn.logicalId) : undefined;
    if (!invoker) throw new Error(`function ${t.arn} is not part of the local stack`);
    invoker.enqueue(payload);
  };

  return {
    get: (bucket) => configs.get(bucket),
    async put(bucket, config) {
      if (config.eventBridge) throw new NotificationConfigurationError('NotImplemented', 'EventBridge delivery of S3 events is not emulated by the local stack');
      const problems = (await Promise.all(config.targets.map((t) => checkDestination(bucket, t)))).filter((p): p is string => p !== undefined);
      if (problems.length) throw new NotificationConfigurationError('InvalidArgument', `Unable to validate the following destination configurations: ${problems.join('; ')}`);
      const before = new Set((configs.get(bucket)?.targets ?? []).filter((t) => t.kind === 'queue').map((t) => t.arn));
      if (config.targets.length === 0) configs.delete(bucket);
      else configs.set(bucket, config);
      const fresh = new Set(config.targets.filter((t) => t.kind === 'queue' && !before.has(t.arn)).map((t) => t.arn));
      for (const arn of fresh) await sendToQueue(arn, s3TestEvent(bucket, new Date(), randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()));
    },
    async emit(events) {
      for (const e of events) {
        for (const t of matchingTargets(configs.get(e.bucket), e.eventName, e.key)) {
          await deliver(t, [s3EventRecord(e, t.id, ctx.region)]).catch((err: unknown) => log(`s3: notification ${t.id} of bucket ${e.bucket} (${e.eventName} ${e.key}) not delivered: ${(err as Error).message}`));
        }
      }
    },
  };
}
