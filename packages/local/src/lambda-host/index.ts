/**
 * A local Lambda function: a pool of execution environments, each its own CHILD PROCESS running the
 * bundled handler on Node 24, reused warm. A child process (not a worker thread) so that a crash,
 * `process.exit` or a runaway invocation is isolated, can be killed at the function's Timeout, and has
 * its own measurable RSS (VmHWM), as a Lambda execution environment would.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { endpointEnv, type LocalEndpoints } from '../core/endpoints.js';
import { LOCAL_REGION } from '../core/identity.js';

const RUNTIME = fileURLToPath(new URL('./runtime.mjs', import.meta.url));
/** Where the project's AWS SDK is resolved from (the repository root). */
const SDK_FROM_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface FunctionHostOptions {
  /** The function's (deployed) name: AWS_LAMBDA_FUNCTION_NAME and context.functionName. */
  readonly functionName: string;
  /** Directory of the bundled asset (the Lambda task root). */
  readonly assetDir: string;
  /** `<file>.<export>`, e.g. `index.handler`. */
  readonly handler: string;
  /** The function's Environment.Variables, already resolved. */
  readonly environment?: Record<string, string>;
  /** Invocations running longer are killed and their environment replaced. @default 3 */
  readonly timeoutSeconds?: number;
  /** AWS_LAMBDA_FUNCTION_MEMORY_SIZE and the V8 heap cap. @default 128 */
  readonly memoryMb?: number;
  /** Most execution environments alive at once (invocations beyond it wait). @default 10 */
  readonly maxEnvironments?: number;
  /** Emulator endpoints the SDK inside the function is pointed at. */
  readonly endpoints?: LocalEndpoints;
  /** Called for every line an environment writes to stdout or stderr. */
  readonly onLog?: (entry: LogEntry) => void;
  /** Account id used in ARNs. @default '000000000000' */
  readonly accountId?: string;
  /**
   * Let `@aws-sdk/*` imports the bundle left external resolve to the project's SDK, as Lambda's
   * runtime provides one. @default true
   */
  readonly provideAwsSdk?: boolean;
  /**
   * Kill an environment whose resident memory passes `memoryMb` during an invocation, as Lambda does
   * (the V8 heap cap alone misses native memory such as sharp's buffers). Checked every 100 ms.
   * @default true
   */
  readonly enforceMemoryLimit?: boolean;
  /**
   * Extra Node/V8 flags for every environment (after the heap cap), e.g. `--max-semi-space-size=1` to
   * make many small environments cheaper (bench/lambda-environments.ts measures them). @default []
   */
  readonly execArgv?: readonly string[];
}

/** Current resident set size of a live process in KiB (VmRSS), 0 where /proc is not available. */
export function readRssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface LogEntry {
  readonly functionName: string;
  readonly environmentId: number;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  /** The parsed line when it is a JSON object (structured logs). */
  readonly json?: Record<string, unknown>;
  readonly time: number;
}

export type InvokeFailureKind = 'handler' | 'timeout' | 'crash' | 'oom' | 'init';

export interface InvokeError {
  readonly kind: InvokeFailureKind;
  readonly errorType: string;
  readonly errorMessage: string;
}

interface InvokeCommon {
  readonly requestId: string;
  readonly environmentId: number;
  readonly durationMs: number;
  /** Set on the invocation that paid a cold start. */
  readonly initDurationMs?: number;
}
export type InvokeResult =
  | (InvokeCommon & { readonly ok: true; readonly value: unknown })
  | (InvokeCommon & { readonly ok: false; readonly error: InvokeError });

export interface EnvironmentStats {
  readonly id: number;
  readonly pid: number;
  readonly invocations: number;
  /** Highest resident set size seen for this process (VmHWM), in KiB; 0 if never read. */
  readonly peakRssKb: number;
  readonly alive: boolean;
  readonly endedBy?: 'timeout' | 'crash' | 'oom' | 'init' | 'stop';
}

export interface FunctionHostStats {
  readonly functionName: string;
  readonly invocations: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly crashes: number;
  /** Invocations whose environment passed memoryMb and was killed. */
  readonly outOfMemory: number;
  readonly coldStarts: number;
  readonly durationsMs: readonly number[];
  readonly initDurationsMs: readonly number[];
  readonly environments: readonly EnvironmentStats[];
  /** Highest VmHWM over all environments, KiB. */
  readonly maxPeakRssKb: number;
}

