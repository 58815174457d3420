/** The construct really asks before bundling: here esbuild is made unfindable for ../src/esbuild's callers. */
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { BoundedQueueConsumer } from '../src/bounded-queue-consumer/index';
import { CDK_JSON_CONTEXT, SAMPLE_ENTRY } from '../../../test/infra/support';
import { expectInvalid } from './support';

vi.mock('../src/esbuild', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/esbuild')>();
  return { ...original, assertEsbuildForBundling: (scope: never) => original.assertEsbuildForBundling(scope, () => undefined) };
});

const bundledStack = () => new Stack(new App({ context: CDK_JSON_CONTEXT }), 'Bundled');

describe('BoundedQueueConsumer without esbuild', () => {
  it('refuses to bundle an entry (instead of falling back to Docker)', () => {
    expectInvalid(
      () => new BoundedQueueConsumer(bundledStack(), 'Consumer', { entry: SAMPLE_ENTRY, maxConcurrency: 2 }),
      /^Bundled\/Consumer: bundling this function needs esbuild.*npm install --save-dev esbuild/,
      'EsbuildNotInstalled',
    );
  });

  it('does not need esbuild for a function of the user', () => {
    const stack = bundledStack();
    const fn = lambda.Function.fromFunctionAttributes(stack, 'Imported', {
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:worker',
      role: iam.Role.fromRoleArn(stack, 'Role', 'arn:aws:iam::123456789012:role/worker'),
      sameEnvironment: true,
    });
    expect(() => new BoundedQueueConsumer(stack, 'Consumer', { consumerFunction: fn, timeout: Duration.seconds(30), maxConcurrency: 2 })).not.toThrow();
  });
});
