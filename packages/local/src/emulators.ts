/**
 * Real-protocol AWS emulators on loopback, with no Docker: fauxqs (SQS, SNS and S3, in-process) and
 * DynamoDB Local (AWS's own jar, run by the Java from the machine). Used by `npm start`, the vitest global
 * setup, the chaos run and the benchmarks.
 *
 * Both listen on 127.0.0.1 only: the one endpoint (the gateway, which checks SigV4 and IAM) is the only
 * way in. Neither can be told its address: fauxqs's startFauxqs listens on 0.0.0.0 whatever its `host`
 * option says (fauxqs 2.4), and only startFauxqs wires its SQLite persistence (`--data-dir`), so its
 * listen is redirected to loopback while it starts (listenOnLoopback); DynamoDB Local has
 * no host option at all (Jetty's Server(port) binds every interface), so a small launcher
 * (src/java/FloodgateDynamoDbLocal.java, built into dist/java) creates its server with its own parser and
 * sets the connector's host before start.
 *
 * The java child is started behind a tiny shell watchdog that reads our stdin pipe: when this process
 * dies for any reason (SIGKILL included) the pipe closes, the watchdog sees EOF and kills java. That is
 * the only way to guarantee no orphaned JVM that does not rely on our exit handlers running.
 */
import { mkdirSync } from 'node:fs';
import { createServer, Server, type ListenOptions } from 'node:net';
import { join, resolve } from 'node:path';
import { startFauxqs } from 'fauxqs';
import { LOOPBACK_HOST, spawnDynamoDbLocal, takePrestartedDynamoDbLocal, waitForDynamoDbListening } from './dynamodb-local.js';
import { startGateway, type Gateway } from './gateway/server.js';
import { checkPrerequisites } from './prerequisites.js';
import { LOCAL_REGION } from './core/identity.js';
import { singleEndpoint, type LocalEndpoints } from './core/endpoints.js';

export { DYNAMODB_LOCAL_JVM_OPTIONS, LOOPBACK_HOST, dynamoDbLocalLauncherJar, prestartDynamoDbLocal, spawnDynamoDbLocal, waitForDynamoDbListening } from './dynamodb-local.js';

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
  /**
   * Keep the emulators' state here across a stop and a start: fauxqs's SQLite (queues with their
   * messages, topics, buckets with their objects) in DIR/fauxqs, DynamoDB Local's tables in DIR/dynamodb.
   * @default in memory
   */
  readonly dataDir?: string;
}

/** Where each emulator keeps its state under a data directory. */
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

/**
 * Runs `start` with every listen on a wildcard address (0.0.0.0, ::) moved to loopback. fauxqs's
 * startFauxqs listens on 0.0.0.0 whatever its `host` option says (its buildApp could be listened on
 * loopback, but persistence is wired only by startFauxqs). Only the wildcard is rewritten, and only while
 * fauxqs starts; nothing of ours listens off loopback anyway.
 */
async function listenOnLoopback<T>(start: () => Promise<T>): Promise<T> {
  const original = Server.prototype.listen;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const first = args[0] as ListenOptions | undefined;
    if (first !== null && typeof first === 'object' && (first.host === '0.0.0.0' || first.host === '::')) args[0] = { ...first, host: LOOPBACK_HOST };
    return (original as (...a: unknown[]) => Server).apply(this, args);
  } as typeof original;
  try {
    return await start();
  } finally {
    Server.prototype.listen = original;
  }
}

/** fauxqs in this process, on a free loopback port; with `dataDir`, its state in SQLite there. */
export async function startFauxqsOnLoopback(dataDir?: string): Promise<EmbeddedFauxqs> {
  // `host` is the host of the queue URLs fauxqs writes.
  const server = await listenOnLoopback(() => startFauxqs({ port: 0, logger: false, host: LOOPBACK_HOST, defaultRegion: LOCAL_REGION, ...(dataDir !== undefined ? { dataDir } : {}) }));
  return { port: server.port, address: `http://${LOOPBACK_HOST}:${server.port}`, stop: () => server.stop() };
}

/** Starts fauxqs and DynamoDB Local on free loopback ports. */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<RunningEmulators> {
  const { startTimeoutMs = 60_000, handleSignals = true } = options;
  // Fails fast, saying what to install, before a JVM that cannot start is waited for.
  checkPrerequisites();
  const dirs = options.dataDir !== undefined ? emulatorDataDirs(resolve(options.dataDir)) : undefined;
  if (dirs) for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  // `floodgate-local up` may have started it already, before loading the rest of the CLI (cli.ts); it
  // does not with --data-dir (that JVM keeps its tables in memory).
  const ddb = (dirs ? undefined : takePrestartedDynamoDbLocal()) ?? spawnDynamoDbLocal(0, dirs?.dynamodb);
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
  const fqStart = startFauxqsOnLoopback(dirs?.fauxqs).then((f) => (fauxqs = f));
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
