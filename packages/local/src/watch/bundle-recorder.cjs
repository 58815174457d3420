'use strict';
/**
 * Preloaded into `cdk synth` by @floodgate/local (NODE_OPTIONS=--require, with FLOODGATE_BUNDLE_LOG set)
 * so that `up --watch` can bundle a NodejsFunction again exactly as its construct did. aws-cdk-lib's
 * NodejsFunction runs esbuild locally through child_process.spawnSync with the command line its props
 * give (`esbuild --bundle <entry> --target=... --outfile=<dir>/index.js ...`); this records that command
 * line, its cwd and environment, the bundle's sha256 (to find the asset directory it became) and a
 * metafile (the source files it read, to know what to watch). Nothing else is changed: the same call
 * runs, with `--metafile=<outside the asset>` added unless the construct asked for one itself.
 */
const file = process.env.FLOODGATE_BUNDLE_LOG;
if (file) {
  const cp = require('node:child_process');
  const fs = require('node:fs');
  const path = require('node:path');
  const crypto = require('node:crypto');
  const original = cp.spawnSync;
  let n = 0;
  const isEsbuild = (a) => /(^|[\\/])esbuild(\.exe|\.cmd)?$/.test(String(a));
  cp.spawnSync = function spawnSync(command, args, options) {
    const argv = Array.isArray(args) ? args.map(String) : undefined;
    const bundleAt = argv ? argv.indexOf('--bundle') : -1;
    if (!argv || bundleAt < 0 || !(isEsbuild(command) || argv.slice(0, bundleAt).some(isEsbuild))) return original.apply(this, arguments);
    const own = argv.find((a) => a.startsWith('--metafile='));
    const metaName = `meta-${process.pid}-${n++}.json`;
    const run = own ? argv : [...argv, `--metafile=${path.join(path.dirname(file), metaName)}`];
    const result = original.call(this, command, run, options);
    try {
      const outfile = argv.find((a) => a.startsWith('--outfile='))?.slice('--outfile='.length);
      if (result.status === 0 && outfile) {
        const cwd = (options && options.cwd) || process.cwd();
        const env = {};
        for (const [k, v] of Object.entries((options && options.env) || {})) if (process.env[k] !== v) env[k] = v;
        const sha256 = crypto.createHash('sha256').update(fs.readFileSync(path.resolve(cwd, outfile))).digest('hex');
        // The construct's own metafile is written next to the bundle, into the asset: recorded relative to it.
        const metafile = own ? { inAsset: path.relative(path.dirname(path.resolve(cwd, outfile)), path.resolve(cwd, own.slice('--metafile='.length))) } : { inLog: metaName };
        const record = { command: String(command), args: argv, cwd, env, outfile, sha256, metafile };
        fs.appendFileSync(file, `${JSON.stringify(record)}\n`);
      }
    } catch {
      // Recording is best effort: the synth itself must not fail because of it.
    }
    return result;
  };
}
