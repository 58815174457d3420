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

/** aws-cdk-lib's token test, as the pure derivations expect it. */
export const isToken = (n: number): boolean => Token.isUnresolved(n);
