/** @floodgate/cdk: constructs for SQS consumers that push back instead of falling over. */
export * from './consumer-settings';
export * from './bounded-queue-consumer';
export * from './keyed-ttl-table';
export * from './idempotency-table';
export * from './lock-table';
export * from './nodejs-function';
export { CONSUMER_ENV, TABLE_ATTRIBUTES, ARCH_CONTEXT } from './env';
