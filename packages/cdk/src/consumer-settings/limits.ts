/** Limits of Lambda and SQS the derivations check against, and the helpers they share. */
import { FloodgateValidationError } from '../errors';

// Lambda and SQS limits (AWS documentation), defined once in @floodgate/contract.
export {
  LAMBDA_MB_PER_VCPU,
  LAMBDA_MAX_VCPUS,
  MIN_EVENT_SOURCE_CONCURRENCY,
  MAX_EVENT_SOURCE_CONCURRENCY,
  MIN_PROVISIONED_POLLERS,
  MAX_MINIMUM_PROVISIONED_POLLERS,
  MAX_MAXIMUM_PROVISIONED_POLLERS,
  INVOKES_PER_POLLER,
  MAX_VISIBILITY_TIMEOUT_SECONDS,
  MAX_FUNCTION_TIMEOUT_SECONDS,
  MAX_BATCHING_WINDOW_SECONDS,
  MAX_BATCH_SIZE,
  MAX_FIFO_BATCH_SIZE,
} from '@floodgate/contract';
/** AWS guidance: fewer receives push throttled or capped (not failed) messages to the DLQ. */
export const MIN_MAX_RECEIVE_COUNT = 5;
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
