/** Idempotency with fencing: the pure state machine, its DynamoDB adapter and the one payload hasher. */
export * from './model.js';
export { canonicalJson, payloadHash } from './hash.js';
export { IdempotencyStore, type Claim, type ClaimOptions, type ClaimResult, type CompleteOptions, type FailOptions, type IdempotencyPersistence, type IdempotencyStoreOptions, type WriteOptions } from './store.js';
export { InMemoryIdempotencyStore } from './memory-store.js';
