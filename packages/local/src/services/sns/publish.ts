/**
 * SNS's data plane: Publish and PublishBatch, answered here and fanned out from here to every
 * subscription of the topic, `sqs` and `lambda` alike. fauxqs keeps the topics and subscriptions (the
 * control plane: Create/Delete/Subscribe/List/attributes) but never receives a Publish: its own fan-out
 * cannot ask the queue's policy, and SNS delivers to a queue only when the queue policy lets
 * `sns.amazonaws.com` send from this topic (gateway/deliveries.ts), as on AWS.
 *
 * Per message and subscription whose filter policy matches (core/event-pattern.ts):
 * - `sqs`: SendMessage to the queue, enveloped (the JSON Notification, as SNS writes it) or raw
 *   (RawMessageDelivery: the body, with the message attributes as SQS attributes); a FIFO queue gets the
 *   message group and deduplication id;
 * - `lambda`: the SNS event through the function's asynchronous event queue, when its
 *   `AWS::Lambda::Permission`s let `sns.amazonaws.com` invoke it from this topic.
 * A notification that cannot be delivered (refused by the destination's policy, a queue or function that
 * is gone) is not retried (AWS's client-side errors): it goes to the subscription's RedrivePolicy
 * dead-letter queue when it has one, and is counted as NumberOfNotificationsFailed either way.
 */
import { createHash, randomUUID } from 'node:crypto';
import { upstreamCall, type UpstreamResponse } from '../../gateway/forward.js';
import type { DeliveryGate } from '../../core/delivery-gate.js';
import { escapeXml } from '../../gateway/protocol-errors.js';
import type { AttachedStack } from '../../gateway/types.js';
import type { AsyncInvoker } from '../lambda/async-invoke.js';
import { filterPolicyMatches, parsePublishForm, snsLambdaEvent, type PublishedMessage, type SnsSubscriptionView } from './lambda-delivery.js';

export const SNS_API_VERSION = '2010-03-31';
const SNS_XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
/** SNS's limit on a message with its attributes (256 KiB). */
const MAX_MESSAGE_BYTES = 262_144;

export class SnsApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

export async function snsCall(upstream: string, params: Record<string, string>): Promise<UpstreamResponse> {
  const body = Buffer.from(new URLSearchParams({ ...params, Version: SNS_API_VERSION }).toString());
  return upstreamCall(upstream, 'POST', '/', { ...FORM, 'content-length': String(body.length) }, body);
}

export const xmlText = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

