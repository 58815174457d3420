/**
 * Lease lock on DynamoDB (LockTable: partition key `lockKey`, TTL `expiresAt` in epoch seconds).
 * acquire/tryAcquire take a free or expired lease with ONE UpdateItem that also bumps the fencing token;
 * `hold` heartbeats the lease while work runs and aborts a signal the moment the lease is lost (renewal
 * refused, or our own clock says it ran out), so the work stops; release is conditioned on owner + token.
 */
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RetryableError } from '../errors.js';
import { conditionFailedItem, N, num, S } from '../ddb-attrs.js';
import { backoffDelay, type Grant } from './model.js';

export interface LeaseLockOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Who holds it (logs, debugging). @default a random id per LeaseLock */
  readonly owner?: string;
  /** Lease length. @default 20000 (the AWS lock client's default) */
  readonly leaseMs?: number;
  /** Heartbeat period while holding. @default leaseMs / 3 */
  readonly heartbeatMs?: number;
  /** Extra seconds the record outlives its lease before TTL deletes it. @default 86400 */
  readonly recordTtlSeconds?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface AcquireOptions {
  /** Give up after this long (RetryableError 'LockContention'). @default 0 = a single attempt */
  readonly waitMs?: number;
  /** First backoff cap; doubles per attempt up to maxDelayMs (full jitter). @default 50 */
  readonly baseDelayMs?: number;
  /** @default 1000 */
  readonly maxDelayMs?: number;
  readonly signal?: AbortSignal;
}

/** A lease being held: `signal` aborts when it is lost; `grant.fence` fences every write made under it. */
export interface HeldLease {
  readonly grant: Grant;
  readonly signal: AbortSignal;
  /** Stops the heartbeat and releases the lease (conditional on owner + token). */
  release(): Promise<boolean>;
}

export class LeaseLock {
  readonly owner: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly ttlS: number;
  private readonly now: () => number;
  private readonly random: () => number;
  /** Attempts refused because someone else held the lease (metric: lock contention). */
  contention = 0;

