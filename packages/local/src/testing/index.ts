/**
 * `@floodgate/local/testing`: the local stack for a test runner that cannot load ESM, such as jest in
 * a CommonJS project (`cdk init app --language typescript`). Built as CommonJS; it runs
 * `floodgate-local up --keep --json` as a child process and gives its outputs, SDK v3 clients pointed
 * at its endpoint, and `stop()`. The child stops when stop() is called or when this process goes away
 * however it goes (its stdin pipe closes), so a killed test run leaves nothing behind.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalStackSummary } from '../summary-type.js';

export type { LocalStackSummary } from '../summary-type.js';

export interface StartLocalStackOptions {
  /** The CDK app command (`cdk --app`); default: the app of cdk.json in `cwd`. */
  readonly app?: string;
  /** A synthesized cloud assembly directory (e.g. `cdk.out`) instead of `app`. */
  readonly assembly?: string;
  /** Stack name or artifact id. @default the only stack */
  readonly stack?: string;
  /** An external AWS-compatible endpoint for the resources (moto, LocalStack). @default $FLOODGATE_ENDPOINT */
  readonly endpoint?: string;
  /** Also write the outputs here (`cdk deploy --outputs-file` format). */
  readonly outputsFile?: string;
  /** `--name-prefix`: a prefix for every physical name, for an endpoint shared with other deployments. */
  readonly namePrefix?: string;
  /** `--allow-unsupported`: warn about resources the local stack cannot emulate instead of refusing the template. */
  readonly allowUnsupported?: boolean;
  /**
   * `--data-dir`: keep the queues with their messages, the buckets with their objects and the tables with
   * their items in this directory across a stop and a start (with the same assembly).
   */
  readonly dataDir?: string;
  /** Working directory of the CLI (where cdk.json is). @default process.cwd() */
  readonly cwd?: string;
  /**
   * `--async-retry-delays`: waits before the retries of a failed asynchronous invocation, ms.
   * @default [60000, 120000] (AWS's)
   */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** Extra environment for the CLI. */
  readonly env?: Readonly<Record<string, string>>;
  /** Milliseconds to wait for the stack (synthesis included). @default 180000 */
  readonly startTimeoutMs?: number;
  /** Progress and function log lines of the CLI (its stderr). @default dropped */
  readonly onLog?: (line: string) => void;
}

/** What firing a scheduled rule or a Scheduler schedule delivered (`floodgate-local fire NAME`'s JSON). */
export interface ScheduleFireResult {
  readonly name: string;
  readonly kind: 'rule' | 'schedule';
  readonly arn: string;
  /** What was delivered: the scheduled event, or the schedule's input. */
  readonly event: unknown;
  readonly targets: ReadonlyArray<{
    readonly id: string;
    readonly arn: string;
    readonly outcome: { readonly status: 'delivered' | 'dead-lettered' | 'failed'; readonly attempts: number; readonly errorCode?: string; readonly errorMessage?: string };
  }>;
}

export interface TestLocalStack extends LocalStackSummary {
  /** SDK v3 clients pointed at `endpoint` (destroyed by stop()). */
  readonly clients: { readonly sqs: SQSClient; readonly s3: S3Client; readonly dynamodb: DynamoDBClient };
  /** AWS_ENDPOINT_URL, AWS_REGION and the credentials: for code under test that builds its own clients. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Empties the stack and keeps it (`POST /_floodgate/reset`): every queue (DLQs and in-flight messages
   * too), table and bucket, and the functions' pending asynchronous events; the resources and the event
   * source mappings stay. For `beforeEach`/`afterEach`.
   */
  reset(): Promise<ResetReport>;
  /**
   * Scheduled rules and Scheduler schedules: `fire(name)` runs one now (rule or schedule name, or logical
   * id) and resolves with what it delivered, so a test need not wait for its time. Rejects when the stack
   * has no such rule or schedule.
   */
  readonly schedules: { fire(name: string): Promise<ScheduleFireResult> };
  /** Stops the stack and waits until everything it started has exited. */
  stop(): Promise<void>;
}

/** What a reset did (the JSON `POST /_floodgate/reset` answers). */
export interface ResetReport {
  /** Resources emptied, by CloudFormation type. */
  readonly resources: Readonly<Record<string, number>>;
  /** Table items and bucket objects deleted (queues are purged whole). */
  readonly deleted: number;
  /** Pending asynchronous events and retries dropped. */
  readonly asyncEventsDropped: number;
  readonly ms: number;
}

