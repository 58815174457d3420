/**
 * SNS (query protocol, API version 2010-03-31) on the one endpoint, forwarded to fauxqs, which keeps
 * topics and subscriptions and fans out to SQS (raw or enveloped, filter policies on attributes or
 * body, FIFO topics, PublishBatch). What fauxqs does not do is done here:
 * - `lambda` subscriptions are confirmed at once (as AWS does for Lambda endpoints) and delivered after
 *   each successful Publish / PublishBatch (lambda-delivery.ts), through the function's asynchronous
 *   event queue;
 * - a subscription whose endpoint is gone (a function not in the stack, a deleted queue) sends the
 *   message to its RedrivePolicy's dead-letter queue, as SNS does for an endpoint it cannot reach;
 * - protocols the local stack cannot deliver (http/s, email, sms, firehose, application) are refused
 *   at Subscribe, never accepted and silently dropped.
 */
import type { ServerResponse } from 'node:http';
import { upstreamCall, type UpstreamResponse } from '../../gateway/forward.js';
import { queryError } from '../../gateway/protocol-errors.js';
import type { AttachedStack, GatewayContext, GatewayError, GatewayService } from '../../gateway/types.js';
import type { AsyncInvoker } from '../lambda/async-invoke.js';
import { filterPolicyMatches, parsePublishForm, publishedIds, snsLambdaEvent, type PublishedMessage, type SnsSubscriptionView } from './lambda-delivery.js';
import { DELIVERED_PROTOCOLS } from './subscription.js';
import { compileEventPattern, EventPatternError as FilterCriteriaError } from '../../core/event-pattern.js';

export const SNS_API_VERSION = '2010-03-31';

class SnsApiError extends Error implements GatewayError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

async function call(upstream: string, params: Record<string, string>): Promise<UpstreamResponse> {
  const body = Buffer.from(new URLSearchParams({ ...params, Version: SNS_API_VERSION }).toString());
  return upstreamCall(upstream, 'POST', '/', { ...FORM, 'content-length': String(body.length) }, body);
}

const xmlText = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** The topic's subscriptions (ARN, protocol, endpoint), read from the upstream. */
async function subscriptionsOf(upstream: string, topicArn: string): Promise<Array<Omit<SnsSubscriptionView, 'attributes'>>> {
  const out: Array<Omit<SnsSubscriptionView, 'attributes'>> = [];
  let next: string | undefined;
  do {
    const page = (await call(upstream, { Action: 'ListSubscriptionsByTopic', TopicArn: topicArn, ...(next ? { NextToken: next } : {}) })).body.toString('utf8');
    for (const m of page.matchAll(/<member>([\s\S]*?)<\/member>/g)) {
      const field = (k: string): string => xmlText(new RegExp(`<${k}>([^<]*)</${k}>`).exec(m[1]!)?.[1] ?? '');
      out.push({ arn: field('SubscriptionArn'), protocol: field('Protocol'), endpoint: field('Endpoint') });
    }
    next = /<NextToken>([^<]+)<\/NextToken>/.exec(page)?.[1];
  } while (next);
  return out;
}

async function withAttributes(upstream: string, sub: Omit<SnsSubscriptionView, 'attributes'>): Promise<SnsSubscriptionView> {
  const xml = (await call(upstream, { Action: 'GetSubscriptionAttributes', SubscriptionArn: sub.arn })).body.toString('utf8');
  const attributes: Record<string, string> = {};
  for (const e of xml.matchAll(/<entry>\s*<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>\s*<\/entry>/g)) attributes[xmlText(e[1]!)] = xmlText(e[2]!);
  return { ...sub, attributes };
}

