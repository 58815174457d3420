/**
 * The idempotency record's state machine, pure. The DynamoDB adapter (store.ts) expresses exactly these
 * rules as condition expressions; the property tests run random interleavings against this model and,
 * fewer of them, against DynamoDB Local through the adapter.
 *
 * The record can be the application's own record (a job, an order): the claim and the completion are
 * conditional writes on that one item, so the happy path is 2 requests and, for items under 1 KB,
 * 2 write units (Powertools needs a claim, a completion and the application's own write: 3).
 *
 * Differences from Powertools' idempotency utility (see anchors.md):
 * - the claim also bumps a fencing token in the same single write (UpdateItem ADD), so every owner of the
 *   record gets a strictly larger fence than every earlier owner;
 * - completion, failure and release are conditioned on the owner token AND the fence: a stale invocation
 *   whose lease expired can never overwrite or delete the record of the owner that replaced it;
 * - release keeps the record (status `released`) instead of deleting it, so the fence counter never
 *   goes back to zero while the record lives;
 * - a refused claim returns the stored record (ReturnValuesOnConditionCheckFailure ALL_OLD), so a replay
 *   gets what the first completion wrote without a read;
 * - a `failed` key is not final for its own dead-lettered message: a redrive of that message (moved back
 *   from the DLQ after the cause was fixed) claims it again under a new fence, while a plain duplicate is
 *   still refused (Powertools deletes the record on failure instead, so every duplicate runs again).
 */
export type IdempotencyStatus = 'in_progress' | 'completed' | 'failed' | 'released';

export interface IdempotencyRecord {
  readonly id: string;
  readonly status: IdempotencyStatus;
  /** Random token of the current (or last) owner; absent after release. */
  readonly owner?: string;
  /** Fencing token of the latest claim; strictly increasing while the record exists. */
  readonly fence: number;
  /** Absent on a record its producer created before any claim (e.g. a job record written `queued`). */
  readonly payloadHash?: string;
  /** Epoch ms: the owner's Lambda deadline; an in-progress claim past it may be taken over. */
  readonly leaseExpiresAt: number;
  /** Epoch seconds: DynamoDB TTL; a record past it counts as absent even before DynamoDB deletes it.
   *  Absent: the record never expires. */
  readonly expiresAt?: number;
  /** For `failed`: the permanent error that ended the work. */
  readonly errorClass?: string;
  readonly errorReason?: string;
  /**
   * For `failed`: the id of the message whose failure was dead-lettered. The DLQ copy carries it as its
   * SourceMessageId attribute, and a redrive of that copy (and only of it) may claim the key again.
   */
  readonly deadLetteredMessageId?: string;
  /** Accepted completions; anything above 1 would be a double effect (the chaos run checks it). */
  readonly completions?: number;
}

export interface ClaimRequest {
  readonly id: string;
  readonly owner: string;
  readonly payloadHash: string;
  /** Epoch ms, the claimant's clock. */
  readonly now: number;
  readonly leaseExpiresAt: number;
  /** Epoch seconds; undefined: the record never expires. */
  readonly expiresAt?: number;
  /**
   * A redriven message's SourceMessageId (dead-letter.ts redrivenFrom): it may claim a `failed` key
   * whose dead-lettered message it is a copy of. A plain duplicate has none and is refused.
   */
  readonly redriveOf?: string;
}

export type ClaimOutcome =
  | { readonly type: 'claimed'; readonly fence: number }
  | { readonly type: 'completed' }
  | { readonly type: 'failed'; readonly errorClass?: string; readonly errorReason?: string }
  | { readonly type: 'in-progress'; readonly leaseExpiresAt: number }
  | { readonly type: 'payload-mismatch' };

/** A record past its TTL is free even if DynamoDB has not deleted it yet. */
export function isExpired(record: IdempotencyRecord, now: number): boolean {
  return record.expiresAt !== undefined && record.expiresAt * 1000 <= now;
}

function samePayload(record: IdempotencyRecord, payloadHash: string): boolean {
  return record.payloadHash === undefined || record.payloadHash === payloadHash;
}

/**
 * The claim condition (store.ts writes the same thing as a ConditionExpression):
 * absent, or expired, or (same payload or none yet AND (released OR in progress past its lease OR
 * failed and this is a redrive of the message that was dead-lettered)).
 */
export function canClaim(existing: IdempotencyRecord | undefined, req: ClaimRequest): boolean {
  if (!existing || isExpired(existing, req.now)) return true;
  if (!samePayload(existing, req.payloadHash)) return false;
  return (
    existing.status === 'released' ||
    (existing.status === 'in_progress' && existing.leaseExpiresAt <= req.now) ||
    isRedriveOf(existing, req)
  );
}

/** A failed key is claimed again only by a copy of the message its failure dead-lettered. */
export function isRedriveOf(existing: IdempotencyRecord, req: ClaimRequest): boolean {
  return existing.status === 'failed' && req.redriveOf !== undefined && existing.deadLetteredMessageId === req.redriveOf;
}

/** Why a claim was refused, decided from the old item the failed write returned (no extra read). */
export function explainRefusal(old: IdempotencyRecord, req: ClaimRequest): Exclude<ClaimOutcome, { type: 'claimed' }> {
  if (!samePayload(old, req.payloadHash)) return { type: 'payload-mismatch' };
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
      ...(req.expiresAt !== undefined ? { expiresAt: req.expiresAt } : {}),
      ...(existing?.completions !== undefined && !isExpired(existing, req.now) ? { completions: existing.completions } : {}),
    },
    outcome: { type: 'claimed', fence },
  };
}

/** Owner-conditioned transitions: only the in-progress owner holding this fence may complete, fail or release. */
export function isOwner(existing: IdempotencyRecord | undefined, owner: string, fence?: number): boolean {
  return existing !== undefined && existing.status === 'in_progress' && existing.owner === owner && (fence === undefined || existing.fence === fence);
}

export type FinishTransition =
  | { readonly to: 'completed'; readonly expiresAt?: number }
  | { readonly to: 'failed'; readonly expiresAt?: number; readonly errorClass: string; readonly errorReason: string; readonly deadLetteredMessageId?: string }
  | { readonly to: 'released' };

export function applyFinish(existing: IdempotencyRecord | undefined, owner: string, t: FinishTransition, fence?: number): { record: IdempotencyRecord | undefined; ok: boolean } {
  if (!isOwner(existing, owner, fence)) return { record: existing, ok: false };
  const rec = existing!;
  const exp = (e: number | undefined) => (e !== undefined ? { expiresAt: e } : {});
  switch (t.to) {
    case 'completed':
      return { record: { ...rec, status: 'completed', ...exp(t.expiresAt), completions: (rec.completions ?? 0) + 1 }, ok: true };
    case 'failed':
      return {
        record: { ...rec, status: 'failed', ...exp(t.expiresAt), errorClass: t.errorClass, errorReason: t.errorReason, ...(t.deadLetteredMessageId !== undefined ? { deadLetteredMessageId: t.deadLetteredMessageId } : {}) },
        ok: true,
      };
    case 'released': {
      const { owner: _gone, ...rest } = rec;
      return { record: { ...rest, status: 'released', leaseExpiresAt: 0 }, ok: true };
    }
  }
}
