/**
 * AWS::SNS::Subscription: subscribed on the endpoint's SNS with its attributes (RawMessageDelivery,
 * FilterPolicy and FilterPolicyScope, RedrivePolicy, ...). `sqs` subscriptions are delivered by fauxqs,
 * `lambda` ones by the SNS service of the gateway (services/sns/lambda-delivery.ts). Other protocols
 * (http/s, email, sms, firehose, application) would deliver nothing locally: they are refused by name.
 */
import { SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { UnsupportedResourceError } from '../../core/deployment/errors.js';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { jsonString } from '../../core/deployment/values.js';

export const DELIVERED_PROTOCOLS = ['sqs', 'lambda'] as const;

const PLAIN = ['RawMessageDelivery', 'FilterPolicyScope', 'SubscriptionRoleArn'] as const;
const JSON_VALUED = ['FilterPolicy', 'RedrivePolicy', 'DeliveryPolicy', 'ReplayPolicy'] as const;

export const snsSubscription: Provisioner = {
  handles: ['AWS::SNS::Subscription'],
  kind: 'created',
  async provision({ logicalId, props, clients }) {
    const Protocol = String(props.Protocol ?? '');
    if (!(DELIVERED_PROTOCOLS as readonly string[]).includes(Protocol)) {
      throw new UnsupportedResourceError(`AWS::SNS::Subscription (${logicalId}): protocol "${Protocol}" is not delivered by the local stack (it delivers ${DELIVERED_PROTOCOLS.join(' and ')})`);
    }
    const Attributes: Record<string, string> = {};
    for (const k of PLAIN) if (props[k] !== undefined) Attributes[k] = String(props[k]);
    for (const k of JSON_VALUED) if (props[k] !== undefined) Attributes[k] = jsonString(props[k]);
    const out = await clients.sns.send(
      new SubscribeCommand({ TopicArn: String(props.TopicArn), Protocol, Endpoint: String(props.Endpoint), Attributes, ReturnSubscriptionArn: true }),
    );
    const SubscriptionArn = out.SubscriptionArn;
    if (!SubscriptionArn) throw new Error(`Subscribe (${logicalId}) returned no subscription ARN`);
    return {
      physical: { type: 'AWS::SNS::Subscription', ref: SubscriptionArn, attributes: { Arn: SubscriptionArn } },
      destroy: async () => void (await clients.sns.send(new UnsubscribeCommand({ SubscriptionArn }))),
    };
  },
};
