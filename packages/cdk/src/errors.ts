/**
 * Typed construction errors, in the way of aws-cdk-lib's `ValidationError` / `UnscopedValidationError`
 * (core/lib/errors.ts): a stable `code`, the construct path (when there is a scope) both as
 * `constructPath` and at the start of the message, and a message that says what to change.
 */
import type { IConstruct } from 'constructs';

// The registered symbols aws-cdk-lib's `Errors.isConstructError` / `Errors.isValidationError` look for, so
// that tooling which asks aws-cdk-lib "is this a validation error?" answers yes for ours too.
const CDK_CONSTRUCT_ERROR = Symbol.for('@aws-cdk/core.SynthesisError');
const CDK_VALIDATION_ERROR = Symbol.for('@aws-cdk/core.ValidationError');
const FLOODGATE_ERROR = Symbol.for('@floodgate/cdk.FloodgateValidationError');

/**
 * Thrown at construction (or synth) when props cannot work together: the message names the construct
 * and says what to change. Test for it with `instanceof FloodgateValidationError`, or with
 * `FloodgateValidationError.isFloodgateValidationError(err)` across copies of the package; aws-cdk-lib's
 * `Errors.isValidationError(err)` is true for it as well.
 */
export class FloodgateValidationError extends Error {
  /** True for any FloodgateValidationError, even one from another copy of this package. */
  static isFloodgateValidationError(x: unknown): x is FloodgateValidationError {
    return typeof x === 'object' && x !== null && (x as { [FLOODGATE_ERROR]?: boolean })[FLOODGATE_ERROR] === true;
  }

  override readonly name = 'FloodgateValidationError';
  /** Always `'validation'`, as aws-cdk-lib's ValidationError. */
  readonly type = 'validation';
  /** Stable identifier of the rule that failed, e.g. `ReservedConcurrencyBelowCap`. */
  readonly code: string;
  /** Path of the construct whose props failed, when the error was raised with a scope. */
  readonly constructPath?: string;

  constructor(code: string, message: string, scope?: IConstruct, options?: { readonly cause?: unknown }) {
    super(scope ? `${scope.node.path}: ${message}` : message, options);
    this.code = code;
    if (scope) this.constructPath = scope.node.path;
    for (const symbol of [FLOODGATE_ERROR, CDK_CONSTRUCT_ERROR, CDK_VALIDATION_ERROR]) {
      Object.defineProperty(this, symbol, { value: true });
    }
  }

  /** The message without the construct path prefix. */
  get reason(): string {
    return this.constructPath ? this.message.slice(this.constructPath.length + 2) : this.message;
  }

  /** The same error attached to a construct (for errors of the pure derivations, raised without one). */
  withScope(scope: IConstruct): FloodgateValidationError {
    if (this.constructPath !== undefined) return this;
    return new FloodgateValidationError(this.code, this.message, scope, { cause: this.cause });
  }
}

/** Throws a FloodgateValidationError (unscoped when `scope` is omitted). */
export function fail(code: string, message: string, scope?: IConstruct): never {
  throw new FloodgateValidationError(code, message, scope);
}

/** Runs `fn`, attaching `scope` to any unscoped FloodgateValidationError it throws. */
export function withScope<T>(scope: IConstruct, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FloodgateValidationError) throw err.withScope(scope);
    throw err;
  }
}
