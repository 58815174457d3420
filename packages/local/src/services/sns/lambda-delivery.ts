/**
 * SNS → Lambda, the pure parts: the published messages of a Publish / PublishBatch form, the SNS event
 * Lambda receives (Records[].Sns) and the subscriptions' filter policies. The delivering part is
 * publish.ts (the gateway's SNS data plane), through the function's asynchronous event queue
 * (services/lambda/async-invoke.ts).
 *
 * Filter policies are matched by the one event-pattern matcher (core/event-pattern.ts),
 * on the message attributes (String as a string, Number as a number, String.Array as its list) or, with
 * FilterPolicyScope MessageBody, on the message parsed as JSON.
 *
 * The pure parts (`parsePublishForm`, `snsLambdaEvent`, `filterPolicyMatches`) are unit-tested.
 */
import { compileEventPattern } from '../../core/event-pattern.js';

export interface SnsAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/** One published message as SNS received it. */
export interface PublishedMessage {
  readonly topicArn: string;
  readonly messageId: string;
  readonly message: string;
  readonly subject?: string;
  readonly messageAttributes: Readonly<Record<string, SnsAttribute>>;
  /** ISO-8601 with milliseconds, as SNS writes it. */
  readonly timestamp: string;
  readonly messageGroupId?: string;
  /** FIFO topics: the MessageDeduplicationId given (or derived from the body with ContentBasedDeduplication). */
  readonly messageDeduplicationId?: string;
}

export interface SnsSubscriptionView {
  readonly arn: string;
  readonly protocol: string;
  readonly endpoint: string;
  readonly attributes: Readonly<Record<string, string>>;
}

function attributesAt(form: URLSearchParams, prefix: string): Record<string, SnsAttribute> {
  const out: Record<string, SnsAttribute> = {};
  for (let i = 1; form.has(`${prefix}MessageAttributes.entry.${i}.Name`); i++) {
    const at = `${prefix}MessageAttributes.entry.${i}`;
    const name = form.get(`${at}.Name`)!;
    const DataType = form.get(`${at}.Value.DataType`) ?? 'String';
    const s = form.get(`${at}.Value.StringValue`);
    const b = form.get(`${at}.Value.BinaryValue`);
    out[name] = { DataType, ...(s !== null ? { StringValue: s } : {}), ...(b !== null ? { BinaryValue: b } : {}) };
  }
  return out;
}

/**
 * The messages a Publish or PublishBatch request carries, keyed by the MessageIds the upstream answered
 * (`ids`: Publish's one id, or PublishBatch's Successful entries by entry Id).
 */
export function parsePublishForm(form: URLSearchParams, ids: ReadonlyMap<string, string>, now: Date = new Date()): PublishedMessage[] {
  const topicArn = form.get('TopicArn') ?? '';
  const timestamp = now.toISOString();
  if (form.get('Action') === 'Publish') {
    const messageId = ids.get('') ?? '';
    if (!messageId) return [];
    const subject = form.get('Subject');
    const group = form.get('MessageGroupId');
    const dedup = form.get('MessageDeduplicationId');
    return [{ topicArn, messageId, message: form.get('Message') ?? '', ...(subject !== null ? { subject } : {}), messageAttributes: attributesAt(form, ''), timestamp, ...(group !== null ? { messageGroupId: group } : {}), ...(dedup !== null ? { messageDeduplicationId: dedup } : {}) }];
  }
  const out: PublishedMessage[] = [];
  for (let i = 1; form.has(`PublishBatchRequestEntries.member.${i}.Id`); i++) {
    const at = `PublishBatchRequestEntries.member.${i}.`;
    const messageId = ids.get(form.get(`${at}Id`)!);
    if (!messageId) continue; // a failed entry
    const subject = form.get(`${at}Subject`);
    const group = form.get(`${at}MessageGroupId`);
    const dedup = form.get(`${at}MessageDeduplicationId`);
    out.push({ topicArn, messageId, message: form.get(`${at}Message`) ?? '', ...(subject !== null ? { subject } : {}), messageAttributes: attributesAt(form, at), timestamp, ...(group !== null ? { messageGroupId: group } : {}), ...(dedup !== null ? { messageDeduplicationId: dedup } : {}) });
  }
  return out;
}

/** MessageIds in a Publish (`'' -> id`) or PublishBatch (`entry Id -> id`) answer. */
export function publishedIds(action: string, xml: string): Map<string, string> {
  const ids = new Map<string, string>();
  if (action === 'Publish') {
    const m = /<MessageId>([^<]+)<\/MessageId>/.exec(xml);
    if (m) ids.set('', m[1]!);
    return ids;
  }
  const ok = /<Successful>([\s\S]*?)<\/Successful>/.exec(xml)?.[1] ?? '';
  for (const m of ok.matchAll(/<member>\s*<Id>([^<]+)<\/Id>\s*<MessageId>([^<]+)<\/MessageId>/g)) ids.set(m[1]!, m[2]!);
  return ids;
}

function region(arn: string): string {
  return arn.split(':')[3] ?? 'us-east-1';
}

/** Lambda's SNS event for one message and one subscription (aws-lambda's SNSEvent). */
export function snsLambdaEvent(subscriptionArn: string, m: PublishedMessage): { Records: unknown[] } {
  const r = region(m.topicArn);
  const attrs: Record<string, { Type: string; Value: string }> = {};
  for (const [k, v] of Object.entries(m.messageAttributes)) attrs[k] = { Type: v.DataType, Value: v.StringValue ?? v.BinaryValue ?? '' };
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: subscriptionArn,
        Sns: {
          Type: 'Notification',
          MessageId: m.messageId,
          TopicArn: m.topicArn,
          Subject: m.subject ?? null,
          Message: m.message,
          Timestamp: m.timestamp,
          // Local messages are not signed: no AWS signing key exists here (fauxqs writes the same value).
          SignatureVersion: '1',
          Signature: 'EXAMPLE',
          SigningCertUrl: `https://sns.${r}.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem`,
          UnsubscribeUrl: `https://sns.${r}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${subscriptionArn}`,
          MessageAttributes: attrs,
        },
      },
    ],
  };
}

/** The message attributes as a JSON object for the pattern matcher. */
function attributeValues(attrs: Readonly<Record<string, SnsAttribute>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v.StringValue === undefined) continue; // Binary attributes are not filtered on
    if (v.DataType.startsWith('Number')) out[k] = Number(v.StringValue);
    else if (v.DataType === 'String.Array') {
      try {
        out[k] = JSON.parse(v.StringValue) as unknown;
      } catch {
        out[k] = v.StringValue;
      }
    } else out[k] = v.StringValue;
  }
  return out;
}

/** Whether a subscription's FilterPolicy (with its FilterPolicyScope) lets the message through. */
export function filterPolicyMatches(attributes: Readonly<Record<string, string>>, m: PublishedMessage): boolean {
  const policy = attributes.FilterPolicy;
  if (policy === undefined || policy === '') return true;
  const match = compileEventPattern(JSON.parse(policy) as unknown, 'FilterPolicy', 'sns');
  if (attributes.FilterPolicyScope === 'MessageBody') {
    let body: unknown;
    try {
      body = JSON.parse(m.message);
    } catch {
      return false; // a body policy needs a JSON message: SNS does not deliver it
    }
    return match(body);
  }
  return match(attributeValues(m.messageAttributes));
}
