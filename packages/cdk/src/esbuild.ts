/**
 * NodejsFunction bundles with a local esbuild when it finds one and otherwise falls back to Docker, with
 * no more than a line on stderr; without Docker, synth then fails far from the cause. Floodgate functions
 * are always meant to bundle locally, so a missing esbuild is a construction error that says what to install.
 */
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { fail } from './errors';

/**
 * The esbuild NodejsFunction will use: `esbuild/package.json` resolved where aws-cdk-lib is installed (how
 * aws-cdk-lib looks for it), else an `esbuild` on PATH. Undefined when there is none.
 */
export function findEsbuild(): { readonly version: string; readonly source: 'package' | 'path' } | undefined {
  try {
    const cdkDir = dirname(require.resolve('aws-cdk-lib/package.json'));
    const pkg = require.resolve('esbuild/package.json', { paths: [cdkDir] });
    return { version: (require(pkg) as { version: string }).version, source: 'package' };
  } catch {
    const proc = spawnSync('esbuild', ['--version'], { encoding: 'utf8' });
    if (proc.status === 0 && !proc.error) return { version: proc.stdout.trim(), source: 'path' };
    return undefined;
  }
}

/**
 * Throws when `scope`'s stack will be bundled (not excluded by the `aws:cdk:bundling-stacks` context, as
 * unit tests and `cdk synth --exclusively` do) and no esbuild can be found.
 * `find` is for tests.
 */
export function assertEsbuildForBundling(scope: IConstruct, find: typeof findEsbuild = findEsbuild): void {
  if (!Stack.of(scope).bundlingRequired) return;
  if (find() !== undefined) return;
  fail(
    'EsbuildNotInstalled',
    'bundling this function needs esbuild, and none is installed where aws-cdk-lib is: without it ' +
      'NodejsFunction falls back to Docker bundling. Run `npm install --save-dev esbuild` in your CDK app.',
    scope,
  );
}
