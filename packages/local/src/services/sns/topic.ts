/**
 * AWS::SNS::Topic (standard and FIFO): created on the endpoint's SNS (fauxqs), with its attributes and
 * any inline `Subscription` entries. Ref is the topic ARN, as in CloudFormation.
 */
import { CreateTopicCommand, DeleteTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { bool, jsonString } from '../../core/deployment/values.js';

/** Topic properties that are topic attributes of the same name. */
const PLAIN = ['DisplayName', 'ContentBasedDeduplication', 'KmsMasterKeyId', 'SignatureVersion', 'TracingConfig', 'FifoThroughputScope'] as const;

export const snsTopic: Provisioner = {
  handles: ['AWS::SNS::Topic'],
  kind: 'created',
  async provision({ props, clients, name }) {
    const fifo = bool(props.FifoTopic);
    const Name = name(props.TopicName, { max: 256, ...(fifo ? { suffix: '.fifo' } : {}) });
    const Attributes: Record<string, string> = {};
    for (const k of PLAIN) if (props[k] !== undefined) Attributes[k] = String(props[k]);
    if (fifo) Attributes.FifoTopic = 'true';
    if (props.ArchivePolicy !== undefined) Attributes.ArchivePolicy = jsonString(props.ArchivePolicy);
    const created = await clients.sns.send(new CreateTopicCommand({ Name, Attributes }));
    const TopicArn = created.TopicArn;
    if (!TopicArn) throw new Error(`CreateTopic ${Name} returned no ARN`);
    for (const s of (props.Subscription as Array<{ Protocol?: string; Endpoint?: string }> | undefined) ?? []) {
      await clients.sns.send(new SubscribeCommand({ TopicArn, Protocol: String(s.Protocol), Endpoint: String(s.Endpoint), ReturnSubscriptionArn: true }));
    }
    return {
      physical: { type: 'AWS::SNS::Topic', ref: TopicArn, attributes: { TopicArn, TopicName: Name } },
      destroy: async () => void (await clients.sns.send(new DeleteTopicCommand({ TopicArn }))),
    };
  },
};
