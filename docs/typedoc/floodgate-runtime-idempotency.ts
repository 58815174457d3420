/**
 * Fenced idempotency records in DynamoDB: claim, complete, fail (an `IdempotencyTable`).
 * @module @floodgate/runtime/idempotency
 */
export * from '../../packages/runtime/src/idempotency/index.js';
