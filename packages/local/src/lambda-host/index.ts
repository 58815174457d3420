/**
 * A local Lambda function: a pool of execution environments, each its own CHILD PROCESS running the
 * bundled handler on Node 24, reused warm. A child process (not a worker thread) so that a crash,
 * `process.exit` or a runaway invocation is isolated, can be killed at the function's Timeout, and has
 * its own measurable RSS (VmHWM), as a Lambda execution environment would.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { endpointEnv, type LocalEndpoints } from '../core/endpoints.js';
import { LOCAL_REGION } from '../core/identity.js';
import { RingBuffer } from '../core/ring-buffer.js';
import { LAMBDA_RUNTIME_SCOPES, PROVIDED_SDK_FROM_DIR } from './provided-sdk.js';

const RUNTIME = fileURLToPath(new URL('./runtime.mjs', import.meta.url));
/** What runtime.mjs writes on stdout after an invocation's output (see there); never passed on as a log line. */
const END_MARK = '\u0000floodgate-end ';
/** A console line in Lambda's text format whose message is a JSON object; group 1 = the message. */
const TEXT_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z\t[^\t]*\t(?:INFO|WARN|ERROR|DEBUG|TRACE|FATAL)\t(\{.*\})$/;

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
   * Provide the AWS SDK v3 as Lambda's Node.js runtime does: an `@aws-sdk/*`, `@smithy/*` or
   * `@aws-crypto/*` import the function cannot resolve itself is resolved from @floodgate/local's
   * directory (provided-sdk.ts says which packages that guarantees). @default true
   */
  readonly provideAwsSdk?: boolean;
  /** The CloudWatch Logs group the function writes to (LoggingConfig.LogGroup). @default `/aws/lambda/<functionName>` */
  readonly logGroupName?: string;
  /** LoggingConfig.LogFormat: `JSON` makes console lines JSON objects, as on Lambda. @default 'Text' */
  readonly logFormat?: 'Text' | 'JSON';
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
  /**
   * Keep one spare process started (the runtime loaded, no code yet) for `updateCode`: a hot reload then
   * initializes the new code in it instead of waiting for a process to start. @default false
   */
  readonly standby?: boolean;
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
  /** `platform`: a line Lambda itself writes (START, END, REPORT, INIT_REPORT). */
  readonly stream: 'stdout' | 'stderr' | 'platform';
  readonly line: string;
  /** The parsed line when it is a JSON object (structured logs). */
  readonly json?: Record<string, unknown>;
  readonly time: number;
  /** The CloudWatch Logs group the line goes to: `/aws/lambda/<name>` or LoggingConfig.LogGroup. */
  readonly logGroupName: string;
  /** The execution environment's log stream, named as Lambda names it: `YYYY/MM/DD/[$LATEST]<32 hex>`. */
  readonly logStreamName: string;
  /** The invocation the line was written during, if any (undefined during init). */
  readonly requestId?: string;
}

/** A log stream name as Lambda writes it for a new execution environment: `2026/12/06/[$LATEST]<32 hex>`. */
export function lambdaLogStreamName(now: Date = new Date(), version = '$LATEST'): string {
  const d = now.toISOString().slice(0, 10).replace(/-/g, '/');
  return `${d}/[${version}]${randomBytes(16).toString('hex')}`;
}

export type InvokeFailureKind = 'handler' | 'timeout' | 'crash' | 'oom' | 'init';

