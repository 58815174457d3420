/** Lease lock with fencing tokens: the pure model, the fenced-write rule and the DynamoDB adapter. */
export * from './model.js';
export { LeaseLock, type LeaseLockOptions, type AcquireOptions, type HeldLease } from './lease-lock.js';
