/**
 * The lease lock's state machine, pure (the DynamoDB adapter in lease-lock.ts writes the same rules as
 * condition expressions). Unlike the Amazon DynamoDB Lock Client, every grant carries a fencing token
 * that is strictly larger than every earlier grant's, and release keeps the record so the counter never
 * resets; a stale holder is stopped by the fence at the storage it writes to, not by timing alone.
 */
export interface LockRecord {
  readonly lockKey: string;
  /** Holder id (who), absent when free. */
  readonly owner?: string;
  /** Random per grant, so a holder that re-acquires is not confused with its own earlier grant. */
  readonly token?: string;
  readonly fence: number;
  /** Epoch ms; a lease past it may be taken by anyone. */
  readonly leaseExpiresAt: number;
}

export interface Grant {
  readonly lockKey: string;
  readonly owner: string;
  readonly token: string;
  readonly fence: number;
  readonly leaseExpiresAt: number;
}

export function isFree(existing: LockRecord | undefined, now: number): boolean {
  return !existing || existing.owner === undefined || existing.leaseExpiresAt <= now;
}

export function applyAcquire(existing: LockRecord | undefined, lockKey: string, owner: string, token: string, now: number, leaseMs: number): { record: LockRecord | undefined; grant?: Grant } {
  if (!isFree(existing, now)) return { record: existing };
  const grant: Grant = { lockKey, owner, token, fence: (existing?.fence ?? 0) + 1, leaseExpiresAt: now + leaseMs };
  return { record: { ...grant }, grant };
}

/** Renewal needs the same owner AND token and an unexpired lease (an expired lease may already be someone else's). */
export function holds(existing: LockRecord | undefined, grant: Pick<Grant, 'owner' | 'token'>, now: number): boolean {
  return existing !== undefined && existing.owner === grant.owner && existing.token === grant.token && existing.leaseExpiresAt > now;
}

export function applyRenew(existing: LockRecord | undefined, grant: Grant, now: number, leaseMs: number): { record: LockRecord | undefined; grant?: Grant } {
  if (!holds(existing, grant, now)) return { record: existing };
  const renewed = { ...grant, leaseExpiresAt: now + leaseMs };
  return { record: { ...existing!, leaseExpiresAt: renewed.leaseExpiresAt }, grant: renewed };
}

/** Release is conditioned on owner + token only: releasing an expired-but-untaken lease is harmless. */
export function applyRelease(existing: LockRecord | undefined, grant: Pick<Grant, 'owner' | 'token'>): { record: LockRecord | undefined; ok: boolean } {
  if (!existing || existing.owner !== grant.owner || existing.token !== grant.token) return { record: existing, ok: false };
  return { record: { lockKey: existing.lockKey, fence: existing.fence, leaseExpiresAt: 0 }, ok: true };
}

/** Bounded, jittered wait before the next acquire attempt ("full jitter" over an exponential cap). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random * cap);
}
