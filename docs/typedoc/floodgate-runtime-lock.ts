/**
 * A DynamoDB lease lock whose grants carry fencing tokens (a `LockTable`).
 * @module @floodgate/runtime/lock
 */
export * from '../../packages/runtime/src/lock/index.js';