export interface FunctionHost {
  /** `requestId`: the invocation's id (context.awsRequestId); an asynchronous event keeps its own over retries. */
  invoke(event: unknown, options?: { readonly requestId?: string }): Promise<InvokeResult>;
  stats(): FunctionHostStats;
  /** Subscribe to log lines; returns the unsubscribe function. */
  onLog(listener: (entry: LogEntry) => void): () => void;
  /** Kills every environment; pending and running invocations fail. */
  stop(): Promise<void>;
}

interface Env {
  readonly id: number;
  readonly child: ChildProcess;
  readonly ready: Promise<{ initDurationMs: number }>;
  busy: boolean;
  dead: boolean;
  endedBy?: EnvironmentStats['endedBy'];
  invocations: number;
  peakRssKb: number;
  coldPending: boolean;
  current?: { id: string; settle: (r: { ok: boolean; value?: unknown; error?: InvokeError }) => void };
}

/** VmHWM (peak RSS) of a live process in KiB, from /proc; 0 where /proc is not available. */
export function readPeakRssKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * The flags the Lambda Node.js runtime starts node with, sized from the function's memory, so GC work
 * (scavenges of the young generation, old-space limit) costs locally what it costs on Lambda. From the
 * runtime's `/var/runtime/bootstrap` in AWS's Node.js base images (public.ecr.aws/lambda/nodejs), as
 * reproduced in public copies of that script: new space = memory / 10, semi space = new space / 2,
 * old space = memory - new space (MB), plus --expose-gc and --max-http-header-size 81920.
 */
