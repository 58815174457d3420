/**
 * The shared names are defined once, in @floodgate/contract: no other source file of the packages, the
 * reference app or the local runner spells them out, and the packages export the very same objects.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ARCH_CONTEXT, CONSUMER_ENV, MAX_BATCH_SIZE, TABLE_ATTRIBUTES } from '@floodgate/contract';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCE_DIRS = ['packages/cdk/src', 'packages/runtime/src', 'packages/local/src', 'packages/postgres/src', 'lambda', 'lib', 'local', 'bin'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|js|mjs)$/.test(f)) out.push(p);
  }
  return out;
}

describe('@floodgate/contract', () => {
  it('is the only source that spells out the context key, the consumer environment names and the table attributes', () => {
    const literals = [`'${ARCH_CONTEXT}'`, ...Object.values(CONSUMER_ENV).map((v) => `'${v}'`), `'${TABLE_ATTRIBUTES.locks.partitionKey}'`];
    const offenders: string[] = [];
    for (const dir of SOURCE_DIRS) {
      for (const file of sources(join(ROOT, dir))) {
        const text = readFileSync(file, 'utf8');
        for (const l of literals) if (text.includes(l)) offenders.push(`${relative(ROOT, file)}: ${l}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('is what the packages export, the same objects whether loaded with import or require (plain Node, as a user runs it)', () => {
    // A child Node: vitest's own module runner is not what users run.
    const script = `
      import { createRequire } from 'node:module';
      import * as contract from '@floodgate/contract';
      import * as cdk from '@floodgate/cdk';
      import * as runtime from '@floodgate/runtime';
      import * as local from '@floodgate/local';
      const require = createRequire(import.meta.url);
      const cjs = require('@floodgate/contract');
      console.log(JSON.stringify({
        requireIsImport: cjs.CONSUMER_ENV === contract.CONSUMER_ENV,
        cdkEnv: cdk.CONSUMER_ENV === contract.CONSUMER_ENV,
        runtimeEnv: runtime.CONSUMER_ENV === contract.CONSUMER_ENV,
        runtimeRequired: require('@floodgate/runtime').CONSUMER_ENV === contract.CONSUMER_ENV,
        tables: cdk.TABLE_ATTRIBUTES === contract.TABLE_ATTRIBUTES,
        cdkArch: cdk.ARCH_CONTEXT === contract.ARCH_CONTEXT,
        localArch: local.ARCH_CONTEXT === contract.ARCH_CONTEXT,
      }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ requireIsImport: true, cdkEnv: true, runtimeEnv: true, runtimeRequired: true, tables: true, cdkArch: true, localArch: true });
    expect(CONSUMER_ENV.ioConcurrency).toBe('FLOODGATE_IO_CONCURRENCY');
    expect(MAX_BATCH_SIZE).toBe(10_000);
  });
});
