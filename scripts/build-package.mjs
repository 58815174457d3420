// The build of every @floodgate/* package: CommonJS and ESM for each entry, from ONE implementation, so
// there is no dual package hazard (one copy of each class, so `instanceof PermanentError` holds whichever
// way the user's code loads us; one copy of any module state).
//
//   node ../../scripts/build-package.mjs --impl cjs --entries index,idempotency/index,...
//     The implementation is CommonJS: tsc writes the declarations (and type-checks), esbuild compiles each
//     source file to CommonJS in dist/ (dist/package.json says "commonjs"); ESM-only dependencies named
//     with --inline (p-limit) are compiled into the file that imports them, so nothing needs require(esm)
//     and jest (which cannot load ESM from node_modules) works. Each entry gets an ESM wrapper,
//     dist/<entry>.mjs + .d.mts, that re-exports the CommonJS module's exports. Bundlers get
//     dist/esm/ (tsc's ES modules) through the "module" condition, to tree-shake.
//
//   node ../../scripts/build-package.mjs --impl esm --entries index,...
//     The implementation is ESM (tsc, as written): for packages whose own dependencies are ESM-only
//     (fauxqs has no "require" export at all). Each entry gets a CommonJS shim, dist/<entry>.cjs + .d.cts,
//     that require()s the ESM module (Node >= 22.12 loads ESM synchronously with require()).
//
//   --tsconfig-extra p.json   a second tsconfig built after the first (its own outDir)
//   --copy src:dest           files copied verbatim after the build (e.g. a runtime .mjs)
//   --chmod file              made executable (a bin)
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = process.cwd();
const argv = process.argv.slice(2);
const opt = (name) => {
  const out = [];
  for (let i = 0; i < argv.length; i++) if (argv[i] === name) out.push(argv[++i]);
  return out;
};
const impl = opt('--impl')[0];
if (impl !== 'cjs' && impl !== 'esm') throw new Error('build-package: --impl cjs|esm');
const entries = opt('--entries').flatMap((e) => e.split(','));
const inline = opt('--inline').flatMap((e) => e.split(','));
const dist = join(pkgDir, 'dist');

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: pkgDir, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-package: ${cmd} ${args.join(' ')} failed`);
    process.exit(1);
  }
}
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

rmSync(dist, { recursive: true, force: true });

if (impl === 'esm') {
  sh(process.execPath, [tsc, '-p', 'tsconfig.json']);
} else {
  // Declarations (and the type check) from tsc; the JavaScript from esbuild.
  sh(process.execPath, [tsc, '-p', 'tsconfig.json', '--emitDeclarationOnly']);
  const esbuild = createRequire(join(repo, 'package.json'))('esbuild');
  const sources = [];
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)) sources.push(p);
    }
  };
  walk(join(pkgDir, 'src'));
  await esbuild.build({
    entryPoints: sources,
    outdir: dist,
    outbase: join(pkgDir, 'src'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node22',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'externals',
        setup(build) {
          // Every import stays an import (relative ones keep their path: one output file per source
          // file), except the ESM-only packages named with --inline.
          build.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            if (args.path.startsWith('.')) return { path: args.path, external: true };
            const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
            const inlined = inline.includes(name) || args.importer.includes(`${'/'}node_modules${'/'}`);
            return inlined ? undefined : { path: args.path, external: true };
          });
        },
      },
    ],
  });
  writeFileSync(join(dist, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  // For bundlers only (the "module" export condition, which esbuild and webpack honour and Node ignores):
  // the same sources as ES modules, so the user's bundle tree-shakes them. A bundle resolves import and
  // require() alike to this one copy, so there is no hazard inside a bundle either.
  sh(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', 'dist/esm', '--declaration', 'false', '--declarationMap', 'false']);
  writeFileSync(join(dist, 'esm', 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
}

for (const extra of opt('--tsconfig-extra')) sh(process.execPath, [tsc, '-p', extra]);
for (const c of opt('--copy')) {
  const [from, to] = c.split(':');
  mkdirSync(dirname(join(pkgDir, to)), { recursive: true });
  copyFileSync(join(pkgDir, from), join(pkgDir, to));
}

// The other format of each entry: a wrapper around the one implementation.
for (const entry of entries) {
  const [file, format] = entry.includes('=') ? entry.split('=') : [entry, impl];
  const base = join(dist, file);
  const name = `./${file.split('/').pop()}.js`;
  if (format === 'cjs') {
    // ESM wrapper: the names are read from the built module itself, so the wrapper cannot miss one.
    const names = JSON.parse(
      spawnSync(process.execPath, ['-e', `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(`${base}.js`)}))))`], {
        cwd: pkgDir,
        encoding: 'utf8',
      }).stdout,
    ).filter((n) => n !== 'default' && n !== '__esModule');
    if (names.length === 0) throw new Error(`build-package: ${base}.js exports nothing`);
    writeFileSync(
      `${base}.mjs`,
      `// ESM entry: the CommonJS implementation's own exports (one copy of every class and of all state).\n` +
        `import cjs from ${JSON.stringify(name)};\n` +
        `export const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`,
    );
    writeFileSync(`${base}.d.mts`, `export * from ${JSON.stringify(name)};\n`);
  } else {
    writeFileSync(`${base}.cjs`, `// CommonJS entry: require() of the ESM implementation (Node >= 22.12).\n'use strict';\nmodule.exports = require(${JSON.stringify(name)});\n`);
    writeFileSync(`${base}.d.cts`, `export * from ${JSON.stringify(name)};\n`);
  }
}
for (const f of opt('--chmod')) chmodSync(join(pkgDir, f), 0o755);

