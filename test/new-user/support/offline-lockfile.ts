/**
 * A package-lock.json for a new user's project, so that `npm install --offline` installs it from the npm
 * cache that `npm ci` of this repository filled, without any network.
 *
 * Why a lockfile: npm (11.x) resolves every range of a project without a lockfile from the FULL packument
 * of each package, while `npm ci` caches only tarballs and abbreviated packuments; so on a fresh machine an
 * offline install of a lockfile-less project fails with ENOTCACHED. With a complete lockfile npm resolves
 * nothing and only extracts cached tarballs.
 *
 * How: every package the project needs is taken, at the same place in the tree, from this repository's
 * package-lock.json (a valid tree stays valid when cut down to the part reachable from the new root,
 * because Node resolution only walks upwards). The Floodgate packages come from their tarballs instead:
 * their own package.json decides what they pull in, so a dependency they forget to declare shows up as a
 * failed install or a MODULE_NOT_FOUND in the project, as it would for a user.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  inBundle?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

/** A Floodgate tarball copied into the project, referenced from its package.json as `file:<path>`. */
export interface LocalTarball {
  /** Absolute path of the tarball inside the project. */
  readonly file: string;
}

/** Flags npm derives from the root it installs for; the repository's values would be wrong here. */
const DERIVED_FLAGS = ['dev', 'optional', 'devOptional', 'peer', 'extraneous'];

/** Reads package/package.json out of an npm tarball. */
export function tarballManifest(file: string): Manifest {
  return JSON.parse(execFileSync('tar', ['-xOzf', file, 'package/package.json'], { encoding: 'utf8' })) as Manifest;
}

function sri(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** `a/node_modules/b/node_modules/c` -> `a/node_modules/b`; top level and workspaces -> '' (the root). */
function parentOf(path: string): string {
  const i = path.lastIndexOf('/node_modules/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Where Node finds `dep` when required from the package at `from`, in the repository's tree. */
function resolveIn(packages: Record<string, LockEntry>, from: string, dep: string): string | undefined {
  for (let base = from; ; base = parentOf(base)) {
    const candidate = base === '' ? `node_modules/${dep}` : `${base}/node_modules/${dep}`;
    const entry = packages[candidate];
    if (entry !== undefined) return entry.link === true && typeof entry.resolved === 'string' ? entry.resolved : candidate;
    if (base === '') return undefined;
  }
}

/**
 * Writes `<projectDir>/package-lock.json` for the project's package.json. Throws, naming the package and
 * who needs it, when something is not in the repository's lockfile (hence not in the npm cache).
 */
export function writeOfflineLockfile(projectDir: string, repoRoot: string, tarballs: readonly LocalTarball[]): void {
  const repo = (JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const project = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as Manifest;

  // Workspace folder (packages/cdk) -> its tarball, and -> where it lands in the project.
  const byName = new Map(tarballs.map((t) => [tarballManifest(t.file).name, t]));
  const workspaceDest = new Map<string, string>();
  for (const [path, entry] of Object.entries(repo)) {
    if (!path.startsWith('node_modules/') && path !== '' && entry.name !== undefined && byName.has(entry.name)) {
      workspaceDest.set(path, `node_modules/${entry.name}`);
    }
  }
  const destOf = (repoPath: string): string => {
    for (const [ws, dest] of workspaceDest) {
      if (repoPath === ws || repoPath.startsWith(`${ws}/`)) return dest + repoPath.slice(ws.length);
    }
    return repoPath;
  };

  const out: Record<string, LockEntry> = {
    '': {
      name: project.name,
      version: project.version,
      ...(project.dependencies ? { dependencies: project.dependencies } : {}),
      ...(project.devDependencies ? { devDependencies: project.devDependencies } : {}),
    },
  };
  const queue: Array<{ repoPath: string; neededBy: string }> = [];
  const require = (from: string, deps: Record<string, string> | undefined, neededBy: string, optional: boolean, peerMeta?: LockEntry['peerDependenciesMeta']): void => {
    for (const dep of Object.keys(deps ?? {})) {
      if (peerMeta?.[dep]?.optional === true) continue;
      const found = resolveIn(repo, from, dep);
      if (found === undefined) {
        if (optional) continue;
        throw new Error(
          `${dep} (needed by ${neededBy}) is not in the repository's package-lock.json, so \`npm ci\` does not put ` +
            'it in the npm cache: add it to the root devDependencies.',
        );
      }
      queue.push({ repoPath: found, neededBy });
    }
  };

  // The root's dependencies resolve from the repository root; the tarballs replace the workspace links.
  require('', { ...project.dependencies, ...project.devDependencies }, project.name, false);

  const seen = new Set<string>();
  while (queue.length > 0) {
    const { repoPath, neededBy } = queue.shift()!;
    if (seen.has(repoPath)) continue;
    seen.add(repoPath);
    const dest = destOf(repoPath);
    const entry = repo[repoPath]!;
    const name = dest.slice(dest.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const tarball = workspaceDest.has(repoPath) ? byName.get(name) : undefined;
    let lock: LockEntry;
    let manifest: LockEntry;
    if (tarball !== undefined) {
      const m = tarballManifest(tarball.file);
      manifest = m;
      lock = {
        version: m.version,
        resolved: `file:${relative(projectDir, tarball.file)}`,
        integrity: sri(tarball.file),
        ...Object.fromEntries(
          (['license', 'engines', 'bin', 'dependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta'] as const)
            .filter((k) => m[k] !== undefined)
            .map((k) => [k, m[k]]),
        ),
      };
    } else {
      manifest = entry;
      lock = Object.fromEntries(Object.entries(entry).filter(([k]) => !DERIVED_FLAGS.includes(k)));
    }
    out[dest] = lock;
    const who = `${name}@${String(manifest.version)} (needed by ${neededBy})`;
    require(repoPath, manifest.dependencies, who, false);
    require(repoPath, manifest.optionalDependencies, who, true);
    require(repoPath, manifest.peerDependencies, who, false, manifest.peerDependenciesMeta);
  }

  const lockfile = { name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages: out };
  writeFileSync(join(projectDir, 'package-lock.json'), `${JSON.stringify(lockfile, null, 2)}\n`);
}