export interface InvokeError {
  readonly kind: InvokeFailureKind;
  readonly errorType: string;
  readonly errorMessage: string;
  /** The error's stack as Lambda returns it (`trace`), when the runtime reported one. */
  readonly trace?: readonly string[];
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
  /** `code-update`: retired by `updateCode` (at once when idle, after its invocation when busy). */
  readonly endedBy?: 'timeout' | 'crash' | 'oom' | 'init' | 'stop' | 'code-update';
  /** The code generation it runs: 0 for the code it was created with, +1 per `updateCode`. */
  readonly codeGeneration: number;
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
  /** The most recent invocations' durations (at most 10,000; a ring buffer), oldest first. */
  readonly durationsMs: readonly number[];
  /** The most recent cold starts' init durations (at most 10,000), oldest first. */
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
  /**
   * Swaps the function's code (and, when given, its settings), as UpdateFunctionCode does: the next
   * invocation runs in an environment started on the new code; invocations in flight finish on the old
   * code, and their environments are retired when they end (idle ones at once). One environment on the
   * new code is started at once, so the first invocation after a reload pays no process start.
   */
  updateCode(update: FunctionCodeUpdate): void;
  /** The code generation new invocations run: 0 at creation, +1 per `updateCode`. */
  readonly codeGeneration: number;
  /** Kills every environment; pending and running invocations fail. */
  stop(): Promise<void>;
}

/** What `updateCode` changes: the bundle's directory, and optionally the handler and settings. */
export interface FunctionCodeUpdate {
  readonly assetDir: string;
  readonly handler?: string;
  readonly environment?: Record<string, string>;
  readonly timeoutSeconds?: number;
  readonly memoryMb?: number;
}

interface Env {
  readonly id: number;
  /** The code it runs (see updateCode); a standby environment gets it when adopted. */
  generation: number;
  /** Started without code, waiting to be adopted by updateCode (not counted as an environment until then). */
  standby: boolean;
  /** Its runtime said it started (it can take the init message). */
  spawned: boolean;
  readonly logStreamName: string;
  /** The invocation whose output is being read (set at START, cleared at END). */
  logRequestId?: string;
  readonly child: ChildProcess;
  readonly ready: Promise<{ initDurationMs: number }>;
  busy: boolean;
  dead: boolean;
  endedBy?: EnvironmentStats['endedBy'];
  invocations: number;
  peakRssKb: number;
  coldPending: boolean;
  /**
   * The running invocation. Its result (IPC) and its end mark (stdout) come on two channels in either
   * order: it settles when it has both, so every line it wrote is read, and labelled with its request
   * id, before END and REPORT and before the environment takes the next invocation.
   */
  current?: { id: string; settle: (r: Outcome) => void; answered?: Outcome; markSeen: boolean; markTimer?: NodeJS.Timeout };
}

type Outcome = { ok: boolean; value?: unknown; error?: InvokeError };

