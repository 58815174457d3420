/**
 * What a new user does, scripted: make a project outside this repository, add the packed tarballs, install
 * offline from the npm cache, run the project's own commands. Every command runs in a clean environment:
 * no variable of this repository's npm/vitest run, no node_modules/.bin of the repository on PATH, only a
 * Node >= 22 (the one running this test) first on PATH, as a user's shell would have.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOfflineLockfile } from './offline-lockfile.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const EXAMPLES_DIR = join(REPO_ROOT, 'examples');

/** Variables a user's shell has that matter here; everything else of this run is dropped. */
const KEPT_ENV = ['HOME', 'USER', 'LANG', 'LC_ALL', 'TERM', 'TMPDIR', 'JAVA_HOME', 'CI', 'npm_config_cache', 'PYENV_ROOT', 'PYENV_VERSION'];

/** A folder under os.tmpdir() (outside the repository) with `node` -> the Node running this test. */
export function makeSandbox(prefix: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const bin = join(dir, '.node-bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p !== '' && !p.startsWith(REPO_ROOT) && !p.includes(`node_modules${'/'}.bin`) && !p.includes('node-gyp-bin'));
  const env: NodeJS.ProcessEnv = { PATH: [bin, ...path].join(delimiter) };
  for (const key of KEPT_ENV) if (process.env[key] !== undefined) env[key] = process.env[key];
  // The CDK CLI would otherwise ask the network for notices and newer versions.
  env.CDK_DISABLE_VERSION_CHECK = 'true';
  env.CDK_DISABLE_CLI_TELEMETRY = 'true';
  env.npm_config_update_notifier = 'false';
  // Plain output to assert on.
  env.NO_COLOR = '1';
  return { dir, env };
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; rejects with its exit code and the tail of its output. */
export function run(cmd: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 240_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const tail = (s: string) => s.split('\n').slice(-40).join('\n');
          reject(new Error(`\`${cmd} ${args.join(' ')}\` in ${options.cwd} failed (${error.code ?? error.signal ?? error.message}):\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`));
        } else resolvePromise({ stdout, stderr });
      },
    );
  });
}

/** The tarballs `npm run pack` wrote, from its --json output. */
export interface PackedPackage {
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly files: readonly string[];
}

/** `ownFolder: false`: into dist/packages/, as `npm run pack` does for a user (one test file checks that). */
export async function packPackages(env: NodeJS.ProcessEnv, { ownFolder = true }: { ownFolder?: boolean } = {}): Promise<PackedPackage[]> {
  // --no-build: `pretest` has just built dist/, and rebuilding it while other test files import it would race.
  // A folder of its own: test files pack side by side, and pack empties its destination first.
  const out = ownFolder ? ['--out', mkdtempSync(join(tmpdir(), 'floodgate-packs-'))] : [];
  const { stdout } = await run('npm', ['run', 'pack', '--silent', '--', '--no-build', '--json', ...out], { cwd: REPO_ROOT, env });
  return JSON.parse(stdout) as PackedPackage[];
}

/** Copies every file under `from` into `to`, overwriting (the example's files replace the template's). */
export function copyTree(from: string, to: string): void {
  for (const entry of readdirSync(from)) {
    const src = join(from, entry);
    const dst = join(to, entry);
    if (statSync(src).isDirectory()) {
      mkdirSync(dst, { recursive: true });
      copyTree(src, dst);
    } else copyFileSync(src, dst);
  }
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** The version of a package in this repository's lockfile (what `npm ci` put in the npm cache). */
export function lockedVersion(name: string): string {
  const lock = readJson<{ packages: Record<string, { version?: string }> }>(join(REPO_ROOT, 'package-lock.json'));
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (version === undefined) throw new Error(`${name} is not in package-lock.json: add it to the root devDependencies`);
  return version;
}

/**
 * What `npm install ./floodgate-*.tgz <deps>` and `npm install -D <devDeps>` do to a project, offline:
 * the tarballs are copied into vendor/, package.json gains the dependencies (with the ranges npm would
 * write), and npm installs from the cache only (see offline-lockfile.ts for the lockfile).
 */
export async function installIntoProject(
  projectDir: string,
  env: NodeJS.ProcessEnv,
  packages: readonly PackedPackage[],
  add: { dependencies?: readonly string[]; devDependencies?: readonly string[] },
): Promise<void> {
  const vendor = join(projectDir, 'vendor');
  mkdirSync(vendor, { recursive: true });
  const pkgFile = join(projectDir, 'package.json');
  const pkg = readJson<{ name: string; version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>(pkgFile);
  pkg.dependencies = { ...pkg.dependencies };
  pkg.devDependencies = { ...pkg.devDependencies };
  const tarballs = packages.map((p) => {
    const file = join(vendor, basename(p.path));
    copyFileSync(p.path, file);
    pkg.dependencies![p.name] = `file:vendor/${basename(p.path)}`;
    return { file };
  });
  for (const name of add.dependencies ?? []) pkg.dependencies[name] = `^${lockedVersion(name)}`;
  for (const name of add.devDependencies ?? []) pkg.devDependencies[name] = `^${lockedVersion(name)}`;
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  writeOfflineLockfile(projectDir, REPO_ROOT, tarballs);
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: projectDir, env });
  // Exits non-zero on a missing, invalid or extraneous package anywhere in the tree.
  await run('npm', ['ls', '--all'], { cwd: projectDir, env });
}

export interface LongRunning {
  readonly child: ChildProcess;
  /** Resolves with the first stdout line matching `pattern` (rejects if the process exits first). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  output(): string;
  /** Sends `signal` and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a command that keeps running (the local stack with --keep). */
export function start(cmd: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): LongRunning {
  const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          for (const line of out.split('\n')) {
            const m = line.match(pattern);
            if (m) {
              cleanup();
              resolvePromise(m);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output so far:\n${out}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then((code) => {
          if (!listeners.has(check)) return;
          cleanup();
          reject(new Error(`\`${cmd} ${args.join(' ')}\` exited (${code}) before printing ${pattern}:\n${out}`));
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
