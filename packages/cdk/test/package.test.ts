/**
 * @floodgate/cdk as a user's app loads it: the built CommonJS in dist/, through the package's `exports`,
 * from plain node. `npm run build` first (npm test's pretest does).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    expect(cjs).toEqual(expect.arrayContaining(['BoundedQueueConsumer', 'BoundedStreamConsumer', 'FloodgateValidationError', 'IdempotencyTable', 'LockTable', 'CONSUMER_ENV', 'deriveConsumerSettings', 'createFloodgateFunction']));
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

  it("type-checks from a CommonJS NodeNext project, as `cdk init app --language typescript` makes (types are real, not any)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-cdk-cjs-'));
    try {
      symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'cjs-app', version: '0.0.0', private: true }));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
          include: ['lib'],
        }),
      );
      mkdirSync(join(dir, 'lib'));
      writeFileSync(
        join(dir, 'lib', 'stack.ts'),
        [
          "import { App, Duration, Stack } from 'aws-cdk-lib';",
          "import { BoundedQueueConsumer, FloodgateValidationError, type BoundedQueueConsumerProps } from '@floodgate/cdk';",
          "const props: BoundedQueueConsumerProps = { entry: 'h.ts', fifo: true, provisionedPollerConfig: { maximumPollers: 2 }, timeout: Duration.seconds(10) };",
          "const consumer = new BoundedQueueConsumer(new Stack(new App(), 'S'), 'C', props);",
          'export const cap: number = consumer.settings.maxConcurrency;',
          'export const isTyped = (e: unknown): boolean => e instanceof FloodgateValidationError && e.code.length > 0;',
          '// @ts-expect-error fifo is a boolean',
          "export const bad: BoundedQueueConsumerProps = { fifo: 'yes' };",
        ].join('\n'),
      );
      const r = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('depends on nothing but its peers (aws-cdk-lib ^2, constructs ^10, esbuild optional) and the dependency-free @floodgate/contract', () => {
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['@floodgate/contract']);
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs', 'esbuild']);
    expect(pkg.peerDependencies['aws-cdk-lib']).toMatch(/^\^2\./);
    expect(pkg.peerDependencies.constructs).toMatch(/^\^10\./);
    expect(pkg.peerDependenciesMeta).toEqual({ esbuild: { optional: true } });
    expect(pkg.type).toBe('commonjs');
  });
});