/** How long a result waits for its end mark on stdout (a handler that closed stdout never writes one). */
const END_MARK_WAIT_MS = 1000;

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
    maxEnvironments = 10,
    endpoints,
    accountId = '000000000000',
    provideAwsSdk = true,
    enforceMemoryLimit = true,
  } = options;
  // The code and the settings it runs with: replaced as a whole by updateCode (environments read them when spawned).
  let assetDir = options.assetDir;
  let handler = options.handler;
  let environment = options.environment ?? {};
  let timeoutSeconds = options.timeoutSeconds ?? 3;
  let memoryMb = options.memoryMb ?? 128;
  let generation = 0;
  if (maxEnvironments < 1) throw new Error(`maxEnvironments must be >= 1 (got ${maxEnvironments})`);
  const region = endpoints?.region ?? LOCAL_REGION;
  const functionArn = `arn:aws:lambda:${region}:${accountId}:function:${functionName}`;
  const logGroupName = options.logGroupName ?? `/aws/lambda/${functionName}`;
  const listeners = new Set<(e: LogEntry) => void>();
  if (options.onLog) listeners.add(options.onLog);

  const envs: Env[] = [];
  const waiters: Array<{ resolve: (env: Env) => void; reject: (err: Error) => void }> = [];
  let nextId = 1;
  let stopped = false;
  const counters = { invocations: 0, errors: 0, timeouts: 0, crashes: 0, outOfMemory: 0, coldStarts: 0 };
  // Bounded: a `--keep` session must not grow with every invocation.
  const durations = new RingBuffer<number>(10_000);
  const initDurations = new RingBuffer<number>(10_000);

  const childEnv = (logStreamName: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    ...(endpoints ? endpointEnv(endpoints) : { AWS_REGION: region, AWS_DEFAULT_REGION: region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }),
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
    ...(options.logFormat === 'JSON' ? { AWS_LAMBDA_LOG_FORMAT: 'JSON' } : {}),
    LAMBDA_TASK_ROOT: assetDir,
    ...environment,
  });

  const emitLine = (env: Env, stream: LogEntry['stream'], line: string, requestId = env.logRequestId): void => {
    const mark = stream === 'stdout' ? line.indexOf(END_MARK) : -1;
    if (mark >= 0) {
      // Output the handler left without a final newline shares the mark's line: it is its own line.
      if (mark > 0) emitLine(env, stream, line.slice(0, mark), requestId);
      const cur = env.current;
      if (cur && line.slice(mark + END_MARK.length) === cur.id) {
        cur.markSeen = true;
        if (cur.answered) cur.settle(cur.answered);
      }
      return;
    }
    if (listeners.size === 0) return;
    let json: Record<string, unknown> | undefined;
    // A JSON object line (structured logs written to stdout), or the message of Lambda's text format
    // (`<time>\t<request id>\t<LEVEL>\t{...}`: console.log(JSON.stringify(...))).
    const candidate = line.startsWith('{') ? line : TEXT_LINE.exec(line)?.[1];
    if (candidate !== undefined) {
      try {
        const parsed: unknown = JSON.parse(candidate);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
      } catch {
        // not JSON: passed on as a plain line
      }
    }
    const entry: LogEntry = { functionName, environmentId: env.id, stream, line, time: Date.now(), logGroupName, logStreamName: env.logStreamName, ...(requestId ? { requestId } : {}), ...(json ? { json } : {}) };
    for (const l of listeners) {
      try {
        l(entry);
      } catch {
        // a listener's failure must not break the environment's output
      }
    }
  };
  const platform = (env: Env, line: string, requestId?: string): void => emitLine(env, 'platform', line, requestId);
  /** Lambda's REPORT line. */
  const reportLine = (env: Env, requestId: string, durationMs: number, initDurationMs: number | undefined, status?: { status: string; errorType?: string }): string =>
    [
      `REPORT RequestId: ${requestId}`,
      `Duration: ${durationMs.toFixed(2)} ms`,
      `Billed Duration: ${Math.max(1, Math.ceil(durationMs + (initDurationMs ?? 0)))} ms`,
      `Memory Size: ${memoryMb} MB`,
      `Max Memory Used: ${Math.max(1, Math.round(Math.max(env.peakRssKb, readPeakRssKb(env.child.pid ?? -1)) / 1024))} MB`,
      ...(initDurationMs !== undefined ? [`Init Duration: ${initDurationMs.toFixed(2)} ms`] : []),
      ...(status ? [`Status: ${status.status}`, ...(status.errorType ? [`Error Type: ${status.errorType}`] : [])] : []),
    ].join('\t');

  const sendInit = (env: Env): void =>
    void env.child.send({ type: 'init', taskRoot: assetDir, handler, sdkFromDir: provideAwsSdk ? PROVIDED_SDK_FROM_DIR : undefined, sdkScopes: LAMBDA_RUNTIME_SCOPES });
  const spawnEnv = (asStandby = false): Env => {
    const logStreamName = lambdaLogStreamName();
    const child = fork(RUNTIME, [], {
      cwd: assetDir,
      env: childEnv(logStreamName),
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
    const env: Env = { id: nextId++, generation, standby: asStandby, spawned: false, logStreamName, child, ready, busy: false, dead: false, invocations: 0, peakRssKb: 0, coldPending: true };
    for (const stream of ['stdout', 'stderr'] as const) {
      const src = child[stream];
      if (src) splitLines(src, (line) => emitLine(env, stream, line));
    }
    child.on('message', (msg: { type: string; id?: string; ok?: boolean; value?: unknown; undefinedValue?: boolean; error?: { errorType: string; errorMessage: string; trace?: string[] }; initDurationMs?: number }) => {
      if (msg.type === 'spawned') {
        env.spawned = true;
        if (!env.standby) sendInit(env);
      }
      else if (msg.type === 'ready') resolveReady({ initDurationMs: msg.initDurationMs ?? 0 });
      else if (msg.type === 'initError') {
        // As Lambda: the init error, at once (not after the init timeout), with the runtime's own type.
        const errorType = msg.error?.errorType ?? 'Runtime.Unknown';
        platform(env, `INIT_REPORT Init Duration: ${(msg.initDurationMs ?? 0).toFixed(2)} ms\tPhase: init\tStatus: error\tError Type: ${errorType}`);
        rejectReady({ kind: 'init', errorType, errorMessage: msg.error?.errorMessage ?? '', ...(msg.error?.trace ? { trace: msg.error.trace } : {}) });
        kill(env, 'init');
      } else if (msg.type === 'result' && env.current && env.current.id === msg.id) {
        env.peakRssKb = Math.max(env.peakRssKb, readPeakRssKb(child.pid ?? -1));
        const cur = env.current;
        const outcome: Outcome = msg.ok
          ? { ok: true, value: msg.undefinedValue ? undefined : msg.value }
          : { ok: false, error: { kind: 'handler', errorType: msg.error?.errorType ?? 'Error', errorMessage: msg.error?.errorMessage ?? '', ...(msg.error?.trace ? { trace: msg.error.trace } : {}) } };
        if (cur.markSeen) cur.settle(outcome);
        else {
          cur.answered = outcome;
          cur.markTimer = setTimeout(() => cur.settle(outcome), END_MARK_WAIT_MS);
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (env.standby) {
        env.dead = true;
        if (standby === env) standby = undefined;
        return;
      }
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
    if (!asStandby) envs.push(env);
    return env;
  };
  let standby: Env | undefined;
  const keepStandby = (): void => {
    if (options.standby && !stopped && (!standby || standby.dead)) standby = spawnEnv(true);
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
  // Ended environments, for stats: the most recent 1,000.
  const retired = new RingBuffer<Env>(1000);

  function kill(env: Env, why: NonNullable<EnvironmentStats['endedBy']>): void {
    if (env.dead) return;
    env.peakRssKb = Math.max(env.peakRssKb, readPeakRssKb(env.child.pid ?? -1));
    env.endedBy = why;
    env.dead = true;
    env.child.kill('SIGKILL');
  }

  const acquire = (): Promise<Env> => {
    const idle = envs.find((e) => !e.busy && !e.dead && e.generation === generation);
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
    // Ran on code since replaced: retired now that its invocation is over (a waiter gets a fresh one on exit).
    if (env.generation !== generation) return kill(env, 'code-update');
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
      const failed = common();
      platform(env, `START RequestId: ${requestId} Version: $LATEST`, requestId);
      platform(env, `END RequestId: ${requestId}`, requestId);
      platform(env, reportLine(env, requestId, failed.durationMs, undefined, { status: 'error', errorType: e.errorType }), requestId);
      return { ok: false, error: e, ...failed };
    }
    // Only now: the Timeout (the kill timer and the context's deadline) does not include init.
    const deadlineMs = Date.now() + timeoutSeconds * 1000;
    const invokeStarted = performance.now();
    env.invocations++;
    env.logRequestId = requestId;
    platform(env, `START RequestId: ${requestId} Version: $LATEST`, requestId);
    const outcome = await new Promise<Outcome>((resolve) => {
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
      let settled = false;
      const settle = (r: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(current.markTimer);
        if (memoryWatch) clearInterval(memoryWatch);
        env.current = undefined;
        resolve(r);
      };
      const current: NonNullable<Env['current']> = { id: requestId, settle, markSeen: false };
      env.current = current;
      env.child.send({
        type: 'invoke',
        id: requestId,
        event,
        context: { awsRequestId: requestId, functionName, functionVersion: '$LATEST', memoryLimitInMB: String(memoryMb), invokedFunctionArn: functionArn, logGroupName, logStreamName: env.logStreamName, deadlineMs },
      });
    });
    const durationMs = performance.now() - invokeStarted;
    durations.push(durationMs);
    // END and REPORT follow the invocation's own output: it settled after its end mark was read (or it
    // was killed: timeout, memory, crash).
    const kindStatus: Partial<Record<InvokeFailureKind, { status: string; errorType?: string }>> = {
      timeout: { status: 'timeout' },
      oom: { status: 'error', errorType: 'Runtime.OutOfMemory' },
      crash: { status: 'error', errorType: 'Runtime.ExitError' },
    };
    const status = outcome.ok ? undefined : kindStatus[outcome.error!.kind];
    platform(env, `END RequestId: ${requestId}`, requestId);
    platform(env, reportLine(env, requestId, durationMs, initDurationMs, status), requestId);
    if (env.logRequestId === requestId) env.logRequestId = undefined;
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
    codeGeneration: e.generation,
    ...(e.endedBy ? { endedBy: e.endedBy } : {}),
  });

  const updateCode = (update: FunctionCodeUpdate): void => {
    if (stopped) throw new Error(`function host ${functionName} is stopped`);
    assetDir = update.assetDir;
    if (update.handler !== undefined) handler = update.handler;
    if (update.environment !== undefined) environment = update.environment;
    if (update.timeoutSeconds !== undefined) timeoutSeconds = update.timeoutSeconds;
    if (update.memoryMb !== undefined) memoryMb = update.memoryMb;
    // A standby process was started with the old settings: it can take only new code, not new settings.
    const settingsChanged = update.environment !== undefined || update.timeoutSeconds !== undefined || update.memoryMb !== undefined;
    if (standby && settingsChanged) (kill(standby, 'code-update'), (standby = undefined));
    generation++;
    const hadEnvironments = envs.some((e) => !e.dead);
    for (const e of [...envs]) if (!e.busy) kill(e, 'code-update');
    // Waiters (all environments busy) are served by the retiring ones' exits with fresh environments.
    // One warm environment on the new code, if there was one before and a slot is free: the standby
    // process when there is one (it only has to load the code), else a new one.
    if (hadEnvironments && waiters.length === 0 && envs.filter((e) => !e.dead).length < maxEnvironments) {
      const s = standby && !standby.dead ? standby : undefined;
      if (s) {
        standby = undefined;
        s.standby = false;
        s.generation = generation;
        envs.push(s);
        if (s.spawned) sendInit(s);
      } else spawnEnv();
    }
    keepStandby();
  };

  keepStandby();
  return {
    invoke,
    updateCode,
    get codeGeneration() {
      return generation;
    },
    onLog(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats() {
      const environments = [...retired.toArray(), ...envs].map(envStats).sort((a, b) => a.id - b.id);
      return {
        functionName,
        ...counters,
        durationsMs: durations.toArray(),
        initDurationsMs: initDurations.toArray(),
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
      if (standby) kill(standby, 'stop');
      await Promise.all(exits);
    },
  };
}

/** Longest log event: a longer run without a newline is cut into events of this size, as Lambda does at 256 KB. */
const MAX_LINE = 256 * 1024;

/**
 * Calls `onLine` for every `\n`-terminated line of `input` (a `\r` inside a line stays in it: Lambda's
 * runtime writes a multi-line message as one line with `\r`, one log event).
 */
function splitLines(input: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = '';
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
    while (buf.length > MAX_LINE) {
      onLine(buf.slice(0, MAX_LINE));
      buf = buf.slice(MAX_LINE);
    }
  });
  input.on('end', () => {
    if (buf !== '') onLine(buf);
    buf = '';
  });
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