export async function sqsJson(upstream: string, op: string, body: unknown): Promise<Record<string, unknown>> {
  const buf = Buffer.from(JSON.stringify(body));
  const res = await upstreamCall(upstream, 'POST', '/', { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${op}`, 'content-length': String(buf.length) }, buf);
  const parsed = JSON.parse(res.body.toString('utf8') || '{}') as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`SQS ${op}: ${String(parsed.message ?? parsed.__type ?? res.status)}`);
  return parsed;
}

/** The topic's subscriptions (confirmed ones) with their attributes, read from the upstream. */
async function subscriptionsOf(upstream: string, topicArn: string): Promise<SnsSubscriptionView[]> {
  const listed: Array<Omit<SnsSubscriptionView, 'attributes'>> = [];
  let next: string | undefined;
  do {
    const page = (await snsCall(upstream, { Action: 'ListSubscriptionsByTopic', TopicArn: topicArn, ...(next ? { NextToken: next } : {}) })).body.toString('utf8');
    for (const m of page.matchAll(/<member>([\s\S]*?)<\/member>/g)) {
      const field = (k: string): string => xmlText(new RegExp(`<${k}>([^<]*)</${k}>`).exec(m[1]!)?.[1] ?? '');
      listed.push({ arn: field('SubscriptionArn'), protocol: field('Protocol'), endpoint: field('Endpoint') });
    }
    next = /<NextToken>([^<]+)<\/NextToken>/.exec(page)?.[1];
  } while (next);
  const out: SnsSubscriptionView[] = [];
  for (const sub of listed.filter((s) => s.arn.startsWith('arn:'))) {
    const xml = (await snsCall(upstream, { Action: 'GetSubscriptionAttributes', SubscriptionArn: sub.arn })).body.toString('utf8');
    const attributes: Record<string, string> = {};
    for (const e of xml.matchAll(/<entry>\s*<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>\s*<\/entry>/g)) attributes[xmlText(e[1]!)] = xmlText(e[2]!);
    out.push({ ...sub, attributes });
  }
  return out;
}

interface TopicSettings {
  readonly fifo: boolean;
  readonly contentBasedDeduplication: boolean;
}

/** The entries of a Publish (`''`) or PublishBatch request and why each one is refused, if it is. */
export function checkPublishEntries(form: URLSearchParams, topic: TopicSettings): Array<{ id: string; refused?: { code: string; message: string }; dedup?: string }> {
  const prefixes: Array<[string, string]> = [];
  if (form.get('Action') === 'Publish') prefixes.push(['', '']);
  else for (let i = 1; form.has(`PublishBatchRequestEntries.member.${i}.Id`); i++) prefixes.push([form.get(`PublishBatchRequestEntries.member.${i}.Id`)!, `PublishBatchRequestEntries.member.${i}.`]);
  return prefixes.map(([id, at]) => {
    const message = form.get(`${at}Message`);
    if (message === null || message === '') return { id, refused: { code: 'InvalidParameter', message: 'Invalid parameter: Message is required' } };
    let size = Buffer.byteLength(message);
    for (let j = 1; form.has(`${at}MessageAttributes.entry.${j}.Name`); j++) {
      for (const k of ['Name', 'Value.DataType', 'Value.StringValue', 'Value.BinaryValue']) size += Buffer.byteLength(form.get(`${at}MessageAttributes.entry.${j}.${k}`) ?? '');
    }
    if (size > MAX_MESSAGE_BYTES) return { id, refused: { code: 'InvalidParameter', message: `Invalid parameter: Message too long. Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.` } };
    if (!topic.fifo) return { id };
    if (!form.get(`${at}MessageGroupId`)) return { id, refused: { code: 'InvalidParameter', message: 'Invalid parameter: The MessageGroupId parameter is required for FIFO topics' } };
    const given = form.get(`${at}MessageDeduplicationId`);
    if (given) return { id };
    if (!topic.contentBasedDeduplication) return { id, refused: { code: 'InvalidParameter', message: 'Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly' } };
    return { id, dedup: createHash('sha256').update(message).digest('hex') };
  });
}

/** The SNS Notification an `sqs` subscription without RawMessageDelivery receives. */
export function snsEnvelope(subscriptionArn: string, m: PublishedMessage): string {
  const region = m.topicArn.split(':')[3] ?? 'us-east-1';
  const attrs = Object.entries(m.messageAttributes);
  return JSON.stringify({
    Type: 'Notification',
    MessageId: m.messageId,
    TopicArn: m.topicArn,
    ...(m.subject !== undefined ? { Subject: m.subject } : {}),
    Message: m.message,
    Timestamp: m.timestamp,
    // Local messages are not signed: no AWS signing key exists here.
    SignatureVersion: '1',
    Signature: 'EXAMPLE',
    SigningCertURL: `https://sns.${region}.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem`,
    UnsubscribeURL: `https://sns.${region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${subscriptionArn}`,
    ...(attrs.length ? { MessageAttributes: Object.fromEntries(attrs.map(([k, v]) => [k, { Type: v.DataType, Value: v.StringValue ?? v.BinaryValue ?? '' }])) } : {}),
  });
}

export interface FanOutContext {
  /** fauxqs's SNS (subscriptions) and SQS (queues) endpoints. */
  readonly sns: string;
  readonly sqs: string;
  readonly stack: AttachedStack | undefined;
  readonly gate: DeliveryGate | undefined;
  readonly log: (line: string) => void;
}

const queueParts = (arn: string): { account: string; name: string } => {
  const [, , , , account = '', name = ''] = arn.split(':');
  return { account, name };
};

