/** AWS::SQS::Queue: created in the target (fauxqs or the external endpoint), with its attributes. */
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
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
    const created = await clients.sqs.send(new CreateQueueCommand({ QueueName, Attributes: attrs }));
    // Behind the gateway, queue URLs are on the endpoint's origin (the gateway rewrites them).
    const QueueUrl = created.QueueUrl;
    if (!QueueUrl) throw new Error(`CreateQueue ${QueueName} returned no URL`);
    const got = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const QueueArn = got.Attributes?.QueueArn ?? arn('sqs', QueueName);
    return {
      physical: { type: 'AWS::SQS::Queue', ref: QueueUrl, attributes: { Arn: QueueArn, QueueName, QueueUrl } },
      destroy: async () => void (await clients.sqs.send(new DeleteQueueCommand({ QueueUrl }))),
    };
  },
};
