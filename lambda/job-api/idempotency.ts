/**
 * Idempotency-Key decisions for `POST /jobs` (pure, no I/O), with Stripe's semantics:
 * - the first request with a key claims it (a lease) and fixes the job id for that key forever;
 * - the same key with the same payload after completion gets the stored response, byte for byte;
 * - the same key with another payload gets 422;
 * - the same key while a live lease is held gets 409 with Retry-After;
 * - the same key after the holder crashed (lease expired) takes the lease over and REUSES the job id,
 *   so the retry finishes the send and at most one job exists per key (the worker is idempotent per job id).
 *
 * Unlike Powertools, completing and releasing are conditioned on owning the lease (`leaseToken`), so a
 * stale invocation cannot overwrite a newer owner's record.
 */
import { createHash } from 'node:crypto';
import { TABLE_ATTRIBUTES } from '../shared/contract';

/** Keys of the API share the idempotency table with the worker (keyed by job id): namespace both. */
export const API_IDEMPOTENCY_NAMESPACE = 'api#';

/** Partition key attribute of the idempotency table (shared with the worker). */
export const IDEMPOTENCY_KEY_ATTRIBUTE = TABLE_ATTRIBUTES.idempotency.partitionKey;
/** TTL attribute of the idempotency table (epoch seconds); `IdempotencyRecord.expiresAt` is stored under it. */
export const IDEMPOTENCY_TTL_ATTRIBUTE = TABLE_ATTRIBUTES.idempotency.ttl;

/** How long a completed key is remembered (Stripe: at least 24 hours). */
export const IDEMPOTENCY_RETENTION_SECONDS = 24 * 60 * 60;

export function idempotencyRecordId(idempotencyKey: string): string {
  return `${API_IDEMPOTENCY_NAMESPACE}${idempotencyKey}`;
}

/** The stored state of one key. */
export type IdempotencyRecord =
  | {
      readonly status: 'in_progress';
      readonly payloadHash: string;
      readonly jobId: string;
      readonly leaseToken: string;
      readonly leaseExpiresAtMs: number;
      readonly expiresAt: number;
    }
  | {
      readonly status: 'completed';
      readonly payloadHash: string;
      readonly jobId: string;
      readonly responseStatus: number;
      /** The exact body bytes returned the first time (replays return this string unchanged). */
      readonly responseBody: string;
      readonly expiresAt: number;
    };

export type ExistingKeyDecision =
  | { readonly kind: 'replay'; readonly statusCode: number; readonly body: string }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'in-progress'; readonly retryAfterSeconds: number }
  | { readonly kind: 'take-over'; readonly jobId: string; readonly previousLeaseToken: string }
  /** The record outlived its retention (TTL deletion is lazy): behave as if the key were new. */
  | { readonly kind: 'expired' };

/** What to do when the claim found an existing record for the key. */
export function decideOnExistingKey(existing: IdempotencyRecord, payloadHash: string, nowMs: number): ExistingKeyDecision {
  if (existing.expiresAt * 1000 <= nowMs) return { kind: 'expired' };
  if (existing.payloadHash !== payloadHash) return { kind: 'mismatch' };
  if (existing.status === 'completed') {
    return { kind: 'replay', statusCode: existing.responseStatus, body: existing.responseBody };
  }
  if (existing.leaseExpiresAtMs > nowMs) {
    return { kind: 'in-progress', retryAfterSeconds: Math.max(1, Math.ceil((existing.leaseExpiresAtMs - nowMs) / 1000)) };
  }
  return { kind: 'take-over', jobId: existing.jobId, previousLeaseToken: existing.leaseToken };
}

/** JSON with object keys sorted at every level, so equal payloads hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Hash of the validated payload (after zod, so whitespace and key order do not matter, but every
 * field that changes the job does). Includes the route so a key reused on another route mismatches.
 */
export function payloadHash(route: string, payload: unknown): string {
  return createHash('sha256').update(route).update('\n').update(canonicalJson(payload)).digest('hex');
}

/** Parses a DynamoDB item (already unmarshalled) into a record; null when it is not one of ours. */
export function toIdempotencyRecord(item: Record<string, unknown> | undefined): IdempotencyRecord | null {
  if (item === undefined) return null;
  const { status, payloadHash: hash, jobId, expiresAt } = item;
  if (typeof hash !== 'string' || typeof jobId !== 'string' || typeof expiresAt !== 'number') return null;
  if (status === 'completed' && typeof item.responseStatus === 'number' && typeof item.responseBody === 'string') {
    return { status, payloadHash: hash, jobId, expiresAt, responseStatus: item.responseStatus, responseBody: item.responseBody };
  }
  if (status === 'in_progress' && typeof item.leaseToken === 'string' && typeof item.leaseExpiresAtMs === 'number') {
    return { status, payloadHash: hash, jobId, expiresAt, leaseToken: item.leaseToken, leaseExpiresAtMs: item.leaseExpiresAtMs };
  }
  return null;
}
