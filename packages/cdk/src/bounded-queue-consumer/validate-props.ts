/**
 * Checks on BoundedQueueConsumer props that are about which props go together (the numeric derivations
 * and their checks are in ../consumer-settings). Every failure is a FloodgateValidationError naming the
 * construct and what to change.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { Token, type Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct, IConstruct } from 'constructs';
import { CONSUMER_ENV } from '../env';
import { fail } from '../errors';
import type { BoundedQueueConsumerProps } from './props';

const ENTRY_ONLY = ['architecture', 'nodeModules', 'assetFiles', 'logRetention'] as const;
const FIFO_ONLY = ['contentBasedDeduplication', 'highThroughputFifo'] as const;

/** Functions already wired to a consumer (construct path), to refuse a second one. */
const CONSUMED_FUNCTIONS = new WeakMap<lambda.IFunction, string>();

export function validateBoundedQueueConsumerProps(scope: Construct, props: BoundedQueueConsumerProps): void {
  if ((props.entry === undefined) === (props.consumerFunction === undefined)) {
    fail('EntryOrFunction', "set exactly one of 'entry' (a handler file to bundle) or 'consumerFunction'.", scope);
  }
  const existing = props.consumerFunction;
  if (existing !== undefined) {
    for (const key of ENTRY_ONLY) {
      if (props[key] !== undefined) {
        fail('EntryOnlyOption', `'${key}' applies only with 'entry'; configure it on your consumerFunction.`, scope);
      }
    }
    const owned = existing instanceof lambda.Function;
    if (!owned && existing.role === undefined) {
      fail(
        'ImportedFunctionWithoutRole',
        'the imported consumerFunction has no role, so the construct cannot grant it the queue and the DLQ. ' +
          'Import it with lambda.Function.fromFunctionAttributes({ functionArn, role }).',
        scope,
      );
    }
    if (!owned && props.environment !== undefined) {
      fail('ImportedFunctionEnvironment', "cannot set 'environment' on an imported consumerFunction; set it on the function.", scope);
    }
  }

  const reservedNames = new Set<string>(Object.values(CONSUMER_ENV));
  for (const key of Object.keys(props.environment ?? {})) {
    if (reservedNames.has(key)) {
      fail('ReservedEnvironmentVariable', `environment.${key} is set by the construct from its props; set the prop instead.`, scope);
    }
  }

  for (const [dest, src] of Object.entries(props.assetFiles ?? {})) {
    if (isAbsolute(dest) || dest.split(/[\\/]/).includes('..')) {
      fail('AssetFileDestination', `assetFiles destination '${dest}' must be a relative path inside the asset.`, scope);
    }
    if (!isAbsolute(src) || !existsSync(src)) {
      fail('AssetFileSource', `assetFiles source '${src}' (for '${dest}') must be an absolute path to an existing file.`, scope);
    }
  }

  validateQueueKind(scope, props);
}

/** FIFO options and a user dead-letter queue must match the kind of the source queue. */
function validateQueueKind(scope: Construct, props: BoundedQueueConsumerProps): void {
  const fifo = props.fifo ?? false;
  if (!fifo) {
    for (const key of FIFO_ONLY) {
      if (props[key] !== undefined) fail('FifoOptionWithoutFifo', `'${key}' applies only to FIFO queues; set fifo: true or remove it.`, scope);
    }
  }
  const dlq = props.deadLetterQueue;
  if (dlq === undefined) return;
  if (props.deadLetterRetentionPeriod !== undefined) {
    fail(
      'DeadLetterRetentionWithQueue',
      "'deadLetterRetentionPeriod' applies to the dead-letter queue the construct creates; set the retention on your deadLetterQueue instead.",
      scope,
    );
  }
  if (fifo && !dlq.fifo) {
    fail(
      'DeadLetterQueueNotFifo',
      `deadLetterQueue ${dlq.node.path} is a standard queue, but the source queue is FIFO: SQS only redrives a FIFO ` +
        'queue to a FIFO queue. Pass a FIFO queue (fifo: true, name ending in .fifo), or omit deadLetterQueue.',
      scope,
    );
  }
  if (!fifo && dlq.fifo) {
    fail(
      'DeadLetterQueueIsFifo',
      `deadLetterQueue ${dlq.node.path} is a FIFO queue, but the source queue is standard: SQS only redrives a standard ` +
        'queue to a standard queue. Pass a standard queue, or set fifo: true.',
      scope,
    );
  }
}

/** One BoundedQueueConsumer per function; records the claim. */
export function claimConsumerFunction(scope: IConstruct, fn: lambda.IFunction): void {
  const previous = CONSUMED_FUNCTIONS.get(fn);
  if (previous !== undefined) {
    fail(
      'FunctionAlreadyConsumes',
      `consumerFunction already consumes ${previous}. Use one BoundedQueueConsumer per function: its environment ` +
        'names one dead-letter queue, and its reserved concurrency would have to cover the sum of both event-source caps.',
      scope,
    );
  }
  CONSUMED_FUNCTIONS.set(fn, scope.node.path);
}

