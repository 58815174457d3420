import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { assertEsbuildForBundling, findEsbuild } from '../src/esbuild';
import { unbundledStack } from '../../../test/infra/support';
import { expectInvalid } from './support';

describe('esbuild detection', () => {
  it('finds the esbuild installed next to aws-cdk-lib', () => {
    const found = findEsbuild();
    expect(found?.source).toBe('package');
    expect(found?.version).toMatch(/^0\.\d+\.\d+/);
  });

  it('throws a typed error naming the install command when a bundled stack has no esbuild', () => {
    const stack = new Stack(new App(), 'Bundled');
    expect(stack.bundlingRequired).toBe(true);
    expectInvalid(() => assertEsbuildForBundling(stack, () => undefined), /^Bundled: bundling this function needs esbuild.*`npm install --save-dev esbuild`/, 'EsbuildNotInstalled');
    expect(() => assertEsbuildForBundling(stack, () => ({ version: '0.28.2', source: 'package' }))).not.toThrow();
  });

  it("skips the check when bundling is skipped ('aws:cdk:bundling-stacks': [])", () => {
    const stack = unbundledStack();
    expect(stack.bundlingRequired).toBe(false);
    expect(() => assertEsbuildForBundling(stack, () => undefined)).not.toThrow();
  });
});
