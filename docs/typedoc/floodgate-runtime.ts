/**
 * What an SQS consumer's handler imports: `createConsumerHandler`, `PermanentError`, `RetryableError`, and
 * the batch machinery they are built from.
 * @module @floodgate/runtime
 */
export * from '../../packages/runtime/src/index.js';
