/**
 * Idempotency of one record for createConsumerHandler, on the fenced DynamoDB persistence
 * (`@floodgate/runtime/idempotency`): claim before the work, complete after it, and on failure either keep
 * the claim (a permanent failure: the handler marks it failed once the DLQ has the message, so duplicates
 * are skipped) or release it (a retryable one: the next delivery takes it at once, with a newer fence).
 */
import { createHash } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyStore, type Claim } from './idempotency/index.js';
import { PermanentError, RetryableError } from './errors.js';
import type { RecordContext } from './batch.js';
import { classify } from './classify.js';
import type { BatchMetrics } from './batch-metrics.js';

export interface ConsumerIdempotencyOptions<TBody> {
  /** The store to use. @default - a store on `tableName` with the handler's `clients.dynamodb` */
  readonly store?: IdempotencyStore;
  /** An IdempotencyTable (partition key `id`, TTL `expiresAt`); required when no `store` is given. @default - none */
  readonly tableName?: string;
  /** The idempotency key of a record: records with the same key take effect once. */
  readonly key: (record: SQSRecord, body: TBody) => string;
  /**
   * What must be equal for two records with one key to be duplicates; a different payload under a used key
   * is the permanent class PayloadMismatch. @default SHA-256 of the raw message body
   */
  readonly payloadHash?: (record: SQSRecord, body: TBody) => string;
  /** How long finished records are kept (longer than the queue's retention). @default 15 days */
  readonly recordTtlSeconds?: number;
}

/** The claim a record holds while processRecord runs: pass `fence` to your own fenced writes. */
export interface RecordIdempotency {
  readonly key: string;
  /** Strictly larger for every new owner of the key: a store that keeps the largest fence seen rejects stale writers. */
  readonly fence: number;
  readonly claim: Claim;
}

export function resolveStore<TBody>(options: ConsumerIdempotencyOptions<TBody>, dynamodb: DynamoDBClient, now: () => number): IdempotencyStore {
  if (options.store) return options.store;
  if (!options.tableName) throw new Error('idempotency needs a store or a tableName');
  return new IdempotencyStore({
    client: dynamodb,
    tableName: options.tableName,
    now,
    ...(options.recordTtlSeconds !== undefined ? { recordTtlSeconds: options.recordTtlSeconds } : {}),
  });
}

export interface IdempotentRunInput<TBody> {
  readonly record: SQSRecord;
  readonly body: TBody;
  readonly ctx: RecordContext;
  /** The claim lasts until the invocation's deadline. */
  readonly leaseExpiresAt: number;
  readonly metrics: BatchMetrics;
  /** Would a permanent failure of this record be dead-lettered now (and not held back for its group)? */
  readonly deadLettersPermanent: boolean;
  readonly onClaimed: (claim: RecordIdempotency) => void;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Runs `work` under the record's claim. Duplicates of a finished key return without running it; a key in
 * progress elsewhere is the retryable InProgressElsewhere; a key reused with another payload the permanent
 * PayloadMismatch.
 */
export async function runIdempotent<TBody>(store: IdempotencyStore, options: ConsumerIdempotencyOptions<TBody>, input: IdempotentRunInput<TBody>, work: () => Promise<void>): Promise<void> {
  const { record, body, ctx, metrics } = input;
  const key = options.key(record, body);
  const hash = options.payloadHash?.(record, body) ?? createHash('sha256').update(record.body).digest('base64url');
  const claimed = await ctx.io(() => store.claim(key, hash, input.leaseExpiresAt, ctx.signal));
  switch (claimed.type) {
    case 'completed':
    case 'failed':
      metrics.count('DuplicatesSkipped');
      input.log('duplicate skipped', { idempotencyKey: key, previous: claimed.type });
      return;
    case 'in-progress':
      metrics.count('InProgressElsewhere');
      throw new RetryableError('InProgressElsewhere', `idempotency key ${key} is being processed by another invocation (lease until ${new Date(claimed.leaseExpiresAt).toISOString()})`);
    case 'payload-mismatch':
      throw new PermanentError('PayloadMismatch', `idempotency key ${key} was already used with a different payload`);
    case 'claimed':
      break;
  }
  const claim = claimed.claim;
  input.onClaimed({ key, fence: claim.fence, claim });
  try {
    await work();
  } catch (err) {
    const permanent = !ctx.signal.aborted && classify(err).kind === 'permanent';
    if (!(permanent && input.deadLettersPermanent)) {
      // Let a redelivery take the key at once instead of waiting for our lease to run out.
      await store.release(claim, AbortSignal.timeout(1000)).catch(() => false);
    }
    throw err;
  }
  if (!(await ctx.io(() => store.complete(claim, ctx.signal)))) {
    // Our lease ran out and another delivery took the key over: its owner finishes it under a newer fence.
    metrics.count('ClaimsLost');
    input.log('claim lost before completion', { idempotencyKey: key, fence: claim.fence });
  }
}