/** POST /_floodgate/reset, SigV4-signed as the local admin (signing name `floodgate`). */
async function postReset(endpoint: string, region: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<ResetReport> {
  const url = new URL(`${endpoint.replace(/\/$/, '')}/_floodgate/reset`);
  const signer = new SignatureV4({ service: 'floodgate', region, credentials, sha256: Sha256 });
  const signed = await signer.sign({ method: 'POST', protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path: url.pathname, headers: { host: url.host }, body: '' });
  const res = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body: '' });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`reset failed: ${res.status} ${text}`);
  return JSON.parse(text) as ResetReport;
}

/** The CLI of this package, next to this file in dist/ (dist/cjs/testing/index.js -> dist/cli.js). */
const CLI = join(__dirname, '..', '..', 'cli.js');

export function startLocalStack(options: StartLocalStackOptions = {}): Promise<TestLocalStack> {
  const args = ['up', '--keep', '--json', '--stop-on-stdin-close'];
  if (options.app !== undefined) args.push('--app', options.app);
  if (options.assembly !== undefined) args.push('--assembly', options.assembly);
  if (options.stack !== undefined) args.push('--stack', options.stack);
  if (options.endpoint !== undefined) args.push('--endpoint', options.endpoint);
  if (options.outputsFile !== undefined) args.push('--outputs-file', options.outputsFile);
  if (options.namePrefix !== undefined) args.push('--name-prefix', options.namePrefix);
  if (options.allowUnsupported) args.push('--allow-unsupported');
  if (options.dataDir !== undefined) args.push('--data-dir', options.dataDir);
  if (options.asyncRetryDelaysMs !== undefined) args.push('--async-retry-delays', options.asyncRetryDelaysMs.join(','));
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    // stdin stays open and unused: it closes when this process exits, and the CLI then stops.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderrTail = '';
  let partial = '';
  child.stderr.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-4000);
    if (!options.onLog) return;
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) options.onLog(l);
  });
  // Neither the pipes nor the child keep the test process alive.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();

  return new Promise<TestLocalStack>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`floodgate-local did not start within ${options.startTimeoutMs ?? 180_000} ms:\n${stderrTail}`));
    }, options.startTimeoutMs ?? 180_000);
    // Kept referenced until the stack is ready (then cleared): a plain script awaiting startLocalStack
    // would otherwise exit silently while the child starts, as nothing else holds its event loop.
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`floodgate-local exited (code ${code}) before the stack was ready:\n${stderrTail.trim()}`));
    });
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      let summary: LocalStackSummary;
      try {
        summary = JSON.parse(stdout.slice(0, nl)) as LocalStackSummary;
      } catch (err) {
        child.kill('SIGTERM');
        return reject(new Error(`floodgate-local printed something other than its JSON line: ${stdout.slice(0, 300)}`, { cause: err }));
      }
      const common = { region: summary.region, credentials: { ...summary.credentials }, endpoint: summary.endpoint };
      const clients = { sqs: new SQSClient(common), s3: new S3Client({ ...common, forcePathStyle: true }), dynamodb: new DynamoDBClient(common) };
      let stopping: Promise<void> | undefined;
      const env = {
        AWS_ENDPOINT_URL: summary.endpoint,
        AWS_REGION: summary.region,
        AWS_DEFAULT_REGION: summary.region,
        AWS_ACCESS_KEY_ID: summary.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: summary.credentials.secretAccessKey,
      };
      resolve({
        ...summary,
        clients,
        env,
        reset: () => postReset(summary.endpoint, summary.region, summary.credentials),
        schedules: { fire: (name: string) => fireSchedule(name, { ...process.env, ...options.env, ...env }) },
        stop: () =>
          (stopping ??= (async () => {
            clients.sqs.destroy();
            clients.s3.destroy();
            clients.dynamodb.destroy();
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGTERM');
              const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
              await exited;
              clearTimeout(killer);
            }
          })()),
      });
    });
  });
}

/**
 * `floodgate-local fire NAME` against the running stack: the CLI's one signed request, so this CommonJS
 * entry needs no copy of the signer. Its JSON answer is the outcome, delivered or not.
 */
function fireSchedule(name: string, env: NodeJS.ProcessEnv): Promise<ScheduleFireResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'fire', name], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        resolve(JSON.parse(stdout) as ScheduleFireResult);
      } catch {
        reject(new Error(`floodgate-local fire ${name} failed (exit ${code}): ${stderr.trim() || stdout.trim()}`));
      }
    });
  });
}