/** Sends an undeliverable notification to the subscription's dead-letter queue (RedrivePolicy), if it has one and may. */
async function toDeadLetterQueue(f: FanOutContext, sub: SnsSubscriptionView, m: PublishedMessage, reason: string): Promise<boolean> {
  const policy = sub.attributes.RedrivePolicy;
  if (!policy) return false;
  const target = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
  if (!target) return false;
  const allowed = await f.gate?.authorize({ service: 'sns.amazonaws.com', action: 'sqs:SendMessage', resource: target, sourceArn: m.topicArn });
  if (allowed && !allowed.allowed) {
    f.log(`sns: the dead-letter queue ${target} of ${sub.arn} refused the notification too: ${allowed.message}`);
    return false;
  }
  const { QueueUrl } = await sqsJson(f.sqs, 'GetQueueUrl', { QueueName: queueParts(target).name, QueueOwnerAWSAccountId: queueParts(target).account });
  const body = JSON.stringify({ Type: 'Notification', MessageId: m.messageId, TopicArn: m.topicArn, ...(m.subject !== undefined ? { Subject: m.subject } : {}), Message: m.message, Timestamp: m.timestamp });
  await sqsJson(f.sqs, 'SendMessage', {
    QueueUrl,
    MessageBody: body,
    MessageAttributes: { ErrorCode: { DataType: 'String', StringValue: reason.startsWith('denied') ? 'AuthorizationError' : 'EndpointUnavailable' }, ErrorMessage: { DataType: 'String', StringValue: reason } },
    ...(m.messageGroupId && target.endsWith('.fifo') ? { MessageGroupId: m.messageGroupId, MessageDeduplicationId: m.messageId } : {}),
  });
  return true;
}

/** One notification to one `sqs` subscription; returns why it failed, or undefined when delivered. */
async function toQueue(f: FanOutContext, sub: SnsSubscriptionView, m: PublishedMessage): Promise<string | undefined> {
  const { account, name } = queueParts(sub.endpoint);
  let queueUrl: string;
  try {
    queueUrl = String((await sqsJson(f.sqs, 'GetQueueUrl', { QueueName: name, QueueOwnerAWSAccountId: account })).QueueUrl);
  } catch {
    return `Queue ${sub.endpoint} does not exist`;
  }
  const decision = await f.gate?.authorize({ service: 'sns.amazonaws.com', action: 'sqs:SendMessage', resource: sub.endpoint, sourceArn: m.topicArn });
  if (decision && !decision.allowed) return `denied: ${decision.message}`;
  const raw = sub.attributes.RawMessageDelivery === 'true';
  const fifo = name.endsWith('.fifo');
  const attributes = raw ? Object.fromEntries(Object.entries(m.messageAttributes).map(([k, v]) => [k, { DataType: v.DataType, ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}), ...(v.BinaryValue !== undefined ? { BinaryValue: v.BinaryValue } : {}) }])) : {};
  await sqsJson(f.sqs, 'SendMessage', {
    QueueUrl: queueUrl,
    MessageBody: raw ? m.message : snsEnvelope(sub.arn, m),
    ...(Object.keys(attributes).length ? { MessageAttributes: attributes } : {}),
    ...(fifo && m.messageGroupId ? { MessageGroupId: m.messageGroupId, MessageDeduplicationId: m.messageDeduplicationId ?? m.messageId } : {}),
  });
  return undefined;
}

/** Delivers published messages to every subscription of their topic (they share one topic). */
export async function fanOut(f: FanOutContext, messages: readonly PublishedMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const topicArn = messages[0]!.topicArn;
  for (const sub of await subscriptionsOf(f.sns, topicArn)) {
    if (sub.protocol !== 'sqs' && sub.protocol !== 'lambda') continue;
    let invoker: AsyncInvoker | undefined;
    if (sub.protocol === 'lambda') {
      const name = sub.endpoint.split(':')[6] ?? sub.endpoint;
      const fn = f.stack?.deployment.functions.find((x) => x.functionName === name);
      invoker = fn ? f.stack?.asyncInvokers?.get(fn.logicalId) : undefined;
    }
    for (const m of messages) {
      let pass: boolean;
      try {
        pass = filterPolicyMatches(sub.attributes, m);
      } catch (err) {
        f.log(`sns: subscription ${sub.arn}: filter policy not applied (${(err as Error).message}); message ${m.messageId} not delivered`);
        continue;
      }
      if (!pass) continue;
      let failure: string | undefined;
      try {
        if (sub.protocol === 'sqs') failure = await toQueue(f, sub, m);
        else if (!invoker) failure = `Function ${sub.endpoint} is not part of the local stack`;
        else {
          const decision = await f.gate?.authorize({ service: 'sns.amazonaws.com', action: 'lambda:InvokeFunction', resource: sub.endpoint.split(':').slice(0, 7).join(':'), sourceArn: topicArn });
          if (decision && !decision.allowed) failure = `denied: ${decision.message}`;
          else invoker.enqueue(snsLambdaEvent(sub.arn, m));
        }
      } catch (err) {
        failure = `delivery failed: ${(err as Error).message}`;
      }
      if (failure === undefined) continue;
      const redriven = await toDeadLetterQueue(f, sub, m, failure).catch((err: unknown) => (f.log(`sns: dead-letter queue of ${sub.arn}: ${(err as Error).message}`), false));
      f.gate?.notificationFailed(topicArn, redriven);
      f.log(`sns: notification ${m.messageId} to ${sub.arn} not delivered (${failure}); ${redriven ? 'sent to its dead-letter queue' : 'dropped (NumberOfNotificationsFailed)'}`);
    }
  }
}

