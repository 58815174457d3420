/**
 * AWS CDK constructs for SQS consumers with backpressure: `BoundedQueueConsumer`, `IdempotencyTable`,
 * `LockTable`, the pure derivations (`deriveConsumerSettings`) and `FloodgateValidationError`.
 * CommonJS; peers `aws-cdk-lib` ^2 and `constructs` ^10.
 * @module @floodgate/cdk
 */
export * from '../../packages/cdk/src/index.js';
