/**
 * How every Floodgate function is built, in one place: nodejs24.x, bundled locally by esbuild as ESM with
 * the AWS SDK inside (the versions we test, not the runtime's copy), JSON logs to its own log group, and
 * its own role that may write only to that log group (no AWSLambdaBasicExecutionRole: a managed policy
 * with `*` log resources). Callers add their environment, grants and any extra bundling hooks.
 */
import type { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { assertEsbuildForBundling } from './esbuild';

/** ESM bundles still meet CommonJS dependencies that call `require`; give them one. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __floodgateCreateRequire } from 'node:module'; const require = __floodgateCreateRequire(import.meta.url);";

export interface FloodgateFunctionProps {
  readonly entry: string;
  /** @default 'handler' */
  readonly handler?: string;
  readonly architecture: lambda.Architecture;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment: Record<string, string>;
  readonly reservedConcurrentExecutions?: number;
  readonly logRetention: logs.RetentionDays;
  /** What the role is for (shown in IAM). */
  readonly roleDescription: string;
  /** Bundling beyond the shared base (nodeModules, commandHooks, ...). */
  readonly bundling?: Omit<nodejs.BundlingOptions, 'format' | 'banner' | 'bundleAwsSDK'>;
}

export interface FloodgateFunction {
  readonly fn: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
}

/**
 * Creates `LogGroup`, `Role` and `Function` under `scope`. Throws a FloodgateValidationError when the stack
 * is bundled and esbuild is not installed (unless `bundling.forceDockerBundling` asks for Docker).
 */
export function createFloodgateFunction(scope: Construct, props: FloodgateFunctionProps): FloodgateFunction {
  if (!props.bundling?.forceDockerBundling) assertEsbuildForBundling(scope);
  const logGroup = new logs.LogGroup(scope, 'LogGroup', { retention: props.logRetention });
  const role = new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: props.roleDescription,
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
  const fn = new nodejs.NodejsFunction(scope, 'Function', {
    entry: props.entry,
    handler: props.handler ?? 'handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: props.architecture,
    timeout: props.timeout,
    memorySize: props.memorySize,
    ...(props.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions } : {}),
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    environment: props.environment,
    bundling: {
      mainFields: ['module', 'main'],
      minify: true,
      keepNames: true,
      sourceMap: false,
      ...props.bundling,
      format: nodejs.OutputFormat.ESM,
      banner: ESM_REQUIRE_BANNER,
      bundleAwsSDK: true,
    },
  });
  return { fn, role, logGroup };
}
