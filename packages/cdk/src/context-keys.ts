import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ARCH_CONTEXT, ARCHITECTURES } from '@floodgate/contract';
import type { IConstruct } from 'constructs';
import { FloodgateValidationError } from './errors';

/**
 * Context key: Lambda architecture, `arm64` or `x86_64`. `floodgate-local` sets it to the host's architecture
 * so that native modules in a bundle load on the machine that runs it. Defined in @floodgate/contract.
 */
export { ARCH_CONTEXT };

/** The architecture the ARCH_CONTEXT context key names at `scope`, or undefined when it is not set. */
export function architectureFromContext(scope: IConstruct): lambda.Architecture | undefined {
  const value: unknown = scope.node.tryGetContext(ARCH_CONTEXT);
  if (value === undefined) return undefined;
  if (value === 'arm64') return lambda.Architecture.ARM_64;
  if (value === 'x86_64') return lambda.Architecture.X86_64;
  throw new FloodgateValidationError(
    'InvalidArchitectureContext',
    `Context ${ARCH_CONTEXT} must be one of ${ARCHITECTURES.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}: pass -c ${ARCH_CONTEXT}=arm64 or x86_64, or remove it.`,
  );
}
