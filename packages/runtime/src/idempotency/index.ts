/** Idempotency with fencing: the pure state machine and its DynamoDB adapter. */
export * from './model.js';
export { IdempotencyStore, type Claim, type ClaimResult, type IdempotencyStoreOptions } from './store.js';
