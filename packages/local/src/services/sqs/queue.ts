/**
 * AWS::SQS::Queue: created in the target (fauxqs or the external endpoint), with its attributes. A queue
 * of that name kept by the target (a data directory's, or a shared endpoint's) is taken over with the
 * template's attributes, its messages kept. The reset purges it (PurgeQueue: ready, delayed and in-flight
 * messages alike).
 */
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, PurgeQueueCommand, SetQueueAttributesCommand, type QueueAttributeName, type SQSClient } from '@aws-sdk/client-sqs';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { bool, jsonString } from '../../core/deployment/values.js';

const PLAIN = ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds', 'MaximumMessageSize', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit'] as const;

export const sqsQueue: Provisioner = {
  handles: ['AWS::SQS::Queue'],
  kind: 'created',
  async provision({ props, clients, arn, name }) {
    const fifo = bool(props.FifoQueue);
    const QueueName = name(props.QueueName, { max: 80, ...(fifo ? { suffix: '.fifo' } : {}) });
    const attrs: Partial<Record<QueueAttributeName, string>> = {};
    for (const k of PLAIN) if (props[k] !== undefined) attrs[k] = String(props[k]);
    if (fifo) attrs.FifoQueue = 'true';
    if (props.RedrivePolicy !== undefined) attrs.RedrivePolicy = jsonString(props.RedrivePolicy);
    if (props.RedriveAllowPolicy !== undefined) attrs.RedriveAllowPolicy = jsonString(props.RedriveAllowPolicy);
    // Behind the gateway, queue URLs are on the endpoint's origin (the gateway rewrites them).
    const QueueUrl = await createOrUpdate(clients.sqs, QueueName, attrs);
    if (!QueueUrl) throw new Error(`CreateQueue ${QueueName} returned no URL`);
    const got = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const QueueArn = got.Attributes?.QueueArn ?? arn('sqs', QueueName);
    return {
      physical: { type: 'AWS::SQS::Queue', ref: QueueUrl, attributes: { Arn: QueueArn, QueueName, QueueUrl } },
      destroy: async () => void (await clients.sqs.send(new DeleteQueueCommand({ QueueUrl }))),
      empty: async (c) => (await c.sqs.send(new PurgeQueueCommand({ QueueUrl })), 0),
    };
  },
};

/**
 * CreateQueue, or, when a queue of that name exists with other attributes (QueueNameExists: the template
 * changed since the data directory's deployment), its attributes set to the template's; its messages stay.
 */
async function createOrUpdate(sqs: SQSClient, QueueName: string, attrs: Partial<Record<QueueAttributeName, string>>): Promise<string | undefined> {
  try {
    return (await sqs.send(new CreateQueueCommand({ QueueName, Attributes: attrs }))).QueueUrl;
  } catch (err) {
    if ((err as { name?: string }).name !== 'QueueNameExists' && (err as { Code?: string }).Code !== 'QueueAlreadyExists') throw err;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
    // FifoQueue cannot be changed (it is in the name).
    const { FifoQueue: _fifo, ...settable } = attrs;
    if (Object.keys(settable).length > 0) await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: settable }));
    return QueueUrl;
  }
}