export async function sqsJson(upstream: string, op: string, body: unknown): Promise<Record<string, unknown>> {
  const buf = Buffer.from(JSON.stringify(body));
  const res = await upstreamCall(upstream, 'POST', '/', { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${op}`, 'content-length': String(buf.length) }, buf);
  const parsed = JSON.parse(res.body.toString('utf8') || '{}') as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`SQS ${op}: ${String(parsed.message ?? parsed.__type ?? res.status)}`);
  return parsed;
}

/** Sends an undeliverable message to the subscription's dead-letter queue (RedrivePolicy.deadLetterTargetArn). */
async function toDeadLetterQueue(sqsUpstream: string, sub: SnsSubscriptionView, m: PublishedMessage, reason: string): Promise<boolean> {
  const policy = sub.attributes.RedrivePolicy;
  if (!policy) return false;
  const target = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
  const name = target?.split(':')[5];
  if (!name) return false;
  const { QueueUrl } = await sqsJson(sqsUpstream, 'GetQueueUrl', { QueueName: name, QueueOwnerAWSAccountId: target!.split(':')[4] });
  const body = JSON.stringify({ Type: 'Notification', MessageId: m.messageId, TopicArn: m.topicArn, ...(m.subject !== undefined ? { Subject: m.subject } : {}), Message: m.message, Timestamp: m.timestamp });
  await sqsJson(sqsUpstream, 'SendMessage', {
    QueueUrl,
    MessageBody: body,
    MessageAttributes: { ErrorCode: { DataType: 'String', StringValue: 'EndpointUnavailable' }, ErrorMessage: { DataType: 'String', StringValue: reason } },
    ...(m.messageGroupId ? { MessageGroupId: m.messageGroupId, MessageDeduplicationId: m.messageId } : {}),
  });
  return true;
}

export interface SnsServiceOptions {
  /** Delivery problems (a function missing, a bad filter policy). @default console.warn */
  readonly log?: (line: string) => void;
}

/**
 * What fauxqs does not do after a publish: delivery to the topic's `lambda` subscriptions, and the
 * RedrivePolicy of any subscription whose endpoint is gone (a function not in the stack, a deleted
 * queue: fauxqs skips those silently), as SNS sends such messages to the subscription's DLQ.
 */
async function deliverToLambda(upstream: string, sqsUpstream: string, stack: AttachedStack | undefined, messages: readonly PublishedMessage[], log: (l: string) => void): Promise<void> {
  if (messages.length === 0) return;
  for (const listed of await subscriptionsOf(upstream, messages[0]!.topicArn)) {
    let invoker: AsyncInvoker | undefined;
    let unreachable: string | undefined;
    if (listed.protocol === 'lambda') {
      const name = listed.endpoint.split(':')[6] ?? listed.endpoint;
      const fn = stack?.deployment.functions.find((f) => f.functionName === name);
      invoker = fn ? stack?.asyncInvokers?.get(fn.logicalId) : undefined;
      if (!invoker) unreachable = `Function ${listed.endpoint} is not part of the local stack`;
    } else if (listed.protocol === 'sqs') {
      const [, , , , account, queue] = listed.endpoint.split(':');
      const exists = await sqsJson(sqsUpstream, 'GetQueueUrl', { QueueName: queue, QueueOwnerAWSAccountId: account }).then(() => true, () => false);
      if (exists) continue; // fauxqs delivered it
      unreachable = `Queue ${listed.endpoint} does not exist`;
    } else continue;
    const sub = await withAttributes(upstream, listed);
    for (const m of messages) {
      let pass: boolean;
      try {
        pass = filterPolicyMatches(sub.attributes, m);
      } catch (err) {
        log(`sns: subscription ${sub.arn}: filter policy not applied (${(err as Error).message}); message ${m.messageId} not delivered`);
        continue;
      }
      if (!pass) continue;
      if (invoker) {
        invoker.enqueue(snsLambdaEvent(sub.arn, m));
        continue;
      }
      const sent = await toDeadLetterQueue(sqsUpstream, sub, m, unreachable!).catch((err: unknown) => (log(`sns: dead-letter queue of ${sub.arn}: ${(err as Error).message}`), true));
      if (!sent) log(`sns: ${unreachable}; message ${m.messageId} to ${sub.arn} dropped (no RedrivePolicy)`);
    }
  }
}

/**
 * Publishes as an AWS service does (S3 notifications): to the topic on the upstream, then to its
 * `lambda` subscriptions. Returns the MessageId; throws when the topic refuses the message.
 */
export async function publishToTopic(ctx: GatewayContext, topicArn: string, message: string, subject: string | undefined, log: (l: string) => void): Promise<string> {
  const upstream = ctx.upstreams.sns ?? ctx.upstreams.sqs;
  if (!upstream || !ctx.upstreams.sqs) throw new Error('no SNS upstream on this endpoint');
  const form = new URLSearchParams({ Action: 'Publish', TopicArn: topicArn, Message: message, ...(subject !== undefined ? { Subject: subject } : {}) });
  const up = await call(upstream, Object.fromEntries(form));
  const text = up.body.toString('utf8');
  if (up.status >= 300) throw new Error(`SNS Publish to ${topicArn}: ${/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? up.status}`);
  const ids = publishedIds('Publish', text);
  await deliverToLambda(upstream, ctx.upstreams.sqs, ctx.stack(), parsePublishForm(form, ids), log);
  return ids.get('') ?? '';
}

function reply(res: ServerResponse, up: UpstreamResponse): void {
  const headers = { ...up.headers };
  delete headers['transfer-encoding'];
  delete headers.connection;
  res.writeHead(up.status, { ...headers, 'content-length': String(up.body.length) });
  res.end(up.body);
}

export function createSnsService(options: SnsServiceOptions = {}) {
  const log = options.log ?? ((l: string) => console.warn(l));
  return (ctx: GatewayContext): GatewayService | undefined => {
    const upstream = ctx.upstreams.sns ?? ctx.upstreams.sqs;
    const sqsUpstream = ctx.upstreams.sqs;
    if (!upstream || !sqsUpstream) return undefined;
    const service: GatewayService = {
      name: 'sns',
      signingNames: ['sns'],
      claims: (r) => r.action !== undefined && r.version === SNS_API_VERSION,
      async handle(req, res) {
        const raw = await req.body();
        const form = new URLSearchParams(req.rawQuery);
        for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) form.append(k, v);
        const action = form.get('Action') ?? '';
        const send = (): Promise<UpstreamResponse> => upstreamCall(upstream, 'POST', '/', { ...FORM, 'content-length': String(Buffer.byteLength(form.toString())) }, Buffer.from(form.toString()));
        try {
          if (action === 'Subscribe') {
            const protocol = form.get('Protocol') ?? '';
            if (protocol !== '' && !(DELIVERED_PROTOCOLS as readonly string[]).includes(protocol)) {
              throw new SnsApiError(400, 'InvalidParameter', `Invalid parameter: Protocol "${protocol}" is not delivered by the local stack (it delivers ${DELIVERED_PROTOCOLS.join(' and ')})`);
            }
            if (protocol === 'lambda' && (form.get('TopicArn') ?? '').endsWith('.fifo')) {
              throw new SnsApiError(400, 'InvalidParameter', 'Invalid parameter: Invalid protocol type: lambda. FIFO topics deliver to Amazon SQS queues only');
            }
            if (protocol === 'lambda') {
              for (let i = 1; form.has(`Attributes.entry.${i}.key`); i++) {
                if (form.get(`Attributes.entry.${i}.key`) !== 'FilterPolicy', 'sns') continue;
                try {
                  compileEventPattern(JSON.parse(form.get(`Attributes.entry.${i}.value`) ?? '') as unknown, 'FilterPolicy', 'sns');
                } catch (err) {
                  throw new SnsApiError(400, 'InvalidParameter', `Invalid parameter: FilterPolicy: ${(err as Error).message}`);
                }
              }
            }
            const up = await send();
            const arn = /<SubscriptionArn>([^<]+)<\/SubscriptionArn>/.exec(up.body.toString('utf8'))?.[1];
            // Lambda endpoints need no confirmation on AWS; fauxqs confirms only sqs ones by itself.
            if (up.status < 300 && protocol === 'lambda' && arn) await call(upstream, { Action: 'ConfirmSubscription', TopicArn: form.get('TopicArn') ?? '', Token: xmlText(arn) });
            return reply(res, up);
          }
          if (action === 'Publish' || action === 'PublishBatch') {
            const up = await send();
            reply(res, up);
            if (up.status >= 300) return;
            const messages = parsePublishForm(form, publishedIds(action, up.body.toString('utf8')));
            await deliverToLambda(upstream, sqsUpstream, ctx.stack(), messages, log).catch((err: unknown) => log(`sns: delivery to lambda subscriptions failed: ${(err as Error).message}`));
            return;
          }
          return reply(res, await send());
        } catch (err) {
          if (err instanceof SnsApiError) return service.error(req, res, err);
          if (err instanceof FilterCriteriaError) return service.error(req, res, new SnsApiError(400, 'InvalidParameter', err.message));
          throw err;
        }
      },
      error: (_req, res, err) => queryError(res, err),
    };
    return service;
  };
}

export const snsService = createSnsService();
