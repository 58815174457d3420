/**
 * @floodgate/cdk as a user's app loads it: the built CommonJS in dist/, through the package's `exports`,
 * from plain node. `npm run build` first (npm test's pretest does).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'));

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' }).trim();
}

describe('@floodgate/cdk package', () => {
  it('is built', () => {
    expect(existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url))), 'run npm run build').toBe(true);
  });

  it('loads with require() from CommonJS and exposes every name to named ESM imports (cjs-module-lexer)', () => {
    const cjs: string[] = JSON.parse(node(['-e', "console.log(JSON.stringify(Object.keys(require('@floodgate/cdk')).sort()))"]));
    expect(cjs).toEqual(expect.arrayContaining(['BoundedQueueConsumer', 'FloodgateValidationError', 'IdempotencyTable', 'LockTable', 'CONSUMER_ENV', 'deriveConsumerSettings', 'createFloodgateFunction']));
    const esm: string[] = JSON.parse(
      node(['--input-type=module', '-e', "import * as ns from '@floodgate/cdk'; console.log(JSON.stringify(Object.keys(ns).filter((k) => !['default', '__esModule', 'module.exports'].includes(k)).sort()))"]),
    );
    expect(esm).toEqual(cjs);
  });

  it('throws its typed error through a named ESM import', () => {
    const out = node([
      '--input-type=module',
      '-e',
      [
        "import { App, Stack } from 'aws-cdk-lib';",
        "import { BoundedQueueConsumer, FloodgateValidationError } from '@floodgate/cdk';",
        "const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');",
        "try { new BoundedQueueConsumer(stack, 'C', { maxConcurrency: 2 }); } catch (e) {",
        "  console.log(JSON.stringify({ typed: e instanceof FloodgateValidationError, code: e.code, message: e.message })); }",
      ].join('\n'),
    ]);
    expect(JSON.parse(out)).toEqual({ typed: true, code: 'EntryOrFunction', message: expect.stringMatching(/^S\/C: set exactly one of 'entry'/) });
  });

  it('depends on nothing but its peers: aws-cdk-lib ^2, constructs ^10, and esbuild (optional)', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs', 'esbuild']);
    expect(pkg.peerDependencies['aws-cdk-lib']).toMatch(/^\^2\./);
    expect(pkg.peerDependencies.constructs).toMatch(/^\^10\./);
    expect(pkg.peerDependenciesMeta).toEqual({ esbuild: { optional: true } });
    expect(pkg.type).toBe('commonjs');
  });
});
