/**
 * The idempotency record's state machine, pure. The DynamoDB adapter (store.ts) expresses exactly these
 * rules as condition expressions; the property tests run random interleavings against this model and,
 * fewer of them, against DynamoDB Local through the adapter.
 *
 * Differences from Powertools' idempotency utility (see anchors.md):
 * - the claim also bumps a fencing token in the same single write (UpdateItem ADD), so every owner of the
 *   job gets a strictly larger fence than every earlier owner;
 * - completion, failure and release are conditioned on the owner token: a stale invocation whose lease
 *   expired can never overwrite or delete the record of the owner that replaced it;
 * - release keeps the record (status `released`) instead of deleting it, so the fence counter never
 *   goes back to zero while the record lives.
 */
export type IdempotencyStatus = 'in_progress' | 'completed' | 'failed' | 'released';

export interface IdempotencyRecord {
  readonly id: string;
  readonly status: IdempotencyStatus;
  /** Random token of the current (or last) owner; absent after release. */
  readonly owner?: string;
  /** Fencing token of the latest claim; strictly increasing while the record exists. */
  readonly fence: number;
  readonly payloadHash: string;
  /** Epoch ms: the owner's Lambda deadline; an in-progress claim past it may be taken over. */
  readonly leaseExpiresAt: number;
  /** Epoch seconds: DynamoDB TTL; a record past it counts as absent even before DynamoDB deletes it. */
  readonly expiresAt: number;
  /** For `failed`: the permanent error that ended the job. */
  readonly errorClass?: string;
  readonly errorReason?: string;
}

export interface ClaimRequest {
  readonly id: string;
  readonly owner: string;
  readonly payloadHash: string;
  /** Epoch ms, the claimant's clock. */
  readonly now: number;
  readonly leaseExpiresAt: number;
  readonly expiresAt: number;
}

export type ClaimOutcome =
  | { readonly type: 'claimed'; readonly fence: number }
  | { readonly type: 'completed' }
  | { readonly type: 'failed'; readonly errorClass?: string; readonly errorReason?: string }
  | { readonly type: 'in-progress'; readonly leaseExpiresAt: number }
  | { readonly type: 'payload-mismatch' };

/** A record past its TTL is free even if DynamoDB has not deleted it yet. */
export function isExpired(record: IdempotencyRecord, now: number): boolean {
  return record.expiresAt * 1000 <= now;
}

/**
 * The claim condition (store.ts writes the same thing as a ConditionExpression):
 * absent, or expired, or (same payload AND (released OR in progress past its lease)).
 */
export function canClaim(existing: IdempotencyRecord | undefined, req: ClaimRequest): boolean {
  if (!existing || isExpired(existing, req.now)) return true;
  if (existing.payloadHash !== req.payloadHash) return false;
  return existing.status === 'released' || (existing.status === 'in_progress' && existing.leaseExpiresAt <= req.now);
}

/** Why a claim was refused, decided from the old item the failed write returned (no extra read). */
export function explainRefusal(old: IdempotencyRecord, req: ClaimRequest): Exclude<ClaimOutcome, { type: 'claimed' }> {
  if (old.payloadHash !== req.payloadHash) return { type: 'payload-mismatch' };
  if (old.status === 'completed') return { type: 'completed' };
  if (old.status === 'failed') {
    return {
      type: 'failed',
      ...(old.errorClass !== undefined ? { errorClass: old.errorClass } : {}),
      ...(old.errorReason !== undefined ? { errorReason: old.errorReason } : {}),
    };
  }
  return { type: 'in-progress', leaseExpiresAt: old.leaseExpiresAt };
}

/** Applies a claim to a record (the model store). */
export function applyClaim(existing: IdempotencyRecord | undefined, req: ClaimRequest): { record: IdempotencyRecord | undefined; outcome: ClaimOutcome } {
  if (!canClaim(existing, req)) return { record: existing, outcome: explainRefusal(existing!, req) };
  const fence = (existing?.fence ?? 0) + 1;
  return {
    record: {
      id: req.id,
      status: 'in_progress',
      owner: req.owner,
      fence,
      payloadHash: req.payloadHash,
      leaseExpiresAt: req.leaseExpiresAt,
      expiresAt: req.expiresAt,
    },
    outcome: { type: 'claimed', fence },
  };
}

/** Owner-conditioned transitions: only the in-progress owner may complete, fail or release. */
export function isOwner(existing: IdempotencyRecord | undefined, owner: string): boolean {
  return existing !== undefined && existing.status === 'in_progress' && existing.owner === owner;
}

export type FinishTransition =
  | { readonly to: 'completed'; readonly expiresAt: number }
  | { readonly to: 'failed'; readonly expiresAt: number; readonly errorClass: string; readonly errorReason: string }
  | { readonly to: 'released' };

export function applyFinish(existing: IdempotencyRecord | undefined, owner: string, t: FinishTransition): { record: IdempotencyRecord | undefined; ok: boolean } {
  if (!isOwner(existing, owner)) return { record: existing, ok: false };
  const rec = existing!;
  switch (t.to) {
    case 'completed':
      return { record: { ...rec, status: 'completed', expiresAt: t.expiresAt }, ok: true };
    case 'failed':
      return { record: { ...rec, status: 'failed', expiresAt: t.expiresAt, errorClass: t.errorClass, errorReason: t.errorReason }, ok: true };
    case 'released': {
      const { owner: _gone, ...rest } = rec;
      return { record: { ...rest, status: 'released', leaseExpiresAt: 0 }, ok: true };
    }
  }
}
