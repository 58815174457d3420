/**
 * Preloaded into `cdk synth` by @floodgate/local (NODE_OPTIONS=--import, with FLOODGATE_BUNDLE_LOG set)
 * so that `up --watch` can bundle a NodejsFunction again exactly as its construct did. aws-cdk-lib's
 * NodejsFunction runs esbuild locally through child_process.spawnSync with the command line its props
 * give (`esbuild --bundle <entry> --target=... --outfile=<dir>/index.js ...`); this records that command
 * line, its cwd and environment, the bundle's sha256 (to find the asset directory it became) and a
 * metafile (the source files it read, to know what to watch). Nothing else changes: the same call runs,
 * with `--metafile=<outside the asset>` added unless the construct asked for one itself.
 * (Erasable TypeScript only: run from src, Node strips the types.)
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const file = process.env.FLOODGATE_BUNDLE_LOG;
if (file) {
  // The CommonJS module object: the one aws-cdk-lib's require('child_process') returns.
  const cp = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const original = cp.spawnSync;
  let n = 0;
  const isEsbuild = (a: unknown): boolean => /(^|[\\/])esbuild(\.exe|\.cmd)?$/.test(String(a));
  const patched = function spawnSync(this: unknown, command: string, args?: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }) {
    const argv = Array.isArray(args) ? args.map(String) : undefined;
    const bundleAt = argv ? argv.indexOf('--bundle') : -1;
    // eslint-disable-next-line prefer-rest-params
    if (!argv || bundleAt < 0 || !(isEsbuild(command) || argv.slice(0, bundleAt).some(isEsbuild))) return (original as (...a: unknown[]) => unknown).apply(this, [...arguments]);
    const own = argv.find((a) => a.startsWith('--metafile='));
    const metaName = `meta-${process.pid}-${n++}.json`;
    const run = own ? argv : [...argv, `--metafile=${join(dirname(file), metaName)}`];
    const result = original.call(this, command, run, options as never);
    try {
      const outfile = argv.find((a) => a.startsWith('--outfile='))?.slice('--outfile='.length);
      if (result.status === 0 && outfile) {
        const cwd = options?.cwd ?? process.cwd();
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries(options?.env ?? {})) if (v !== undefined && process.env[k] !== v) env[k] = v;
        const out = resolve(cwd, outfile);
        const sha256 = createHash('sha256').update(readFileSync(out)).digest('hex');
        // The construct's own metafile is written next to the bundle, into the asset: recorded relative to it.
        const metafile = own ? { inAsset: relative(dirname(out), resolve(cwd, own.slice('--metafile='.length))) } : { inLog: metaName };
        appendFileSync(file, `${JSON.stringify({ command: String(command), args: argv, cwd, env, outfile, sha256, metafile })}\n`);
      }
    } catch {
      // Recording is best effort: the synth itself must not fail because of it.
    }
    return result;
  };
  cp.spawnSync = patched as typeof cp.spawnSync;
  syncBuiltinESMExports();
}
