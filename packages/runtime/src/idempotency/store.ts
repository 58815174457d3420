/**
 * DynamoDB adapter of the idempotency model (model.ts). By default the table is the IdempotencyTable
 * construct's (partition key `id`, TTL `expiresAt`), but the record may be the application's own item
 * (`keyAttribute`, `statusValues`): then the claim and the completion ARE the application's writes, and
 * the happy path costs 2 requests. One UpdateItem claims AND bumps the fence; completion, failure and
 * release are one UpdateItem each, conditioned on the owner token and the fence; what the completion
 * writes (`set`) comes back to every later claim as the replay.
 */
import { UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { conditionFailedItem, N, num, S, str, type Item } from '../ddb-attrs.js';
import { explainRefusal, isExpired, type ClaimOutcome, type ClaimRequest, type IdempotencyRecord, type IdempotencyStatus } from './model.js';

export interface IdempotencyStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Partition key attribute. @default 'id' */
  readonly keyAttribute?: string;
  /**
   * What each state is called in the `status` attribute, so the record can be an application's own item
   * (a job: `{ in_progress: 'processing', released: 'queued' }`). A record an application wrote in the
   * `released` status, without a payload hash, is claimable. @default the state names
   */
  readonly statusValues?: Partial<Record<IdempotencyStatus, string>>;
  /** How long finished records are kept (TTL attribute `expiresAt`). Longer than the queue's retention so
   *  a redelivered message is still recognised; `null`: records never expire. @default 15 days */
  readonly recordTtlSeconds?: number | null;
  /** Clock (tests inject jumps). @default Date.now */
  readonly now?: () => number;
}

export interface Claim {
  readonly id: string;
  readonly owner: string;
  readonly fence: number;
  readonly leaseExpiresAt: number;
}

export type ClaimResult =
  /**
   * `record`: the item as this claim left it (earlier attributes included, e.g. a bound job id);
   * `previousStatus`: the state the claim took the key from (absent for a new or expired record).
   */
  | { readonly type: 'claimed'; readonly claim: Claim; readonly record: Item; readonly previousStatus?: IdempotencyStatus }
  /** `record`: the stored item, with what the first completion wrote (the replay). */
  | { readonly type: 'completed'; readonly record: Item }
  | { readonly type: 'failed'; readonly errorClass?: string; readonly errorReason?: string; readonly record: Item }
  | Extract<ClaimOutcome, { type: 'in-progress' | 'payload-mismatch' }>;

export interface WriteOptions {
  /** Attributes to SET with the write (the result on completion; anything the application's item holds). */
  readonly set?: Item;
  /** Claim only: attributes set only where absent (`if_not_exists`), e.g. a job id bound to a key forever. */
  readonly setIfAbsent?: Item;
  /**
   * Claim only: the SourceMessageId a redriven message carries (dead-letter.ts redrivenFrom). The claim
   * may then also take a `failed` key whose dead-lettered message that was (model.isRedriveOf).
   */
  readonly redriveOf?: string;
  /** Fail only: the id of the message the failure dead-lettered (the DLQ copy's SourceMessageId). */
  readonly deadLetteredMessageId?: string;
  readonly signal?: AbortSignal;
}

/** What a claim may write and take besides the claim itself. */
export type ClaimOptions = Pick<WriteOptions, 'set' | 'setIfAbsent' | 'redriveOf'>;
/** What a completion may write besides the status (its result). */
export type CompleteOptions = Pick<WriteOptions, 'set'>;
/** What a failure mark may write besides the status and the error. */
export type FailOptions = Pick<WriteOptions, 'set' | 'deadLetteredMessageId'>;

/**
 * What a handler needs of the persistence: IdempotencyStore on DynamoDB, InMemoryIdempotencyStore in unit
 * tests, or your own. Every write after the claim is conditioned on the claim's owner AND fence, and
 * answers false (not an error) when the claim was lost to a newer owner.
 */