export function lambdaNodeFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return ['--expose-gc', '--max-http-header-size=81920', `--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}

export function createFunctionHost(options: FunctionHostOptions): FunctionHost {
  const {
    functionName,
    assetDir,
    handler,
    environment = {},
    timeoutSeconds = 3,
    memoryMb = 128,
    maxEnvironments = 10,
    endpoints,
    accountId = '000000000000',
    provideAwsSdk = true,
    enforceMemoryLimit = true,
  } = options;
  if (maxEnvironments < 1) throw new Error(`maxEnvironments must be >= 1 (got ${maxEnvironments})`);
  const region = endpoints?.region ?? LOCAL_REGION;
  const functionArn = `arn:aws:lambda:${region}:${accountId}:function:${functionName}`;
  const listeners = new Set<(e: LogEntry) => void>();
  if (options.onLog) listeners.add(options.onLog);

  const envs: Env[] = [];
  const waiters: Array<{ resolve: (env: Env) => void; reject: (err: Error) => void }> = [];
  let nextId = 1;
  let stopped = false;
  const counters = { invocations: 0, errors: 0, timeouts: 0, crashes: 0, outOfMemory: 0, coldStarts: 0 };
  const durations: number[] = [];
  const initDurations: number[] = [];

  const childEnv = (): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    ...(endpoints ? endpointEnv(endpoints) : { AWS_REGION: region, AWS_DEFAULT_REGION: region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }),
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: assetDir,
    ...environment,
  });

  const emitLine = (env: Env, stream: 'stdout' | 'stderr', line: string): void => {
    if (listeners.size === 0) return;
    let json: Record<string, unknown> | undefined;
    if (line.startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
      } catch {
        // not JSON: passed on as a plain line
      }
    }
    const entry: LogEntry = { functionName, environmentId: env.id, stream, line, time: Date.now(), ...(json ? { json } : {}) };
    for (const l of listeners) l(entry);
  };

  const spawnEnv = (): Env => {
    const child = fork(RUNTIME, [], {
      cwd: assetDir,
      env: childEnv(),
      execPath: process.execPath,
      execArgv: [...lambdaNodeFlags(memoryMb), ...(options.execArgv ?? [])],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let resolveReady!: (v: { initDurationMs: number }) => void;
    let rejectReady!: (e: InvokeError) => void;
    const ready = new Promise<{ initDurationMs: number }>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    ready.catch(() => undefined);
    const env: Env = { id: nextId++, child, ready, busy: false, dead: false, invocations: 0, peakRssKb: 0, coldPending: true };
    for (const stream of ['stdout', 'stderr'] as const) {
      const src = child[stream];
      if (src) createInterface({ input: src, crlfDelay: Infinity }).on('line', (line) => emitLine(env, stream, line));
    }
    child.on('message', (msg: { type: string; id?: string; ok?: boolean; value?: unknown; undefinedValue?: boolean; error?: { errorType: string; errorMessage: string }; initDurationMs?: number }) => {
      if (msg.type === 'spawned') child.send({ type: 'init', taskRoot: assetDir, handler, sdkFromDir: provideAwsSdk ? SDK_FROM_DIR : undefined });
      else if (msg.type === 'ready') resolveReady({ initDurationMs: msg.initDurationMs ?? 0 });
      else if (msg.type === 'initError') {
        rejectReady({ kind: 'init', errorType: msg.error?.errorType ?? 'Runtime.InitError', errorMessage: msg.error?.errorMessage ?? 'init failed' });
        kill(env, 'init');
      } else if (msg.type === 'result' && env.current && env.current.id === msg.id) {
        env.peakRssKb = Math.max(env.peakRssKb, readPeakRssKb(child.pid ?? -1));
        env.current.settle(
          msg.ok
            ? { ok: true, value: msg.undefinedValue ? undefined : msg.value }
            : { ok: false, error: { kind: 'handler', errorType: msg.error?.errorType ?? 'Error', errorMessage: msg.error?.errorMessage ?? '' } },
        );
      }
    });
    child.on('exit', (code, signal) => {
      const wasDead = env.dead;
      env.dead = true;
      const detail = `environment ${env.id} exited (${signal ?? `code ${code}`})`;
      rejectReady({ kind: 'init', errorType: 'Runtime.ExitError', errorMessage: `${detail} during init` });
      if (env.current) {
        if (!wasDead) counters.crashes++;
        env.endedBy ??= 'crash';
        env.current.settle({ ok: false, error: { kind: 'crash', errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${env.current.id} Error: Runtime exited (${signal ?? `code ${code}`})` } });
      } else env.endedBy ??= stopped ? 'stop' : 'crash';
      remove(env);
    });
    envs.push(env);
    return env;
  };

  const remove = (env: Env): void => {
    const i = envs.indexOf(env);
    if (i >= 0) envs.splice(i, 1);
    retired.push(env);
    // A slot opened: a waiter may now get a fresh environment.
    const w = waiters.shift();
    if (w && !stopped) {
      const fresh = spawnEnv();
      fresh.busy = true;
      w.resolve(fresh);
    }
  };
  const retired: Env[] = [];

  function kill(env: Env, why: NonNullable<EnvironmentStats['endedBy']>): void {
    if (env.dead) return;
    env.peakRssKb = Math.max(env.peakRssKb, readPeakRssKb(env.child.pid ?? -1));
    env.endedBy = why;
    env.dead = true;
    env.child.kill('SIGKILL');
  }

  const acquire = (): Promise<Env> => {
    const idle = envs.find((e) => !e.busy && !e.dead);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    if (envs.length < maxEnvironments) {
      const env = spawnEnv();
      env.busy = true;
      return Promise.resolve(env);
    }
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  };

  const release = (env: Env): void => {
    env.busy = false;
    if (env.dead) return;
    const w = waiters.shift();
    if (w) {
      env.busy = true;
      w.resolve(env);
    }
  };

  const invoke = async (event: unknown, opts: { readonly requestId?: string } = {}): Promise<InvokeResult> => {
    if (stopped) throw new Error(`function host ${functionName} is stopped`);
    const requestId = opts.requestId ?? randomUUID();
    const env = await acquire();
    counters.invocations++;
    const started = performance.now();
    let initDurationMs: number | undefined;
    const common = (): InvokeCommon => ({
      requestId,
      environmentId: env.id,
      durationMs: performance.now() - started - (initDurationMs ?? 0),
      ...(initDurationMs !== undefined ? { initDurationMs } : {}),
    });
    // Lambda counts init separately, with its own 10 s limit; then the invocation gets its full Timeout.
    try {
      const { initDurationMs: init } = await withTimeout(env.ready, 10_000 + timeoutSeconds * 1000);
      if (env.coldPending) {
        env.coldPending = false;
        initDurationMs = init;
        counters.coldStarts++;
        initDurations.push(init);
      }
    } catch (err) {
      counters.errors++;
      kill(env, 'init');
      release(env);
      const e = isInvokeError(err) ? err : { kind: 'init' as const, errorType: 'Runtime.InitTimeout', errorMessage: 'init did not finish' };
      return { ok: false, error: e, ...common() };
    }
    // Only now: the Timeout (the kill timer and the context's deadline) does not include init.
    const deadlineMs = Date.now() + timeoutSeconds * 1000;
    const invokeStarted = performance.now();
    env.invocations++;
    const outcome = await new Promise<{ ok: boolean; value?: unknown; error?: InvokeError }>((resolve) => {
      const timer = setTimeout(() => {
        counters.timeouts++;
        kill(env, 'timeout');
        settle({ ok: false, error: { kind: 'timeout', errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${timeoutSeconds.toFixed(2)} seconds` } });
      }, Math.max(0, deadlineMs - Date.now()));
      const memoryWatch = enforceMemoryLimit
        ? setInterval(() => {
            const rssKb = readRssKb(env.child.pid ?? -1);
            if (rssKb <= memoryMb * 1024) return;
            counters.outOfMemory++;
            kill(env, 'oom');
            env.peakRssKb = Math.max(env.peakRssKb, rssKb);
            settle({ ok: false, error: { kind: 'oom', errorType: 'Runtime.OutOfMemory', errorMessage: `Runtime exited: memory ${Math.round(rssKb / 1024)} MB passed the function's ${memoryMb} MB` } });
          }, 100)
        : undefined;
      const settle = (r: { ok: boolean; value?: unknown; error?: InvokeError }): void => {
        clearTimeout(timer);
        if (memoryWatch) clearInterval(memoryWatch);
        env.current = undefined;
        resolve(r);
      };
      env.current = { id: requestId, settle };
      env.child.send({
        type: 'invoke',
        id: requestId,
        event,
        context: { awsRequestId: requestId, functionName, functionVersion: '$LATEST', memoryLimitInMB: String(memoryMb), invokedFunctionArn: functionArn, logGroupName: `/aws/lambda/${functionName}`, logStreamName: `local/${env.id}`, deadlineMs },
      });
    });
    const durationMs = performance.now() - invokeStarted;
    durations.push(durationMs);
    release(env);
    const base: InvokeCommon = { requestId, environmentId: env.id, durationMs, ...(initDurationMs !== undefined ? { initDurationMs } : {}) };
    if (outcome.ok) return { ok: true, value: outcome.value, ...base };
    counters.errors++;
    return { ok: false, error: outcome.error!, ...base };
  };

  const envStats = (e: Env): EnvironmentStats => ({
    id: e.id,
    pid: e.child.pid ?? -1,
    invocations: e.invocations,
    peakRssKb: e.dead ? e.peakRssKb : Math.max(e.peakRssKb, readPeakRssKb(e.child.pid ?? -1)),
    alive: !e.dead,
    ...(e.endedBy ? { endedBy: e.endedBy } : {}),
  });

  return {
    invoke,
    onLog(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats() {
      const environments = [...retired, ...envs].map(envStats).sort((a, b) => a.id - b.id);
      return {
        functionName,
        ...counters,
        durationsMs: [...durations],
        initDurationsMs: [...initDurations],
        environments,
        maxPeakRssKb: environments.reduce((m, e) => Math.max(m, e.peakRssKb), 0),
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const w of waiters.splice(0)) w.reject(new Error(`function host ${functionName} stopped`));
      const exits = envs.map((e) => new Promise<void>((r) => (e.child.exitCode !== null || e.child.signalCode !== null ? r() : e.child.once('exit', () => r()))));
      for (const e of [...envs]) kill(e, 'stop');
      await Promise.all(exits);
    },
  };
}

function isInvokeError(x: unknown): x is InvokeError {
  return typeof x === 'object' && x !== null && 'kind' in x && 'errorType' in x;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
