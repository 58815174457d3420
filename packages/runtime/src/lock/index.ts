/** Lease lock with fencing tokens: the pure model, the fenced-write rule and the DynamoDB adapter. */
// Named, not `export *`: a re-export star in the CommonJS build is not seen by every ESM interop (vitest's).
export { isFree, applyAcquire, holds, applyRenew, applyRelease, backoffDelay, type LockRecord, type Grant } from './model.js';
export { LeaseLock, type LeaseLockOptions, type AcquireOptions, type HeldLease } from './lease-lock.js';
