import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { architectureFromContext } from '../context-keys';
import { fail } from '../errors';
import { createFloodgateFunction } from '../nodejs-function';
import type { BoundedQueueConsumerProps } from './props';

/** Lambda's defaults, for a `lambda.Function` that sets neither. */
const LAMBDA_DEFAULT_TIMEOUT = Duration.seconds(3);
const LAMBDA_DEFAULT_MEMORY_MB = 128;

/** The timeout the settings are derived from: the prop, or the function's own (which the prop must match). */
export function resolveTimeout(scope: Construct, props: BoundedQueueConsumerProps): Duration {
  const fn = props.consumerFunction;
  if (fn === undefined) return props.timeout ?? Duration.seconds(30);
  if (fn instanceof lambda.Function) {
    const actual = fn.timeout ?? LAMBDA_DEFAULT_TIMEOUT;
    if (props.timeout !== undefined && !props.timeout.isUnresolved() && !actual.isUnresolved() && props.timeout.toSeconds() !== actual.toSeconds()) {
      fail(
        'TimeoutDiffersFromFunction',
        `timeout (${props.timeout.toSeconds()} s) differs from consumerFunction's timeout (${actual.toSeconds()} s); ` +
          "remove the prop, the function's timeout is used.",
        scope,
      );
    }
    return actual;
  }
  if (props.timeout === undefined) {
    fail('ImportedFunctionTimeout', "an imported consumerFunction's timeout cannot be read; pass 'timeout' equal to the function's.", scope);
  }
  return props.timeout;
}

/** The memory size the CPU lane is derived from (see {@link resolveTimeout}). */
export function resolveMemorySize(scope: Construct, props: BoundedQueueConsumerProps): number {
  const fn = props.consumerFunction;
  if (fn === undefined) return props.memorySize ?? 1024;
  if (fn instanceof lambda.Function) {
    const actual = (fn.node.defaultChild as lambda.CfnFunction).memorySize ?? LAMBDA_DEFAULT_MEMORY_MB;
    if (props.memorySize !== undefined && !Token.isUnresolved(props.memorySize) && !Token.isUnresolved(actual) && props.memorySize !== actual) {
      fail('MemorySizeDiffersFromFunction', `memorySize (${props.memorySize}) differs from consumerFunction's (${actual}); remove the prop.`, scope);
    }
    return actual;
  }
  return props.memorySize ?? LAMBDA_DEFAULT_MEMORY_MB;
}

/** Reserved concurrency already set on a `lambda.Function` (validated against the cap like the prop). */
export function existingReservedConcurrency(fn: lambda.IFunction | undefined): number | undefined {
  return fn instanceof lambda.Function ? (fn.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions : undefined;
}

export interface ConsumerFunctionOptions {
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly reservedConcurrency: number;
  /** The user's environment plus the sizing variables. */
  readonly environment: Record<string, string>;
}

/**
 * The consumer function: built from `entry` (LogGroup, Role, Function under `scope`), or the given
 * `consumerFunction` with the environment and reserved concurrency applied when it is defined in this app.
 * An imported function cannot be changed: a warning says what to set on it.
 */
export function createOrAdoptConsumerFunction(
  scope: Construct,
  props: BoundedQueueConsumerProps,
  o: ConsumerFunctionOptions,
): { fn: lambda.IFunction; logGroup?: logs.LogGroup } {
  const existing = props.consumerFunction;
  if (existing === undefined) return bundleConsumerFunction(scope, props, o);
  if (existing instanceof lambda.Function) {
    for (const [k, v] of Object.entries(o.environment)) existing.addEnvironment(k, v);
    (existing.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = o.reservedConcurrency;
  } else {
    Annotations.of(scope).addWarningV2(
      'floodgate:importedConsumer',
      `Imported consumerFunction: set reserved concurrency >= ${o.reservedConcurrency}, timeout ${o.timeout.toSeconds()} s ` +
        `and the environment ${JSON.stringify(printable(o.environment))} on it yourself.`,
    );
  }
  return { fn: existing };
}

/** Token values (the DLQ URL) as a placeholder, for a message. */
function printable(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, Token.isUnresolved(v) ? '<set at deploy>' : v]));
}

function bundleConsumerFunction(scope: Construct, props: BoundedQueueConsumerProps, o: ConsumerFunctionOptions) {
  const architecture = props.architecture ?? architectureFromContext(scope) ?? lambda.Architecture.ARM_64;
  const nodeModules = props.nodeModules ?? [];
  const npmCpu = architecture === lambda.Architecture.ARM_64 ? 'arm64' : 'x64';
  const { fn, logGroup } = createFloodgateFunction(scope, {
    entry: props.entry!,
    ...(props.handler !== undefined ? { handler: props.handler } : {}),
    architecture,
    timeout: o.timeout,
    memorySize: o.memorySize,
    reservedConcurrentExecutions: o.reservedConcurrency,
    environment: o.environment,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    roleDescription: `Consumer of ${Stack.of(scope).stackName}/${scope.node.path}`,
    bundling: {
      nodeModules,
      commandHooks: {
        beforeBundling: () => [],
        // npm installs native packages (sharp's @img/sharp-linux-*) for the TARGET, not this machine.
        beforeInstall: (_inputDir: string, outputDir: string) =>
          nodeModules.length > 0 ? [`printf 'os=linux\\ncpu=${npmCpu}\\nlibc=glibc\\n' > "${outputDir}/.npmrc"`] : [],
        afterBundling: (_inputDir: string, outputDir: string) => [
          ...(nodeModules.length > 0 ? [`rm -f "${outputDir}/.npmrc" "${outputDir}/package-lock.json"`] : []),
          ...Object.entries(props.assetFiles ?? {}).map(
            ([dest, src]) => `mkdir -p "$(dirname "${outputDir}/${dest}")" && cp "${src}" "${outputDir}/${dest}"`,
          ),
        ],
      },
    },
  });
  return { fn, logGroup };
}
