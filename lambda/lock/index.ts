/** Lease lock with fencing tokens: the pure model, the fenced-write rule and the DynamoDB adapter. */
export * from './model';
export { judgeFencedWrite, type FenceVerdict, type FencedState } from './fence';
export { LeaseLock, type LeaseLockOptions, type AcquireOptions, type HeldLease } from './lease-lock';
