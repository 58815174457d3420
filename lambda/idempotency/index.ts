/** Idempotency with fencing: the pure state machine and its DynamoDB adapter. */
export * from './model';
export { IdempotencyStore, type Claim, type ClaimResult, type IdempotencyStoreOptions } from './store';
