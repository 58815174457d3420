/** BoundedQueueConsumer's architecture: the prop, else the `floodgate:architecture` context key, else ARM_64. */
import { ARCH_CONTEXT as CONTRACT_ARCH_CONTEXT } from '@floodgate/contract';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { BoundedQueueConsumer } from '../src/bounded-queue-consumer/index';
import { ARCH_CONTEXT } from '../src/context-keys';
import { SAMPLE_ENTRY, unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

function architectures(context: Record<string, unknown>, architecture?: lambda.Architecture): unknown {
  const stack = unbundledStack(context);
  new BoundedQueueConsumer(stack, 'Consumer', { entry: SAMPLE_ENTRY, maxConcurrency: 2, ...(architecture ? { architecture } : {}) });
  const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
  expect(fns).toHaveLength(1);
  return fns[0]!.Properties.Architectures;
}

describe('BoundedQueueConsumer architecture', () => {
  it('uses the key @floodgate/contract defines', () => {
    expect(ARCH_CONTEXT).toBe(CONTRACT_ARCH_CONTEXT);
    expect(ARCH_CONTEXT).toBe('floodgate:architecture');
  });

  it('is ARM_64 without the prop or the context key', () => {
    expect(architectures({})).toEqual(['arm64']);
  });

  it('follows the context key when the prop is not set (floodgate-local sets it to the host)', () => {
    expect(architectures({ [ARCH_CONTEXT]: 'x86_64' })).toEqual(['x86_64']);
    expect(architectures({ [ARCH_CONTEXT]: 'arm64' })).toEqual(['arm64']);
  });

  it('takes the prop over the context key', () => {
    expect(architectures({ [ARCH_CONTEXT]: 'x86_64' }, lambda.Architecture.ARM_64)).toEqual(['arm64']);
    expect(architectures({ [ARCH_CONTEXT]: 'arm64' }, lambda.Architecture.X86_64)).toEqual(['x86_64']);
  });

  it('refuses a context value that is not an architecture, saying what to pass', () => {
    expectInvalid(() => architectures({ [ARCH_CONTEXT]: 'amd64' }), /floodgate:architecture must be one of 'arm64', 'x86_64', got "amd64"/, 'InvalidArchitectureContext');
  });
});
