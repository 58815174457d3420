/** Idempotency with fencing: the pure state machine, its DynamoDB adapter and the one payload hasher. */
// Named, not `export *`: a re-export star in the CommonJS build is not seen by every ESM interop (vitest's).
export { isExpired, canClaim, isRedriveOf, explainRefusal, applyClaim, isOwner, applyFinish, type IdempotencyStatus, type IdempotencyRecord, type ClaimRequest, type ClaimOutcome, type FinishTransition } from './model.js';
export { canonicalJson, payloadHash } from './hash.js';
export { IdempotencyStore, type Claim, type ClaimOptions, type ClaimResult, type CompleteOptions, type FailOptions, type IdempotencyPersistence, type IdempotencyStoreOptions, type WriteOptions } from './store.js';
export { InMemoryIdempotencyStore } from './memory-store.js';
