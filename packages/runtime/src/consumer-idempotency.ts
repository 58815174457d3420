/**
 * Idempotency of one record for createConsumerHandler, on the fenced persistence of
 * `@floodgate/runtime/idempotency` (IdempotencyStore on DynamoDB, InMemoryIdempotencyStore in unit tests,
 * or any IdempotencyPersistence): claim before the work, complete after it (with the result the work set),
 * and on failure either keep the claim (a permanent failure: the handler marks it failed once the DLQ has
 * the message) or release it (a retryable one: the next delivery takes it at once, with a newer fence).
 *
 * A `failed` key is skipped for plain duplicates, but a redrive of the dead-lettered message claims it
 * again (dead-letter.ts redrivenFrom, model.isRedriveOf): after the cause is fixed, the redrive does its work.
 */
import type { SQSRecord } from 'aws-lambda';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyStore, payloadHash as hashPayload, type Claim, type ClaimOptions, type IdempotencyPersistence } from './idempotency/index.js';
import { PermanentError, RetryableError, type ClassifiedFailure } from './errors.js';
import type { RecordContext } from './batch.js';
import { classify } from './classify.js';
import type { BatchMetrics } from './batch-metrics.js';
import { redrivenFrom } from './dead-letter.js';
import type { Item } from './ddb-attrs.js';
import { faultPoint } from './faults.js';

export interface ConsumerIdempotencyOptions<TBody> {
  /**
   * The persistence: an IdempotencyStore (DynamoDB, possibly on your application's own item, see
   * IdempotencyStoreOptions.keyAttribute/statusValues), an InMemoryIdempotencyStore in unit tests, or your
   * own IdempotencyPersistence. @default - an IdempotencyStore on `tableName` with the handler's `clients.dynamodb`
   */
  readonly store?: IdempotencyPersistence;
  /** An IdempotencyTable (partition key `id`, TTL `expiresAt`); required when no `store` is given. @default - none */
  readonly tableName?: string;
  /** The idempotency key of a record: records with the same key take effect once. */
  readonly key: (record: SQSRecord, body: TBody) => string;
  /**
   * What must be equal for two records with one key to be duplicates; a different payload under a used key
   * is the permanent class PayloadMismatch. @default payloadHash (hash.ts) of the body: the validated body
   * with a `schema` (key order does not matter), the raw string without one
   */
  readonly payloadHash?: (record: SQSRecord, body: TBody) => string;
  /**
   * Attributes the claim writes on the record in the same request: `set` on every claim, `setIfAbsent`
   * only where the record has none yet (e.g. a creation time). Names the store owns are refused.
   * @default - none
   */
  readonly claimAttributes?: (record: SQSRecord, body: TBody) => Pick<ClaimOptions, 'set' | 'setIfAbsent'> | undefined;
  /**
   * How long a claim holds its key when its holder neither finishes nor releases it (a crash, a timeout).
   * By default it ends at the invocation's deadline, so a redelivery after a crash runs at once. Longer
   * (e.g. 3600) keeps a key whose work may have had an effect from running again for that long, and then
   * a record stopped by the deadline keeps its claim too (it is not released); a duplicate meanwhile is
   * retried (InProgressElsewhere). Shorter is allowed: the fence then refuses the late completion.
   * @default - until the invocation's deadline
   */
  readonly inProgressLeaseSeconds?: number;
  /**
   * Whether a message moved back from the DLQ may claim its `failed` key again (see redrivenFrom).
   * @default true
   */
  readonly redrive?: boolean;
  /** How long finished records are kept (longer than the queue's retention). @default 15 days */
  readonly recordTtlSeconds?: number;
}

/** The claim a record holds while processRecord runs: pass `fence` to your own fenced writes. */
export interface RecordIdempotency {
  readonly key: string;
  /** Strictly larger for every new owner of the key: a store that keeps the largest fence seen rejects stale writers. */
  readonly fence: number;
  readonly claim: Claim;
  /** This claim took a `failed` key as a redrive of its dead-lettered message. */
  readonly redriven: boolean;
  /**
   * Attributes the completion writes with the status, in the same request: the result every later
   * duplicate's claim gets back (ClaimResult.record). Call before processRecord resolves; the last call wins.
   */
  setResult(attributes: Item): void;
}

