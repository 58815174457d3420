/**
 * AWS::SQS::Queue: created in the target (fauxqs or the external endpoint), with its attributes. A queue
 * of that name kept by the target (a data directory's, or a shared endpoint's) is taken over with the
 * template's attributes, its messages kept. An update (`up --watch`, a change set) sets the attributes of
 * the same queue. The reset purges it (PurgeQueue: ready, delayed and in-flight messages alike).
 */
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, PurgeQueueCommand, SetQueueAttributesCommand, type QueueAttributeName, type SQSClient } from '@aws-sdk/client-sqs';
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { bool, jsonString } from '../../core/deployment/values.js';

const PLAIN = ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds', 'MaximumMessageSize', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit'] as const;

/** What an attribute returns to when the template stops setting it (SQS's defaults). */
const DEFAULTS: Partial<Record<QueueAttributeName, string>> = { VisibilityTimeout: '30', MessageRetentionPeriod: '345600', DelaySeconds: '0', ReceiveMessageWaitTimeSeconds: '0', MaximumMessageSize: '262144', RedrivePolicy: '', RedriveAllowPolicy: '' };

function attributesOf(props: Record<string, unknown>): Partial<Record<QueueAttributeName, string>> {
  const attrs: Partial<Record<QueueAttributeName, string>> = {};
  for (const k of PLAIN) if (props[k] !== undefined) attrs[k] = String(props[k]);
  if (bool(props.FifoQueue)) attrs.FifoQueue = 'true';
  if (props.RedrivePolicy !== undefined) attrs.RedrivePolicy = jsonString(props.RedrivePolicy);
  if (props.RedriveAllowPolicy !== undefined) attrs.RedriveAllowPolicy = jsonString(props.RedriveAllowPolicy);
  return attrs;
}

export const sqsQueue: Provisioner = {
  handles: ['AWS::SQS::Queue'],
  kind: 'created',
  async provision({ props, clients, arn, name }) {
    const fifo = bool(props.FifoQueue);
    const QueueName = name(props.QueueName, { max: 80, ...(fifo ? { suffix: '.fifo' } : {}) });
    // Behind the gateway, queue URLs are on the endpoint's origin (the gateway rewrites them).
    const QueueUrl = await createOrUpdate(clients.sqs, QueueName, attributesOf(props));
    if (!QueueUrl) throw new Error(`CreateQueue ${QueueName} returned no URL`);
    const got = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const QueueArn = got.Attributes?.QueueArn ?? arn('sqs', QueueName);
    return {
      physical: { type: 'AWS::SQS::Queue', ref: QueueUrl, attributes: { Arn: QueueArn, QueueName, QueueUrl } },
      destroy: async () => void (await clients.sqs.send(new DeleteQueueCommand({ QueueUrl }))),
      empty: async (c) => (await c.sqs.send(new PurgeQueueCommand({ QueueUrl })), 0),
    };
  },
  // As CloudFormation updates a queue without interruption: SetQueueAttributes on the same queue, so its
  // messages stay. A new name or FifoQueue would need a replacement (a new, empty queue): refused.
  async update({ logicalId, props, name, clients }, before) {
    const fifo = bool(props.FifoQueue);
    const current = String(before.physical.attributes.QueueName);
    const QueueName = name(props.QueueName, { max: 80, ...(fifo ? { suffix: '.fifo' } : {}) });
    if (QueueName !== current || fifo !== current.endsWith('.fifo')) {
      throw new UnsupportedResourceError(`${logicalId} (AWS::SQS::Queue): a new QueueName or FifoQueue replaces the queue, and its messages would be lost; restart \`up\` to deploy the new template`);
    }
    const attrs = attributesOf(props);
    delete attrs.FifoQueue;
    const Attributes: Partial<Record<QueueAttributeName, string>> = { ...DEFAULTS, ...attrs };
    await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: before.physical.ref, Attributes }));
    return before;
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
