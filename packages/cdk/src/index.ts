/** @floodgate/cdk: constructs for SQS consumers that push back instead of falling over. */
export * from './errors';
export * from './consumer-settings/index';
export * from './bounded-queue-consumer/index';
export * from './bounded-stream-consumer/index';
export * from './keyed-ttl-table';
export * from './idempotency-table';
export * from './lock-table';
export * from './nodejs-function';
export * from './esbuild';
export { CONSUMER_ENV } from './env';
export { TABLE_ATTRIBUTES } from './table-attributes';
export { ARCH_CONTEXT } from './context-keys';
