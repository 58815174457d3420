/**
 * DynamoDB and DynamoDB Streams (signing name `dynamodb`, targets `DynamoDB_20120810.*` and
 * `DynamoDBStreams_20120810.*`) forwarded to the upstream (DynamoDB Local or an external endpoint).
 * Stream ARNs are mapped between the stack's region/account and DynamoDB Local's (stream-arn.ts).
 */
import { forward } from '../../gateway/forward.js';
import type { GatewayContext, GatewayService } from '../../gateway/types.js';
import { jsonError } from '../../gateway/protocol-errors.js';
import { LOCAL_ACCOUNT_ID } from '../../core/identity.js';
import { fromDdbLocal, toDdbLocal } from './stream-arn.js';

/** Operations whose requests or answers carry stream ARNs. */
const MAPPED = /^DynamoDBStreams_\d+\.|^DynamoDB_\d+\.(DescribeTable|UpdateTable|CreateTable)$/;

export function dynamodbService(ctx: GatewayContext): GatewayService | undefined {
  const upstream = ctx.upstreams.dynamodb;
  if (!upstream) return undefined;
  return {
    name: 'dynamodb',
    signingNames: ['dynamodb'],
    claims: (r) => /^DynamoDB(Streams)?_\d+\./.test(r.headers['x-amz-target'] ?? ''),
    handle: async (req, res) => {
      if (!MAPPED.test(req.headers['x-amz-target'] ?? '')) return forward(req, res, upstream);
      const body = Buffer.from(toDdbLocal((await req.body()).toString('utf8'), ctx.region, LOCAL_ACCOUNT_ID));
      return forward(req, res, upstream, { body, rewriteBody: (b) => Buffer.from(fromDdbLocal(b.toString('utf8'), ctx.region, LOCAL_ACCOUNT_ID)) });
    },
    error: (_req, res, err) => jsonError(res, err, 'com.amazonaws.dynamodb.v20120810'),
  };
}
