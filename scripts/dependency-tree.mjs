// What `npm i <package>` alone installs, read from this repository's package-lock.json: the package's
// dependencies, optionalDependencies and non-optional peerDependencies (npm 7+ installs those), and theirs,
// resolved the way Node resolves them in the locked tree. Used by the license and install-script checks
// (test/packaging/packages.test.ts):
//   node scripts/dependency-tree.mjs packages/local     prints name@version license [install-script]
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parentOf(path) {
  const i = path.lastIndexOf('/node_modules/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Where Node finds `dep` required from the lock entry at `from`. */
function resolveIn(packages, from, dep) {
  for (let base = from; ; base = parentOf(base)) {
    const candidate = base === '' ? `node_modules/${dep}` : `${base}/node_modules/${dep}`;
    const entry = packages[candidate];
    if (entry !== undefined) return entry.link === true ? entry.resolved : candidate;
    if (base === '') return undefined;
  }
}

/**
 * The packages `npm i` of `manifest` (a package.json object, placed at lock path `at`) installs:
 * [{ path, name, version, license, hasInstallScript }]. A missing optional dependency is skipped.
 */
export function defaultTree(manifest, at, lockFile = join(ROOT, 'package-lock.json')) {
  const packages = JSON.parse(readFileSync(lockFile, 'utf8')).packages;
  const seen = new Map();
  const visit = (from, entry) => {
    const optionalPeers = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    const deps = [
      ...Object.keys(entry.dependencies ?? {}).map((n) => [n, false]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((n) => [n, true]),
      ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n)).map((n) => [n, false]),
    ];
    for (const [name, optional] of deps) {
      const path = resolveIn(packages, from, name);
      if (path === undefined) {
        if (optional) continue;
        throw new Error(`${name} (needed by ${from || 'the root'}) is not in package-lock.json`);
      }
      if (seen.has(path)) continue;
      const e = packages[path];
      seen.set(path, { path, name, version: e.version, license: e.license ?? 'UNKNOWN', hasInstallScript: e.hasInstallScript === true });
      visit(path, e);
    }
  };
  visit(at, manifest);
  return [...seen.values()];
}

/**
 * Whether a license expression binds the user to GPL or AGPL (any version; LGPL is not matched). An SPDX
 * `A OR B` lets the user choose, so it binds only when every alternative does (`(MIT OR GPL-3.0)` does not).
 */
export function isCopyleft(license) {
  const alternatives = String(license).replace(/[()]/g, '').split(/\s+OR\s+/i);
  return alternatives.every((a) => /(^|[^L])GPL/i.test(a));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/dependency-tree.mjs <workspace folder>');
    process.exit(2);
  }
  const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'));
  for (const p of defaultTree(manifest, dir)) console.log(`${p.name}@${p.version} ${p.license}${p.hasInstallScript ? ' [install-script]' : ''}`);
}
