/**
 * DynamoDB adapter of the idempotency model (model.ts). Table: partition key `id` (S), TTL attribute
 * `expiresAt` (the IdempotencyTable construct). One UpdateItem claims AND bumps the fence; completion,
 * failure and release are one UpdateItem each, conditioned on the owner token.
 */
import { UpdateItemCommand, type DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { conditionFailedItem, N, num, S, str, type Item } from '../ddb-attrs.js';
import { explainRefusal, type ClaimOutcome, type ClaimRequest, type IdempotencyRecord, type IdempotencyStatus } from './model.js';

export interface IdempotencyStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** How long finished records are kept (TTL). Longer than the queue's retention so a redelivered message
   *  is still recognised. @default 15 days */
  readonly recordTtlSeconds?: number;
  /** Clock (tests inject jumps). @default Date.now */
  readonly now?: () => number;
}

export interface Claim {
  readonly id: string;
  readonly owner: string;
  readonly fence: number;
  readonly leaseExpiresAt: number;
}

export type ClaimResult = ({ readonly type: 'claimed'; readonly claim: Claim }) | Exclude<ClaimOutcome, { type: 'claimed' }>;

const DEFAULT_TTL_S = 15 * 24 * 3600;

export function recordFromItem(item: Item): IdempotencyRecord {
  const owner = str(item, 'owner');
  const errorClass = str(item, 'errorClass');
  const errorReason = str(item, 'errorReason');
  return {
    id: str(item, 'id') ?? '',
    status: (str(item, 'status') ?? 'released') as IdempotencyStatus,
    ...(owner !== undefined ? { owner } : {}),
    fence: num(item, 'fence') ?? 0,
    payloadHash: str(item, 'payloadHash') ?? '',
    leaseExpiresAt: num(item, 'leaseExpiresAt') ?? 0,
    expiresAt: num(item, 'expiresAt') ?? 0,
    ...(errorClass !== undefined ? { errorClass } : {}),
    ...(errorReason !== undefined ? { errorReason } : {}),
  };
}

export class IdempotencyStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly ttlS: number;
  private readonly now: () => number;

  constructor(options: IdempotencyStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.ttlS = options.recordTtlSeconds ?? DEFAULT_TTL_S;
    this.now = options.now ?? Date.now;
  }

  /**
   * Claims `id` until `leaseExpiresAt` (the Lambda deadline). One UpdateItem: the condition mirrors
   * model.canClaim, `ADD fence :one` bumps the fencing token, ALL_OLD on refusal explains why.
   */
  async claim(id: string, payloadHash: string, leaseExpiresAt: number, signal?: AbortSignal): Promise<ClaimResult> {
    const now = this.now();
    const owner = randomUUID();
    const req: ClaimRequest = { id, owner, payloadHash, now, leaseExpiresAt, expiresAt: Math.ceil(leaseExpiresAt / 1000) + this.ttlS };
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { id: S(id) },
          ConditionExpression:
            'attribute_not_exists(id) OR expiresAt <= :nowS OR (payloadHash = :h AND (#s = :released OR (#s = :inProgress AND leaseExpiresAt <= :now)))',
          UpdateExpression:
            'SET #s = :inProgress, #o = :owner, payloadHash = :h, leaseExpiresAt = :lease, expiresAt = :exp REMOVE errorClass, errorReason ADD fence :one',
          ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
          ExpressionAttributeValues: {
            ':nowS': N(Math.floor(now / 1000)),
            ':now': N(now),
            ':h': S(payloadHash),
            ':released': S('released'),
            ':inProgress': S('in_progress'),
            ':owner': S(owner),
            ':lease': N(leaseExpiresAt),
            ':exp': N(req.expiresAt),
            ':one': N(1),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      );
      return { type: 'claimed', claim: { id, owner, fence: num(out.Attributes, 'fence') ?? 1, leaseExpiresAt } };
    } catch (err) {
      const cf = conditionFailedItem(err);
      if (!cf.failed) throw err;
      if (!cf.item) return { type: 'in-progress', leaseExpiresAt: 0 };
      return explainRefusal(recordFromItem(cf.item), req);
    }
  }

  /** Marks the claim completed. False if the claim was lost (another owner took over after our lease). */
  complete(claim: Claim, signal?: AbortSignal): Promise<boolean> {
    return this.finish(claim, 'SET #s = :to, expiresAt = :exp', { ':to': S('completed'), ':exp': N(this.expiry()) }, signal);
  }

  /** Marks the claim failed with a permanent error: duplicates of the message are then skipped. */
  fail(claim: Claim, errorClass: string, errorReason: string, signal?: AbortSignal): Promise<boolean> {
    return this.finish(
      claim,
      'SET #s = :to, expiresAt = :exp, errorClass = :c, errorReason = :r',
      { ':to': S('failed'), ':exp': N(this.expiry()), ':c': S(errorClass), ':r': S(errorReason.slice(0, 1000)) },
      signal,
    );
  }

  /** Gives the claim up so a redelivery can take it at once; keeps the record (and its fence). */
  release(claim: Claim, signal?: AbortSignal): Promise<boolean> {
    return this.finish(claim, 'SET #s = :to, leaseExpiresAt = :zero REMOVE #o', { ':to': S('released'), ':zero': N(0) }, signal);
  }

  /**
   * The claim's completion as a transaction item, so the caller can complete its own result and the claim
   * in ONE request (TransactWriteItems): no crash window between the two, one round trip fewer.
   */
  completionTransactItem(claim: Claim): TransactWriteItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: { id: S(claim.id) },
        ConditionExpression: '#o = :owner AND #s = :inProgress',
        UpdateExpression: 'SET #s = :to, expiresAt = :exp',
        ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
        ExpressionAttributeValues: { ':to': S('completed'), ':exp': N(this.expiry()), ':owner': S(claim.owner), ':inProgress': S('in_progress') },
      },
    };
  }

  private expiry(): number {
    return Math.floor(this.now() / 1000) + this.ttlS;
  }

  private async finish(claim: Claim, update: string, values: Item, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { id: S(claim.id) },
          ConditionExpression: '#o = :owner AND #s = :inProgress',
          UpdateExpression: update,
          ExpressionAttributeNames: { '#s': 'status', '#o': 'owner' },
          ExpressionAttributeValues: { ...values, ':owner': S(claim.owner), ':inProgress': S('in_progress') },
        }),
        { abortSignal: signal },
      );
      return true;
    } catch (err) {
      if (conditionFailedItem(err).failed) return false;
      throw err;
    }
  }
}