/**
 * Publish / PublishBatch: checked (topic, message, FIFO fields) and answered as SNS does, after the
 * fan-out (so a FIFO topic's next message cannot overtake this one). Returns the response body and the
 * published messages.
 */
export async function publish(f: FanOutContext, form: URLSearchParams, now: Date = new Date()): Promise<{ status: number; body: string; messages: PublishedMessage[] }> {
  const action = form.get('Action') ?? 'Publish';
  const topicArn = form.get('TopicArn');
  if (!topicArn) throw new SnsApiError(400, 'InvalidParameter', 'Invalid parameter: TopicArn');
  const attrs = await snsCall(f.sns, { Action: 'GetTopicAttributes', TopicArn: topicArn });
  const text = attrs.body.toString('utf8');
  if (attrs.status >= 300) throw new SnsApiError(attrs.status, /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? 'NotFound', xmlText(/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? 'Topic does not exist'));
  const attr = (k: string): string | undefined => [...text.matchAll(/<entry>\s*<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>\s*<\/entry>/g)].find((e) => e[1] === k)?.[2];
  const topic = { fifo: attr('FifoTopic') === 'true', contentBasedDeduplication: attr('ContentBasedDeduplication') === 'true' };
  const entries = checkPublishEntries(form, topic);
  if (action === 'PublishBatch') {
    if (entries.length === 0) throw new SnsApiError(400, 'EmptyBatchRequest', "The batch request doesn't contain any entries.");
    if (entries.length > 10) throw new SnsApiError(400, 'TooManyEntriesInBatchRequest', 'The batch request contains more entries than permissible.');
    if (new Set(entries.map((e) => e.id)).size !== entries.length) throw new SnsApiError(400, 'BatchEntryIdsNotDistinct', 'Two or more batch entries in the request have the same Id.');
    if (entries.some((e) => !/^[A-Za-z0-9_-]{1,80}$/.test(e.id))) throw new SnsApiError(400, 'InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
  } else if (entries[0]?.refused) throw new SnsApiError(400, entries[0].refused.code, entries[0].refused.message);
  const ids = new Map<string, string>(entries.filter((e) => !e.refused).map((e) => [e.id, randomUUID()]));
  const dedups = new Map(entries.filter((e) => e.dedup).map((e) => [ids.get(e.id)!, e.dedup!]));
  const messages = parsePublishForm(form, ids, now).map((m) => (dedups.has(m.messageId) ? { ...m, messageDeduplicationId: dedups.get(m.messageId)! } : m));
  await fanOut(f, messages);
  const result =
    action === 'Publish'
      ? `<MessageId>${ids.get('')}</MessageId>`
      : `<Successful>${entries.filter((e) => !e.refused).map((e) => `<member><Id>${escapeXml(e.id)}</Id><MessageId>${ids.get(e.id)}</MessageId></member>`).join('')}</Successful>` +
        `<Failed>${entries.filter((e) => e.refused).map((e) => `<member><Id>${escapeXml(e.id)}</Id><Code>${e.refused!.code}</Code><Message>${escapeXml(e.refused!.message)}</Message><SenderFault>true</SenderFault></member>`).join('')}</Failed>`;
  const body = `<${action}Response xmlns="${SNS_XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
  return { status: 200, body, messages };
}