export function resolveStore<TBody>(options: ConsumerIdempotencyOptions<TBody>, dynamodb: DynamoDBClient, now: () => number): IdempotencyPersistence {
  const lease = options.inProgressLeaseSeconds;
  if (lease !== undefined && !(Number.isFinite(lease) && lease > 0)) throw new Error(`idempotency.inProgressLeaseSeconds must be a positive number of seconds; got ${lease}`);
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
  /** The invocation's deadline (epoch ms): the claim's lease ends there unless inProgressLeaseSeconds says otherwise. */
  readonly deadlineAt: number;
  readonly now: () => number;
  readonly metrics: BatchMetrics;
  /** Would a permanent failure of this record be dead-lettered now (and not held back for its group)? */
  readonly deadLettersPermanent: boolean;
  readonly onClaimed: (claim: RecordIdempotency) => void;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Runs `work` under the record's claim. Duplicates of a finished key return without running it (a redrive
 * of a failed key's dead-lettered message claims it again); a key in progress elsewhere is the retryable
 * InProgressElsewhere; a key reused with another payload the permanent PayloadMismatch.
 */
export async function runIdempotent<TBody>(store: IdempotencyPersistence, options: ConsumerIdempotencyOptions<TBody>, input: IdempotentRunInput<TBody>, work: () => Promise<void>): Promise<void> {
  const { record, body, ctx, metrics } = input;
  const key = options.key(record, body);
  const hash = options.payloadHash?.(record, body) ?? hashPayload(body);
  const lease = options.inProgressLeaseSeconds;
  const leaseExpiresAt = lease !== undefined ? input.now() + lease * 1000 : input.deadlineAt;
  const redriveOf = options.redrive === false ? undefined : redrivenFrom(record);
  const claimOptions: ClaimOptions = { ...(options.claimAttributes?.(record, body) ?? {}), ...(redriveOf !== undefined ? { redriveOf } : {}) };
  const t0 = input.now();
  const claimed = await ctx.io(() => store.claim(key, hash, leaseExpiresAt, ctx.signal, claimOptions));
  // Stage timings (the `claimDuration` and `completeDuration` aggregates), next to the application's own.
  metrics.duration('claim', input.now() - t0);
  switch (claimed.type) {
    case 'completed':
    case 'failed':
      metrics.count('DuplicatesSkipped');
      input.log('duplicate skipped', { idempotencyKey: key, previous: claimed.type, ...(redriveOf !== undefined ? { redriveOf } : {}) });
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
  const redriven = claimed.previousStatus === 'failed';
  if (redriven) {
    metrics.count('RedrivesClaimed');
    input.log('redriven message claimed its failed key again', { idempotencyKey: key, fence: claim.fence, redriveOf });
  }
  let result: Item | undefined;
  input.onClaimed({ key, fence: claim.fence, claim, redriven, setResult: (attributes) => void (result = attributes) });
  try {
    await work();
  } catch (err) {
    const permanent = !ctx.signal.aborted && classify(err).kind === 'permanent';
    // With a lease of its own, a record the deadline stopped keeps its key until the lease ends.
    const hold = (permanent && input.deadLettersPermanent) || (lease !== undefined && ctx.signal.aborted);
    // Otherwise let a redelivery take the key at once instead of waiting for our lease to run out.
    if (!hold) await releaseClaim(store, claim);
    throw err;
  }
  await faultPoint('before-complete');
  const t1 = input.now();
  let completed: boolean;
  try {
    completed = await ctx.io(() => store.complete(claim, ctx.signal, result !== undefined ? { set: result } : {}));
  } catch (err) {
    // The completion did not happen (an error, or the deadline): a redelivery may take the key at once.
    if (!(lease !== undefined && ctx.signal.aborted)) await releaseClaim(store, claim);
    throw err;
  }
  metrics.duration('complete', input.now() - t1);
  if (!completed) {
    // Our lease ran out and another delivery (maybe of this very message) took the key over. Report a
    // retry rather than success: deleting our copy could drop the message that owner is still working on.
    metrics.count('ClaimsLost');
    input.log('claim lost before completion', { event: 'stale-fenced-write-rejected', idempotencyKey: key, fence: claim.fence, to: 'completed' });
    throw new RetryableError('InProgressElsewhere', `idempotency key ${key}: completion refused, a newer owner took the key over (ours was fence ${claim.fence})`);
  }
}

/** Gives a claim up (best effort, short): a delivery can take the key at once. */
export async function releaseClaim(store: IdempotencyPersistence, claim: Claim): Promise<void> {
  await store.release(claim, AbortSignal.timeout(1000)).catch(() => false);
}

export interface DeadLetterClaimInput {
  readonly record: SQSRecord;
  readonly failure: ClassifiedFailure;
  readonly claim: Claim | undefined;
  readonly ctx: RecordContext;
  readonly metrics: BatchMetrics;
  readonly log: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/**
 * Dead-letters a record that holds a claim so that neither write can lose the message, whichever fails
 * between them:
 * 1. the DLQ send first. If it fails, the claim is released and the error rethrown: the record becomes a
 *    batch item failure, SQS delivers it again, and that delivery takes the key at once;
 * 2. then the `failed` mark, with the id of the message the DLQ copy names (SourceMessageId), so a redrive
 *    of that copy may claim the key again. If the execution dies before the mark, the DLQ already has the
 *    message and SQS delivers the source message again once its visibility ends: that delivery claims the
 *    key (our lease has ended), fails again and marks it. If the mark itself fails, the claim is released
 *    and the record becomes a batch item failure, with the same outcome. Nothing is lost and the record
 *    ends `failed`; the price is a second copy in the DLQ (a redrive of either copy runs at most once:
 *    the first one's claim replaces the stored message id).
 */
export async function deadLetterUnderClaim(store: IdempotencyPersistence | undefined, input: DeadLetterClaimInput, send: () => Promise<void>): Promise<void> {
  const { record, failure, claim, ctx } = input;
  try {
    await send();
  } catch (err) {
    if (store && claim) await releaseClaim(store, claim);
    throw err;
  }
  await faultPoint('after-dead-letter');
  if (!store || !claim || failure.kind !== 'permanent') return;
  try {
    const marked = await ctx.io(() => store.fail(claim, failure.class, failure.reason, ctx.signal, { deadLetteredMessageId: record.messageId }));
    if (!marked) {
      input.metrics.count('ClaimsLost');
      input.log('warn', 'failed mark refused: a newer owner holds the key', { event: 'stale-fenced-write-rejected', idempotencyKey: claim.id, fence: claim.fence, to: 'failed' });
    }
  } catch (err) {
    // The DLQ has the message, but the record would stay in progress: retry the record, so a delivery
    // fails it again and marks it (the DLQ then holds a second copy).
    input.metrics.count('FailedMarksLost');
    input.log('warn', 'failed mark not written after the DLQ send; the record is retried', { idempotencyKey: claim.id, fence: claim.fence, errorName: (err as Error).name, errorMessage: (err as Error).message });
    await releaseClaim(store, claim);
    throw err;
  }
}