export interface IdempotencyPersistence {
  claim(id: string, payloadHash: string, leaseExpiresAt: number, signal?: AbortSignal, options?: ClaimOptions): Promise<ClaimResult>;
  complete(claim: Claim, signal?: AbortSignal, options?: CompleteOptions): Promise<boolean>;
  fail(claim: Claim, errorClass: string, errorReason: string, signal?: AbortSignal, options?: FailOptions): Promise<boolean>;
  release(claim: Claim, signal?: AbortSignal): Promise<boolean>;
}

const DEFAULT_TTL_S = 15 * 24 * 3600;
const STATES: readonly IdempotencyStatus[] = ['in_progress', 'completed', 'failed', 'released'];
/** Attribute names the store owns; `set` must not write them. */
const RESERVED = new Set(['status', 'owner', 'fence', 'payloadHash', 'leaseExpiresAt', 'expiresAt', 'error', 'completions', 'deadLetteredMessageId']);

export class IdempotencyStore implements IdempotencyPersistence {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly key: string;
  private readonly ttlS: number | null;
  private readonly now: () => number;
  private readonly toStored: Record<IdempotencyStatus, string>;
  private readonly fromStored: Map<string, IdempotencyStatus>;

  constructor(options: IdempotencyStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.key = options.keyAttribute ?? 'id';
    this.ttlS = options.recordTtlSeconds === undefined ? DEFAULT_TTL_S : options.recordTtlSeconds;
    this.now = options.now ?? Date.now;
    this.toStored = Object.fromEntries(STATES.map((s) => [s, options.statusValues?.[s] ?? s])) as Record<IdempotencyStatus, string>;
    this.fromStored = new Map(STATES.map((s) => [this.toStored[s], s]));
    if (this.fromStored.size !== STATES.length) throw new Error(`statusValues must name the four states differently: ${JSON.stringify(this.toStored)}`);
  }

  /** Reads the model's view of a stored item (the key, status, fence, lease, error). */
  recordFromItem(item: Item): IdempotencyRecord {
    const owner = str(item, 'owner');
    const payloadHash = str(item, 'payloadHash');
    const expiresAt = num(item, 'expiresAt');
    const completions = num(item, 'completions');
    const deadLetteredMessageId = str(item, 'deadLetteredMessageId');
    const errM = item['error'];
    const err = errM && 'M' in errM ? errM.M : undefined;
    const errorClass = str(err, 'class');
    const errorReason = str(err, 'reason');
    return {
      id: str(item, this.key) ?? '',
      status: this.fromStored.get(str(item, 'status') ?? '') ?? 'released',
      ...(owner !== undefined ? { owner } : {}),
      fence: num(item, 'fence') ?? 0,
      ...(payloadHash !== undefined ? { payloadHash } : {}),
      leaseExpiresAt: num(item, 'leaseExpiresAt') ?? 0,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(errorClass !== undefined ? { errorClass } : {}),
      ...(errorReason !== undefined ? { errorReason } : {}),
      ...(completions !== undefined ? { completions } : {}),
      ...(deadLetteredMessageId !== undefined ? { deadLetteredMessageId } : {}),
    };
  }