/**
 * A Duration in seconds. A token Duration converts only in its own unit (aws-cdk-lib refuses otherwise),
 * so say which unit to use instead of letting that error surface.
 */
export function toSeconds(scope: IConstruct, name: string, d: Duration | undefined): number | undefined {
  return convert(scope, name, d, 'seconds', (x) => x.toSeconds());
}

/** A Duration in milliseconds (see {@link toSeconds}). */
export function toMillis(scope: IConstruct, name: string, d: Duration | undefined): number | undefined {
  return convert(scope, name, d, 'millis', (x) => x.toMilliseconds());
}

function convert(scope: IConstruct, name: string, d: Duration | undefined, unit: string, f: (d: Duration) => number): number | undefined {
  if (d === undefined) return undefined;
  if (!d.isUnresolved()) return f(d);
  try {
    return f(d);
  } catch {
    return fail('TokenDurationUnit', `${name} is a token in another unit; give it as Duration.${unit}(token).`, scope);
  }
}

/** SQS's ceiling for a visibility timeout, counted from the receive (12 hours). */
const MAX_VISIBILITY_SECONDS = 43_200;

/** The retry backoff bounds in whole seconds (tokens pass through), or undefined without the prop. */
export function retryBackoffSeconds(scope: IConstruct, props: BoundedQueueConsumerProps): { baseSeconds: number; maxSeconds: number } | undefined {
  const b = props.retryBackoff;
  if (b === undefined) return undefined;
  const whole = (name: string, d: Duration): number => {
    if (d.isUnresolved()) return toSeconds(scope, name, d)!;
    const ms = d.toMilliseconds();
    if (ms % 1000 !== 0) fail('RetryBackoffNotWholeSeconds', `${name} (${ms} ms) must be whole seconds: SQS visibility timeouts are set in seconds.`, scope);
    return ms / 1000;
  };
  return { baseSeconds: whole('retryBackoff.base', b.base), maxSeconds: whole('retryBackoff.max', b.max) };
}

/**
 * The retry backoff against the queue it delays messages in: each delay is a visibility timeout (at most
 * 12 h from the receive, and a receive may already have held the message for the visibility timeout), and
 * a message that fails every receive must still reach its last one before retention deletes it: each of
 * the maxReceiveCount - 1 failed receives holds it up to the visibility timeout, then delays it up to max.
 * Checks that involve a token are skipped (the handler still caps each delay at run time).
 */
export function validateRetryBackoff(
  scope: IConstruct,
  b: { readonly baseSeconds: number; readonly maxSeconds: number },
  queue: { readonly visibilityTimeoutSeconds: number; readonly retentionSeconds: number; readonly maxReceiveCount: number },
): void {
  const { baseSeconds: base, maxSeconds: max } = b;
  const { visibilityTimeoutSeconds: vis, retentionSeconds: retention, maxReceiveCount: receives } = queue;
  if (!isToken(base) && base < 1) fail('RetryBackoffBaseTooShort', `retryBackoff.base is ${base} s; it must be at least 1 second.`, scope);
  if (!isToken(base) && !isToken(max) && max < base) {
    fail('RetryBackoffMaxBelowBase', `retryBackoff.max (${max} s) is below retryBackoff.base (${base} s); raise max to at least base.`, scope);
  }
  if (isToken(max) || isToken(vis)) return;
  if (vis + max > MAX_VISIBILITY_SECONDS) {
    fail(
      'RetryBackoffAboveVisibilityLimit',
      `retryBackoff.max (${max} s) + the visibility timeout (${vis} s) exceeds SQS's 12-hour (${MAX_VISIBILITY_SECONDS} s) limit, counted from ` +
        `the receive, so SQS would refuse the longest delays. Lower retryBackoff.max to at most ${MAX_VISIBILITY_SECONDS - vis} s, or lower the visibility timeout.`,
      scope,
    );
  }
  if (isToken(retention) || isToken(receives)) return;
  const worst = (receives - 1) * (vis + max);
  if (worst > retention) {
    const maxThatFits = Math.floor(retention / Math.max(1, receives - 1)) - vis;
    fail(
      'RetryBackoffExceedsRetention',
      `a message failing every receive could need (maxReceiveCount ${receives} - 1) x (visibility timeout ${vis} s + retryBackoff.max ${max} s) = ` +
        `${worst} s to reach its last receive, more than retentionPeriod (${retention} s): SQS would delete it before it is dead-lettered. ` +
        `Raise retentionPeriod to at least ${worst} s, ` +
        (maxThatFits >= 1 ? `lower retryBackoff.max to at most ${maxThatFits} s, ` : '') +
        'or lower maxReceiveCount.',
      scope,
    );
  }
}

/** aws-cdk-lib's token test, as the pure derivations expect it. */
export const isToken = (n: number): boolean => Token.isUnresolved(n);
