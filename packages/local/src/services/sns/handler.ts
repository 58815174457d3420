/**
 * SNS (query protocol, API version 2010-03-31) on the one endpoint. The control plane (topics,
 * subscriptions, attributes) is forwarded to fauxqs; Publish and PublishBatch are answered and fanned
 * out here (publish.ts), to `sqs` and `lambda` subscriptions, under the destinations' resource policies.
 * What fauxqs does not do is done here too:
 * - `lambda` subscriptions are confirmed at once (as AWS does for Lambda endpoints);
 * - a subscription whose endpoint is gone (a function not in the stack, a deleted queue) sends the
 *   message to its RedrivePolicy's dead-letter queue, as SNS does for an endpoint it cannot reach;
 * - protocols the local stack cannot deliver (http/s, email, sms, firehose, application) are refused
 *   at Subscribe, never accepted and silently dropped.
 */
import type { ServerResponse } from 'node:http';
import { upstreamCall, type UpstreamResponse } from '../../gateway/forward.js';
import { queryError } from '../../gateway/protocol-errors.js';
import type { GatewayContext, GatewayService } from '../../gateway/types.js';
import { publish, snsCall as call, SnsApiError, SNS_API_VERSION, sqsJson, xmlText } from './publish.js';
import { DELIVERED_PROTOCOLS } from './subscription.js';
import { compileEventPattern, EventPatternError as FilterCriteriaError } from '../../core/event-pattern.js';

export { SNS_API_VERSION, sqsJson };

const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

export interface SnsServiceOptions {
  /** Delivery problems (a function missing, a bad filter policy, a denied delivery). @default console.warn */
  readonly log?: (line: string) => void;
}

/**
 * Publishes as an AWS service does (S3 notifications, after the topic policy allowed it): through the
 * data plane (publish.ts), to every subscription of the topic. Returns the MessageId; throws when the
 * topic refuses the message.
 */
export async function publishToTopic(ctx: GatewayContext, topicArn: string, message: string, subject: string | undefined, log: (l: string) => void): Promise<string> {
  const upstream = ctx.upstreams.sns ?? ctx.upstreams.sqs;
  if (!upstream || !ctx.upstreams.sqs) throw new Error('no SNS upstream on this endpoint');
  const form = new URLSearchParams({ Action: 'Publish', TopicArn: topicArn, Message: message, ...(subject !== undefined ? { Subject: subject } : {}) });
  try {
    const { messages } = await publish({ sns: upstream, sqs: ctx.upstreams.sqs, stack: ctx.stack(), gate: ctx.deliveries, log }, form);
    return messages[0]?.messageId ?? '';
  } catch (err) {
    if (err instanceof SnsApiError) throw new Error(`SNS Publish to ${topicArn}: ${err.message}`);
    throw err;
  }
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
            // The data plane is ours (publish.ts): fauxqs's own fan-out would not ask the queue policies.
            const out = await publish({ sns: upstream, sqs: sqsUpstream, stack: ctx.stack(), gate: ctx.deliveries, log }, form);
            res.writeHead(out.status, { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(out.body)) });
            res.end(out.body);
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