  constructor(options: LeaseLockOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.owner = options.owner ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 20_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.floor(this.leaseMs / 3);
    if (this.heartbeatMs >= this.leaseMs) throw new Error(`heartbeatMs (${this.heartbeatMs}) must be shorter than leaseMs (${this.leaseMs})`);
    this.ttlS = options.recordTtlSeconds ?? 86_400;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** One attempt: the grant, or undefined if someone else holds an unexpired lease. */
  async tryAcquire(lockKey: string, signal?: AbortSignal): Promise<Grant | undefined> {
    const now = this.now();
    const token = randomUUID();
    const leaseExpiresAt = now + this.leaseMs;
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { lockKey: S(lockKey) },
          ConditionExpression: 'attribute_not_exists(#o) OR leaseExpiresAt <= :now',
          UpdateExpression: 'SET #o = :owner, #t = :token, leaseExpiresAt = :lease, expiresAt = :exp ADD fence :one',
          ExpressionAttributeNames: { '#o': 'owner', '#t': 'token' },
          ExpressionAttributeValues: {
            ':now': N(now),
            ':owner': S(this.owner),
            ':token': S(token),
            ':lease': N(leaseExpiresAt),
            ':exp': N(Math.ceil(leaseExpiresAt / 1000) + this.ttlS),
            ':one': N(1),
          },
          ReturnValues: 'ALL_NEW',
        }),
        { abortSignal: signal },
      );
      return { lockKey, owner: this.owner, token, fence: num(out.Attributes, 'fence') ?? 1, leaseExpiresAt };
    } catch (err) {
      if (conditionFailedItem(err).failed) {
        this.contention++;
        return undefined;
      }
      throw err;
    }
  }

  /** Tries until `waitMs` has passed, sleeping a jittered, bounded backoff between attempts. */
  async acquire(lockKey: string, options: AcquireOptions = {}): Promise<Grant> {
    const start = this.now();
    const waitMs = options.waitMs ?? 0;
    // An abort surfaces as the caller's reason, whether it lands in the SDK call or in the backoff sleep.
    const callerReason = (err: unknown): never => {
      throw options.signal?.aborted ? options.signal.reason : err;
    };
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
      const grant = await this.tryAcquire(lockKey, options.signal).catch(callerReason);
      if (grant) return grant;
      const left = start + waitMs - this.now();
      if (left <= 0) throw new RetryableError('LockContention', `lock ${lockKey} is held by another owner (waited ${waitMs} ms)`);
      const delay = Math.min(left, backoffDelay(attempt, options.baseDelayMs ?? 50, options.maxDelayMs ?? 1000, this.random()));
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : undefined).catch(callerReason);
    }
  }

  /** Extends the lease; undefined if it was lost (expired and/or taken by another grant). */
  async renew(grant: Grant, signal?: AbortSignal): Promise<Grant | undefined> {
    const now = this.now();
    const leaseExpiresAt = now + this.leaseMs;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { lockKey: S(grant.lockKey) },
          ConditionExpression: '#o = :owner AND #t = :token AND leaseExpiresAt > :now',
          UpdateExpression: 'SET leaseExpiresAt = :lease, expiresAt = :exp',
          ExpressionAttributeNames: { '#o': 'owner', '#t': 'token' },
          ExpressionAttributeValues: {
            ':owner': S(grant.owner),
            ':token': S(grant.token),
            ':now': N(now),
            ':lease': N(leaseExpiresAt),
            ':exp': N(Math.ceil(leaseExpiresAt / 1000) + this.ttlS),
          },
        }),
        { abortSignal: signal },
      );
      return { ...grant, leaseExpiresAt };
    } catch (err) {
      if (conditionFailedItem(err).failed) return undefined;
      throw err;
    }
  }

  /** Frees the lease if it is still ours; keeps the record so the fence keeps counting up. */
  async release(grant: Grant): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { lockKey: S(grant.lockKey) },
          ConditionExpression: '#o = :owner AND #t = :token',
          UpdateExpression: 'SET leaseExpiresAt = :zero REMOVE #o, #t',
          ExpressionAttributeNames: { '#o': 'owner', '#t': 'token' },
          ExpressionAttributeValues: { ':owner': S(grant.owner), ':token': S(grant.token), ':zero': N(0) },
        }),
      );
      return true;
    } catch (err) {
      if (conditionFailedItem(err).failed) return false;
      throw err;
    }
  }

  /** Heartbeats `grant` until released; the returned signal aborts as soon as the lease is lost. */
  hold(initial: Grant): HeldLease {
    const lost = new AbortController();
    let grant = initial;
    let stopped = false;
    let expiryTimer: NodeJS.Timeout | undefined;
    // Our own clock is the last word: if renewals keep failing (network), the lease is gone at expiry.
    const armExpiry = () => {
      clearTimeout(expiryTimer);
      expiryTimer = setTimeout(() => lost.abort(new RetryableError('LockContention', `lease on ${grant.lockKey} expired`)), Math.max(0, grant.leaseExpiresAt - this.now()));
      expiryTimer.unref?.();
    };
    armExpiry();
    const beat = setInterval(() => {
      if (stopped || lost.signal.aborted) return;
      this.renew(grant).then(
        (renewed) => {
          if (stopped) return;
          if (renewed) {
            grant = renewed;
            armExpiry();
          } else {
            lost.abort(new RetryableError('LockContention', `lease on ${grant.lockKey} was lost (fence ${grant.fence})`));
          }
        },
        () => undefined, // transient: the next beat retries; the expiry timer bounds the damage
      );
    }, this.heartbeatMs);
    beat.unref?.();
    const stop = () => {
      stopped = true;
      clearInterval(beat);
      clearTimeout(expiryTimer);
    };
    lost.signal.addEventListener('abort', stop, { once: true });
    return {
      get grant() {
        return grant;
      },
      signal: lost.signal,
      release: async () => {
        stop();
        return this.release(grant);
      },
    };
  }

  /** Runs `work` under the lock, heartbeating; `work` receives the lease (its signal and fence). */
  async withLock<T>(lockKey: string, work: (lease: HeldLease) => Promise<T>, options: AcquireOptions = {}): Promise<T> {
    const lease = this.hold(await this.acquire(lockKey, options));
    try {
      return await work(lease);
    } finally {
      await lease.release().catch(() => false);
    }
  }
}
