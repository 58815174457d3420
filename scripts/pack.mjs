// `npm run pack`: builds the packages, then writes one npm tarball per published package into dist/packages/
// (what `npm publish` would upload) and prints their paths, one per line.
//   --no-build   skip the build (the new-user test passes it: `pretest` has just built, and rebuilding
//                dist/ while other test files import it would race)
//   --json       print a JSON array of { name, version, path, files } instead of the paths
//   --out DIR    write the tarballs into DIR instead of dist/packages/ (test files that pack side by
//                side each use their own: one emptying dist/packages/ would pull another's tarballs away)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const outAt = argv.indexOf('--out');
const outDir = outAt >= 0 ? argv[outAt + 1] : undefined;
if (outAt >= 0 && (outDir === undefined || outDir.startsWith('--'))) {
  console.error('pack: --out needs a directory');
  process.exit(2);
}
const args = new Set(outAt >= 0 ? [...argv.slice(0, outAt), ...argv.slice(outAt + 2)] : argv);
const unknown = [...args].filter((a) => a !== '--no-build' && a !== '--json');
if (unknown.length > 0) {
  console.error(`pack: unknown argument(s) ${unknown.join(' ')}; usage: npm run pack [-- --no-build] [-- --json] [-- --out DIR]`);
  process.exit(2);
}

/** Runs npm (the one running this script when there is one) and returns stdout; exits on failure. */
function npm(npmArgs, { capture }) {
  const execPath = process.env.npm_execpath;
  const [cmd, argv] = execPath && execPath.endsWith('.js') ? [process.execPath, [execPath, ...npmArgs]] : ['npm', npmArgs];
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`pack: npm ${npmArgs.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
  return r.stdout ?? '';
}

const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const destination = outDir !== undefined ? resolve(outDir) : join(root, 'dist', 'packages');

// Each package's build starts from an empty dist/, so no output of a removed source file ships.
if (!args.has('--no-build')) npm(['run', 'build', '--silent'], { capture: false });

// Old tarballs of other versions would otherwise be installed by a glob over the folder.
rmSync(destination, { recursive: true, force: true });
mkdirSync(destination, { recursive: true });

const packed = [];
for (const ws of workspaces) {
  // Private workspaces (the examples) are not published.
  if (JSON.parse(readFileSync(join(root, ws, 'package.json'), 'utf8')).private === true) continue;
  const out = npm(['pack', '--json', '--pack-destination', destination, '--workspace', ws], { capture: true });
  for (const entry of JSON.parse(out)) {
    packed.push({
      name: entry.name,
      version: entry.version,
      path: join(destination, entry.filename),
      files: entry.files.map((f) => f.path).sort(),
    });
  }
}

if (args.has('--json')) console.log(JSON.stringify(packed, null, 2));
else for (const p of packed) console.log(p.path);
