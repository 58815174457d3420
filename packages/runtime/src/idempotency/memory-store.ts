/**
 * The idempotency persistence in memory, built on the same pure model (model.ts) as the DynamoDB store:
 * for unit and property tests of handlers that take the persistence as a dependency. Same contract as
 * IdempotencyStore (results as DynamoDB attribute maps, TTL, owner + fence conditions); nothing is shared
 * between processes, so it is no substitute in production.
 */
import { randomUUID } from 'node:crypto';
import { N, S, type Item } from '../ddb-attrs.js';
import { applyClaim, applyFinish, explainRefusal, isExpired, type IdempotencyRecord } from './model.js';
import type { Claim, ClaimOptions, ClaimResult, CompleteOptions, FailOptions, IdempotencyPersistence } from './store.js';

const DEFAULT_TTL_S = 15 * 24 * 3600;

export class InMemoryIdempotencyStore implements IdempotencyPersistence {
  private readonly records = new Map<string, { rec: IdempotencyRecord; attrs: Item }>();
  private readonly ttlS: number | null;
  private readonly now: () => number;

  constructor(options: { recordTtlSeconds?: number | null; now?: () => number } = {}) {
    this.ttlS = options.recordTtlSeconds === undefined ? DEFAULT_TTL_S : options.recordTtlSeconds;
    this.now = options.now ?? Date.now;
  }

  /** The stored state and attributes of `id` (tests read what a DynamoDB GetItem would show). */
  get(id: string): { readonly rec: IdempotencyRecord; readonly attrs: Item } | undefined {
    return this.records.get(id);
  }

  private view(id: string, cur: { rec: IdempotencyRecord; attrs: Item }): Item {
    return {
      ...cur.attrs,
      id: S(id),
      status: S(cur.rec.status),
      fence: N(cur.rec.fence),
      ...(cur.rec.errorClass !== undefined ? { error: { M: { class: S(cur.rec.errorClass), reason: S(cur.rec.errorReason ?? '') } } } : {}),
      ...(cur.rec.deadLetteredMessageId !== undefined ? { deadLetteredMessageId: S(cur.rec.deadLetteredMessageId) } : {}),
    };
  }

  async claim(id: string, payloadHash: string, leaseExpiresAt: number, _signal?: AbortSignal, options: ClaimOptions = {}): Promise<ClaimResult> {
    const now = this.now();
    const owner = randomUUID();
    const cur = this.records.get(id);
    const expiresAt = this.ttlS === null ? undefined : Math.ceil(leaseExpiresAt / 1000) + this.ttlS;
    const req = { id, owner, payloadHash, now, leaseExpiresAt, ...(expiresAt !== undefined ? { expiresAt } : {}), ...(options.redriveOf !== undefined ? { redriveOf: options.redriveOf } : {}) };
    const r = applyClaim(cur?.rec, req);
    if (r.outcome.type !== 'claimed') {
      const refusal = explainRefusal(cur!.rec, req);
      if (refusal.type === 'completed' || refusal.type === 'failed') return { ...refusal, record: this.view(id, cur!) };
      return refusal;
    }
    const base = cur && !isExpired(cur.rec, now) ? cur.attrs : {};
    const attrs: Item = { ...Object.fromEntries(Object.entries(options.setIfAbsent ?? {}).filter(([k]) => base[k] === undefined)), ...base, ...(options.set ?? {}) };
    const next = { rec: r.record!, attrs };
    this.records.set(id, next);
    const previousStatus = cur && !isExpired(cur.rec, now) ? cur.rec.status : undefined;
    return { type: 'claimed', claim: { id, owner, fence: r.outcome.fence, leaseExpiresAt }, record: this.view(id, next), ...(previousStatus !== undefined ? { previousStatus } : {}) };
  }

  async complete(claim: Claim, _signal?: AbortSignal, options: CompleteOptions = {}): Promise<boolean> {
    return this.finish(claim, { to: 'completed', ...this.expiry() }, options.set);
  }

  async fail(claim: Claim, errorClass: string, errorReason: string, _signal?: AbortSignal, options: FailOptions = {}): Promise<boolean> {
    const dl = options.deadLetteredMessageId;
    return this.finish(claim, { to: 'failed', errorClass, errorReason: errorReason.slice(0, 1000), ...this.expiry(), ...(dl !== undefined ? { deadLetteredMessageId: dl } : {}) }, options.set);
  }

  async release(claim: Claim, _signal?: AbortSignal): Promise<boolean> {
    return this.finish(claim, { to: 'released' }, undefined);
  }

  private expiry(): { expiresAt?: number } {
    return this.ttlS === null ? {} : { expiresAt: Math.floor(this.now() / 1000) + this.ttlS };
  }

  private finish(claim: Claim, t: Parameters<typeof applyFinish>[2], set: Item | undefined): boolean {
    const cur = this.records.get(claim.id);
    const r = applyFinish(cur?.rec, claim.owner, t, claim.fence);
    if (!r.ok) return false;
    this.records.set(claim.id, { rec: r.record!, attrs: { ...cur!.attrs, ...(set ?? {}) } });
    return true;
  }
}
