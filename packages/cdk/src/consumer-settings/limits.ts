/** Limits of Lambda and SQS the derivations check against, and the helpers they share. */
import { FloodgateValidationError } from '../errors';

/** Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (AWS Lambda docs). */
export const LAMBDA_MB_PER_VCPU = 1769;
/** Lambda's ceiling: 6 vCPUs at 10,240 MB. */
export const LAMBDA_MAX_VCPUS = 6;
/** Event-source ScalingConfig.MaximumConcurrency bounds (AWS::Lambda::EventSourceMapping). */
export const MIN_EVENT_SOURCE_CONCURRENCY = 2;
export const MAX_EVENT_SOURCE_CONCURRENCY = 1000;
/** ProvisionedPollerConfig bounds for SQS in CloudFormation. */
export const MIN_PROVISIONED_POLLERS = 2;
export const MAX_MINIMUM_PROVISIONED_POLLERS = 200;
export const MAX_MAXIMUM_PROVISIONED_POLLERS = 2000;
/** Each provisioned SQS poller drives up to 10 concurrent invokes (AWS Lambda docs, services-sqs-scaling). */
export const INVOKES_PER_POLLER = 10;
/** AWS guidance: fewer receives push throttled or capped (not failed) messages to the DLQ. */
export const MIN_MAX_RECEIVE_COUNT = 5;
/** SQS queue visibility timeout ceiling (12 hours). */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** Lambda function timeout ceiling (15 minutes). */
export const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
/** SQS event source MaximumBatchingWindowInSeconds ceiling. */
export const MAX_BATCHING_WINDOW_SECONDS = 300;
/** Standard-queue BatchSize ceiling (needs a batching window above 10). */
export const MAX_BATCH_SIZE = 10_000;
/** FIFO-queue BatchSize ceiling (no batching window on FIFO). */
export const MAX_FIFO_BATCH_SIZE = 10;
/** Default size of the I/O lane (S3, DynamoDB, SQS calls in flight per invocation). */
export const DEFAULT_IO_CONCURRENCY = 16;

/** Predicate for values that are not known at synth (CDK tokens). */
export type IsToken = (value: number) => boolean;
/** @internal */
export const NO_TOKENS: IsToken = () => false;
/** @internal */
export function fail(code: string, message: string): never {
  throw new FloodgateValidationError(code, message);
}

/** @internal Integer in [min, max]; a token is not checked. */
export function requireInteger(name: string, value: number, min: number, max: number, isToken: IsToken = NO_TOKENS): void {
  if (isToken(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    fail('OutOfRange', `${name} must be an integer from ${min} to ${max}, got ${value}.`);
  }
}
