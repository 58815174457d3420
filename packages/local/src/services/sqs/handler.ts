/**
 * SQS (JSON and query protocols) forwarded to the upstream. Queue URLs in answers are rewritten to the
 * gateway's own origin, so clients that send to the queue URL (the SDK's useQueueUrlAsEndpoint) stay on
 * the one endpoint whatever host the upstream puts in its URLs.
 */
import { forward } from '../../gateway/forward.js';
import type { GatewayContext, GatewayService } from '../../gateway/types.js';
import { jsonError, queryError } from '../../gateway/protocol-errors.js';
import { createMessageMoveTasks, isMessageMoveOperation, type MessageMoveTasks } from './message-move.js';

/** Operations whose answers carry queue URLs. */
const URL_BEARING = new Set(['CreateQueue', 'GetQueueUrl', 'ListQueues', 'ListDeadLetterSourceQueues']);

/** `http(s)://<any host>/<12-digit account>/` at the start of a queue URL. */
const QUEUE_URL_ORIGIN = /https?:\/\/[^/"'<>\s]+\/(\d{12})\//g;

export function rewriteQueueUrls(body: string, origin: string): string {
  return body.replace(QUEUE_URL_ORIGIN, (_m, account: string) => `${origin}/${account}/`);
}

export function sqsService(ctx: GatewayContext): GatewayService | undefined {
  const upstream = ctx.upstreams.sqs;
  if (!upstream) return undefined;
  let moves: MessageMoveTasks | undefined; // the gateway serves message move tasks itself (fauxqs has none)
  const service: GatewayService = {
    name: 'sqs',
    signingNames: ['sqs'],
    // SQS's query API is version 2012-11-05; other query APIs (CloudFormation, SNS) name theirs.
    claims: (r) => (r.headers['x-amz-target'] ?? '').startsWith('AmazonSQS.') || (r.action !== undefined && (r.version === undefined || r.version === '2012-11-05')),
    async handle(req, res) {
      const op = (req.operation ?? '').replace(/^AmazonSQS\./, '');
      if (isMessageMoveOperation(op)) return (moves ??= createMessageMoveTasks(upstream, ctx.region)).handle(op, req, res, (e) => service.error(req, res, e));
      await forward(req, res, upstream, URL_BEARING.has(op) ? { rewriteBody: (b) => Buffer.from(rewriteQueueUrls(b.toString('utf8'), ctx.url())) } : {});
    },
    error(req, res, err) {
      if (req.headers['x-amz-target']) jsonError(res, err, 'com.amazonaws.sqs', { 'x-amzn-query-error': `${err.code};Sender` });
      else queryError(res, err);
    },
  };
  return service;
}
