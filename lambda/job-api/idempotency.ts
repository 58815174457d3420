/**
 * Idempotency-Key decisions for `POST /jobs` (pure, no I/O), with Stripe's semantics, on the one
 * idempotency persistence of @floodgate/runtime/idempotency (the worker uses the same, on its job records):
 * - the first request with a key claims it (a lease) and binds a job id to the key forever (set if absent);
 * - the same key with the same payload after completion gets the stored response, byte for byte (the
 *   refused claim returns the record: no read);
 * - the same key with another payload gets 422;
 * - the same key while a live lease is held gets 409 with Retry-After;
 * - the same key after the holder crashed (lease expired) or released takes the lease over, with a newer
 *   fence, and REUSES the bound job id, so at most one job exists per key.
 * Completion and release are conditioned on owner + fence, so a stale invocation cannot overwrite a
 * newer owner's record (unlike Powertools).
 */
import { N, S, num, str, type Item } from '@floodgate/runtime';
import { payloadHash, type ClaimResult } from '@floodgate/runtime/idempotency';

/** Keys of the API are namespaced in the idempotency table, which other consumers may share. */
export const API_IDEMPOTENCY_NAMESPACE = 'api#';

/** How long a completed key is remembered (Stripe: at least 24 hours). */
export const IDEMPOTENCY_RETENTION_SECONDS = 24 * 60 * 60;

export function idempotencyRecordId(idempotencyKey: string): string {
  return `${API_IDEMPOTENCY_NAMESPACE}${idempotencyKey}`;
}

/** Hash of the validated request, scoped by route so a key reused on another route mismatches. */
export function requestHash(route: string, payload: unknown): string {
  return payloadHash(payload, route);
}

/** Attributes the claim sets only on a new record: the job id bound to the key. */
export function bindJobId(jobId: string): Item {
  return { jobId: S(jobId) };
}

/** Attributes the completion writes: what every replay returns. */
export function storedResponse(statusCode: number, body: string): Item {
  return { responseStatus: N(statusCode), responseBody: S(body) };
}

export type KeyDecision =
  | { readonly kind: 'proceed'; readonly jobId: string; readonly tookOver: boolean }
  | { readonly kind: 'replay'; readonly statusCode: number; readonly body: string }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'in-progress'; readonly retryAfterSeconds: number }
  /** A record this API did not write (no job id or no stored response): refuse rather than guess. */
  | { readonly kind: 'conflict' };

/** What to do after the claim. */
export function decideOnClaim(result: ClaimResult, nowMs: number): KeyDecision {
  switch (result.type) {
    case 'claimed': {
      const jobId = str(result.record, 'jobId');
      return jobId === undefined ? { kind: 'conflict' } : { kind: 'proceed', jobId, tookOver: result.claim.fence > 1 };
    }
    case 'completed': {
      const statusCode = num(result.record, 'responseStatus');
      const body = str(result.record, 'responseBody');
      return statusCode === undefined || body === undefined ? { kind: 'conflict' } : { kind: 'replay', statusCode, body };
    }
    case 'payload-mismatch':
      return { kind: 'mismatch' };
    case 'in-progress':
      return { kind: 'in-progress', retryAfterSeconds: Math.max(1, Math.ceil((result.leaseExpiresAt - nowMs) / 1000)) };
    case 'failed':
      return { kind: 'conflict' };
  }
}