  /**
   * Claims `id` until `leaseExpiresAt` (the Lambda deadline). One UpdateItem: the condition mirrors
   * model.canClaim, `ADD fence :one` bumps the fencing token, ALL_OLD on refusal explains why (and carries
   * the replay), ALL_OLD on success gives the new fence and the attributes the record already had.
   */
  async claim(id: string, payloadHash: string, leaseExpiresAt: number, signal?: AbortSignal, options: ClaimOptions = {}): Promise<ClaimResult> {
    const now = this.now();
    const owner = randomUUID();
    const expiresAt = this.ttlS === null ? undefined : Math.ceil(leaseExpiresAt / 1000) + this.ttlS;
    const redriveOf = options.redriveOf;
    const req: ClaimRequest = { id, owner, payloadHash, now, leaseExpiresAt, ...(expiresAt !== undefined ? { expiresAt } : {}), ...(redriveOf !== undefined ? { redriveOf } : {}) };
    const extra = this.extraSets(options.set, options.setIfAbsent);
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [this.key]: S(id) },
          ConditionExpression:
            'attribute_not_exists(#k) OR expiresAt <= :nowS OR ((attribute_not_exists(payloadHash) OR payloadHash = :h) AND (#s = :released OR (#s = :inProgress AND leaseExpiresAt <= :now)' +
            (redriveOf !== undefined ? ' OR (#s = :failed AND #dl = :redriveOf)' : '') +
            '))',
          UpdateExpression:
            `SET #s = :inProgress, #o = :owner, payloadHash = :h, leaseExpiresAt = :lease${expiresAt !== undefined ? ', expiresAt = :exp' : ''}${extra.expression} REMOVE #e, #dl ADD fence :one`,
          ExpressionAttributeNames: { '#k': this.key, '#s': 'status', '#o': 'owner', '#e': 'error', '#dl': 'deadLetteredMessageId', ...extra.names },
          ExpressionAttributeValues: {
            ':nowS': N(Math.floor(now / 1000)),
            ':now': N(now),
            ':h': S(payloadHash),
            ':released': S(this.toStored.released),
            ':inProgress': S(this.toStored.in_progress),
            ':owner': S(owner),
            ':lease': N(leaseExpiresAt),
            ...(expiresAt !== undefined ? { ':exp': N(expiresAt) } : {}),
            ':one': N(1),
            ...(redriveOf !== undefined ? { ':failed': S(this.toStored.failed), ':redriveOf': S(redriveOf) } : {}),
            ...extra.values,
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      );
      const old = out.Attributes;
      const claim: Claim = { id, owner, fence: (num(old, 'fence') ?? 0) + 1, leaseExpiresAt };
      const stale = old !== undefined && isExpired(this.recordFromItem(old), now);
      if (stale && options.setIfAbsent && Object.keys(options.setIfAbsent).length > 0) {
        // The old record had outlived its TTL: it counts as absent, so what is set only on a new record is
        // set now (rare path: one more write, conditioned on the claim just taken).
        await this.ownerWrite(claim, 'SET ' + Object.keys(options.setIfAbsent).map((_, i) => `#n${i} = :v${i}`).join(', '), namesValues(options.setIfAbsent), signal);
      }
      const base: Item = stale ? { fence: N(claim.fence - 1) } : { ...(old ?? {}) };
      const record: Item = {
        ...Object.fromEntries(Object.entries(options.setIfAbsent ?? {}).filter(([k]) => base[k] === undefined)),
        ...base,
        ...(options.set ?? {}),
        [this.key]: S(id),
        status: S(this.toStored.in_progress),
        owner: S(owner),
        payloadHash: S(payloadHash),
        leaseExpiresAt: N(leaseExpiresAt),
        fence: N(claim.fence),
        ...(expiresAt !== undefined ? { expiresAt: N(expiresAt) } : {}),
      };
      delete record['error'];
      delete record['deadLetteredMessageId'];
      const previousStatus = old !== undefined && !stale ? this.recordFromItem(old).status : undefined;
      return { type: 'claimed', claim, record, ...(previousStatus !== undefined ? { previousStatus } : {}) };
    } catch (err) {
      const cf = conditionFailedItem(err);
      if (!cf.failed) throw err;
      if (!cf.item) return { type: 'in-progress', leaseExpiresAt: 0 };
      const refusal = explainRefusal(this.recordFromItem(cf.item), req);
      if (refusal.type === 'completed' || refusal.type === 'failed') return { ...refusal, record: cf.item };
      return refusal;
    }
  }

  /** Marks the claim completed and writes its result (`set`). False if the claim was lost (another owner
   *  took over after our lease). `ADD completions 1` lets a checker see a double effect. */
  complete(claim: Claim, signal?: AbortSignal, options: CompleteOptions = {}): Promise<boolean> {
    const extra = this.extraSets(options.set);
    return this.ownerWrite(
      claim,
      `SET #s = :to${this.ttlS !== null ? ', expiresAt = :exp' : ''}${extra.expression} ADD completions :one`,
      { names: extra.names, values: { ':to': S(this.toStored.completed), ...this.expiryValue(), ':one': N(1), ...extra.values } },
      signal,
    );
  }

  /** Marks the claim failed with a permanent error (attribute `error` = { class, reason }): duplicates of
   *  the message are then answered from the record; a redrive of `deadLetteredMessageId` may claim again. */
  fail(claim: Claim, errorClass: string, errorReason: string, signal?: AbortSignal, options: FailOptions = {}): Promise<boolean> {
    const extra = this.extraSets(options.set);
    const error: AttributeValue = { M: { class: S(errorClass), reason: S(errorReason.slice(0, 1000)) } };
    const dl = options.deadLetteredMessageId;
    return this.ownerWrite(
      claim,
      `SET #s = :to${this.ttlS !== null ? ', expiresAt = :exp' : ''}, #e = :err${dl !== undefined ? ', #dl = :dl' : ''}${extra.expression}`,
      {
        names: { '#e': 'error', ...(dl !== undefined ? { '#dl': 'deadLetteredMessageId' } : {}), ...extra.names },
        values: { ':to': S(this.toStored.failed), ...this.expiryValue(), ':err': error, ...(dl !== undefined ? { ':dl': S(dl) } : {}), ...extra.values },
      },
      signal,
    );
  }

  /** Gives the claim up so a redelivery can take it at once; keeps the record (and its fence). */
  release(claim: Claim, signal?: AbortSignal): Promise<boolean> {
    return this.ownerWrite(claim, 'SET #s = :to, leaseExpiresAt = :zero REMOVE #o', { names: {}, values: { ':to': S(this.toStored.released), ':zero': N(0) } }, signal);
  }

  private expiryValue(): Item {
    return this.ttlS === null ? {} : { ':exp': N(Math.floor(this.now() / 1000) + this.ttlS) };
  }

  private extraSets(set: Item | undefined, ifAbsent?: Item): { expression: string; names: Record<string, string>; values: Item } {
    const names: Record<string, string> = {};
    const values: Item = {};
    const parts: string[] = [];
    let i = 0;
    for (const [entries, wrap] of [[set, false], [ifAbsent, true]] as const) {
      for (const [name, value] of Object.entries(entries ?? {})) {
        if (RESERVED.has(name) || name === this.key) throw new Error(`attribute ${name} is the idempotency store's own; choose another name`);
        names[`#x${i}`] = name;
        values[`:x${i}`] = value;
        parts.push(wrap ? `#x${i} = if_not_exists(#x${i}, :x${i})` : `#x${i} = :x${i}`);
        i++;
      }
    }
    return { expression: parts.length ? `, ${parts.join(', ')}` : '', names, values };
  }

  private async ownerWrite(claim: Claim, update: string, extra: { names: Record<string, string>; values: Item }, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [this.key]: S(claim.id) },
          ConditionExpression: '#o = :owner AND fence = :fence AND #s = :inProgress',
          UpdateExpression: update,
          ExpressionAttributeNames: { '#s': 'status', '#o': 'owner', ...extra.names },
          ExpressionAttributeValues: { ...extra.values, ':owner': S(claim.owner), ':fence': N(claim.fence), ':inProgress': S(this.toStored.in_progress) },
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

function namesValues(item: Item): { names: Record<string, string>; values: Item } {
  const keys = Object.keys(item);
  return { names: Object.fromEntries(keys.map((k, i) => [`#n${i}`, k])), values: Object.fromEntries(keys.map((k, i) => [`:v${i}`, item[k]!])) };
}
