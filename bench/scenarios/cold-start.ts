/**
 * `coldStart`: what a new execution environment pays before the first record. Bundle size is every file
 * of the function's asset outside node_modules (the esbuild output plus bundled assets such as fonts;
 * node_modules holds sharp, the same for both). Init time is measured the way Lambda's Init Duration starts: a fresh Node
 * process imports the bundle; we time the dynamic import from inside, N times, and take the median, so
 * process start-up (identical for both) is not counted.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ColdStartSide } from '../result';
import { median } from '../stats';

export interface BundleSizes {
  /** Bytes of the handler bundle (files outside node_modules). */
  readonly bundleBytes: number;
  /** Bytes of the whole asset, node_modules included. */
  readonly assetBytes: number;
}

function dirBytes(dir: string, skipNodeModules: boolean): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (skipNodeModules && e.name === 'node_modules') continue;
      total += dirBytes(p, skipNodeModules);
    } else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

export function bundleSizes(assetDir: string): BundleSizes {
  return { bundleBytes: dirBytes(assetDir, true), assetBytes: dirBytes(assetDir, false) };
}

/** The module file of a `file.export` handler string inside an asset dir. */
export function handlerModule(assetDir: string, handler: string): string {
  const base = handler.slice(0, handler.lastIndexOf('.'));
  for (const ext of ['.mjs', '.js', '.cjs']) {
    const p = join(assetDir, base + ext);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // try the next extension
    }
  }
  throw new Error(`no module for handler ${handler} in ${assetDir}`);
}

/** One fresh process: time `import(bundle)` (module evaluation, top-level awaits included). */
export async function measureImportMs(modulePath: string, env: Record<string, string>): Promise<number> {
  const url = pathToFileURL(modulePath).href;
  const script =
    `const t0 = performance.now(); const m = await import(${JSON.stringify(url)});` +
    `if (typeof m.handler !== 'function') throw new Error('no handler export');` +
    `process.stdout.write('INIT_MS ' + (performance.now() - t0) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-3000)));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const m = /INIT_MS ([\d.]+)/.exec(out);
  if (code !== 0 || !m) throw new Error(`importing ${modulePath} failed (exit ${code}): ${err.trim().split('\n').slice(-4).join(' | ')}`);
  return Number(m[1]);
}

export interface ColdStartTarget {
  readonly assetDir: string;
  readonly handler: string;
  readonly env: Record<string, string>;
}

/**
 * Both sides measured in alternation (A, B, A, B, ...) so that a change in machine load during the run
 * hits both equally instead of biasing whichever side ran second.
 */
export async function measureColdStartPair(a: ColdStartTarget | Error, b: ColdStartTarget | Error, samples: number): Promise<[ColdStartSide, ColdStartSide]> {
  const prepare = (t: ColdStartTarget | Error) => {
    if (t instanceof Error) return { error: t.message };
    try {
      return { bundleBytes: bundleSizes(t.assetDir).bundleBytes, mod: handlerModule(t.assetDir, t.handler), env: t.env, samples: [] as number[] };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  const sides = [prepare(a), prepare(b)];
  for (let i = 0; i < samples; i++) {
    for (const s of sides) {
      if ('error' in s) continue;
      try {
        s.samples.push(await measureImportMs(s.mod, s.env));
      } catch (err) {
        Object.assign(s, { error: (err as Error).message });
      }
    }
  }
  const result = (s: (typeof sides)[number]): ColdStartSide =>
    'error' in s && s.error !== undefined
      ? { bundleBytes: null, initMsMedian: null, initMsSamples: [], error: s.error }
      : { bundleBytes: (s as { bundleBytes: number }).bundleBytes, initMsMedian: median((s as { samples: number[] }).samples), initMsSamples: (s as { samples: number[] }).samples };
  return [result(sides[0]!), result(sides[1]!)];
}
