/** DynamoDB (and DynamoDB Streams) forwarded to the upstream (DynamoDB Local or an external endpoint). */
import { forward } from '../../gateway/forward.js';
import type { GatewayContext, GatewayService } from '../../gateway/types.js';
import { jsonError } from '../../gateway/protocol-errors.js';

export function dynamodbService(ctx: GatewayContext): GatewayService | undefined {
  const upstream = ctx.upstreams.dynamodb;
  if (!upstream) return undefined;
  return {
    name: 'dynamodb',
    signingNames: ['dynamodb'],
    claims: (r) => /^DynamoDB(Streams)?_\d+\./.test(r.headers['x-amz-target'] ?? ''),
    handle: (req, res) => forward(req, res, upstream),
    error: (_req, res, err) => jsonError(res, err, 'com.amazonaws.dynamodb.v20120810'),
  };
}
