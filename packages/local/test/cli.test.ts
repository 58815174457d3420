/**
 * `floodgate-local` as a user runs it: from dist, on the synthesized fixture app. The prerequisite
 * check fails fast without java; `up --keep --json` serves the one endpoint (driven here with the AWS
 * CLI, a real independent client) until SIGTERM, after which nothing it started is left running.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../src/cli/args';
import type { LocalStackSummary } from '../src/cli/summary';
import { parseJavaMajor } from '../src/prerequisites';
import { alive, descendants } from '../../../test/support/process';
import { FIXTURE_STACK, synthFixtureApp } from './fixtures/fixture-app';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const hasAwsCli = spawnSync('aws', ['--version']).status === 0;

function run(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    child.on('exit', (code) => reject(new Error(`CLI exited ${code} before printing: ${err.slice(-2000)}`)));
  });
}

function aws(args: string[], endpoint: string): unknown {
  const r = spawnSync('aws', ['--endpoint-url', endpoint, '--output', 'json', ...args], {
    encoding: 'utf8',
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1' },
  });
  if (r.status !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

describe('argument parsing', () => {
  it('takes the documented flags, exactly', () => {
    expect(parseCli(['up', '--assembly', 'cdk.out', '--stack', 'S', '--outputs-file', 'o.json', '--keep', '--json'], {})).toEqual({
      command: 'up', assembly: 'cdk.out', stack: 'S', outputsFile: 'o.json', keep: true, json: true,
    });
    expect(parseCli(['up', '--app', 'npx tsx bin/app.ts'], {})).toEqual({ command: 'up', app: 'npx tsx bin/app.ts', keep: false, json: false });
    expect(parseCli(['up', '--no-iam'], {})).toEqual({ command: 'up', keep: false, json: false, noIam: true });
    expect(parseCli(['up', '--endpoint', 'http://h:1', '--name-prefix', 'ci7', '--allow-unsupported'], {})).toEqual({ command: 'up', keep: false, json: false, endpoint: 'http://h:1', namePrefix: 'ci7', allowUnsupported: true });
    expect(() => parseCli(['up', '--name-prefix', 'Bad_Prefix'], {})).toThrow(/--name-prefix must be/);
    expect(parseCli(['up', '--async-retry-delays', '200,400'], {})).toEqual({ command: 'up', keep: false, json: false, asyncRetryDelaysMs: [200, 400] });
    expect(parseCli(['up', '--async-retry-delays', '0'], {})).toMatchObject({ asyncRetryDelaysMs: [0] });
    for (const bad of ['', 'fast', '1,2,3', '1.5', '200,']) expect(() => parseCli(['up', '--async-retry-delays', bad], {})).toThrow(/--async-retry-delays takes one or two/);
    expect(parseCli(['up'], { FLOODGATE_ENDPOINT: 'http://127.0.0.1:5000' })).toMatchObject({ endpoint: 'http://127.0.0.1:5000' });
    expect(parseCli(['up', '--endpoint', 'http://h:1'], { FLOODGATE_ENDPOINT: 'http://other:2' })).toMatchObject({ endpoint: 'http://h:1' });
    expect(parseCli(['check'], {})).toEqual({ command: 'check' });
    expect(parseCli(['up', '--assembly', 'cdk.out', '--data-dir', '.floodgate/data', '--keep'], {})).toEqual({ command: 'up', assembly: 'cdk.out', keep: true, json: false, dataDir: '.floodgate/data' });
    expect(parseCli(['reset', '--endpoint', 'http://127.0.0.1:4566'], {})).toEqual({ command: 'reset', endpoint: 'http://127.0.0.1:4566' });
    expect(parseCli(['reset'], { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' })).toEqual({ command: 'reset', endpoint: 'http://127.0.0.1:5000' });
    // --watch serves (it implies --keep) and hot-reloads.
    expect(parseCli(['up', '--watch'], {})).toEqual({ command: 'up', keep: true, watch: true, json: false });
  });

  it('refuses what it does not understand, saying why', () => {
    expect(() => parseCli(['up', '--app', 'a', '--assembly', 'b'], {})).toThrow(/exclusive/);
    expect(() => parseCli(['down'], {})).toThrow(UsageError);
    expect(() => parseCli(['up', '--endpoint', 'localhost:4566'], {})).toThrow(/http\(s\) URL/);
    expect(() => parseCli(['up', '--bogus'], {})).toThrow();
    expect(() => parseCli(['up', '--data-dir', 'd', '--endpoint', 'http://h:1'], {})).toThrow(/--data-dir keeps the embedded emulators' state/);
    expect(() => parseCli(['reset'], {})).toThrow(/reset needs the running stack's endpoint/);
    expect(() => parseCli(['up', '--watch', '--assembly', 'cdk.out'], {})).toThrow(/--watch synthesizes the app again on a change: give the app \(cdk.json or --app\), not --assembly/);
  });

  it('reads Java versions in both numbering schemes', () => {
    expect(parseJavaMajor('openjdk version "17.0.12" 2024-07-16')).toBe(17);
    expect(parseJavaMajor('java version "1.8.0_392"')).toBe(8);
    expect(parseJavaMajor('openjdk version "21" 2023-09-19')).toBe(21);
    expect(parseJavaMajor('nothing')).toBeUndefined();
  });
});

describe('floodgate-local up (from dist)', () => {
  let assembly: string;
  beforeAll(() => {
    assembly = synthFixtureApp(join(mkdtempSync(join(tmpdir(), 'fl-cli-')), 'cdk.out'));
  });

  it('without java on PATH, exits 3 at once naming Java 17 and how to install it, starting nothing', { timeout: 120_000 }, async () => {
    // PATH without java; the CLI itself is started by absolute path.
    const child = run(['up', '--assembly', assembly], { ...process.env, PATH: dirname(process.execPath) });
    const kids: number[] = [];
    const probe = setInterval(() => kids.push(...descendants(child.pid!)), 20);
    const { code, stdout, stderr } = await exited(child);
    clearInterval(probe);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toContain('Java 17');
    expect(stderr).toContain('apt-get install openjdk-17-jre-headless');
    expect(stderr).toContain('brew install openjdk@17');
    expect(stderr).not.toMatch(/did not answer|at .*\.js:\d+/); // no 30 s wait, no stack trace
    expect(kids.filter(alive)).toEqual([]);
  });

  it.skipIf(!hasAwsCli)('--keep --json serves the one endpoint (AWS CLI) until SIGTERM, then nothing is left running', { timeout: 180_000 }, async () => {
    const outputsFile = join(dirname(assembly), 'outputs.json');
    const child = run(['up', '--assembly', assembly, '--keep', '--json', '--outputs-file', outputsFile]);
    const done = exited(child);
    const summary = JSON.parse(await firstLine(child)) as LocalStackSummary;
    try {
      expect(summary).toMatchObject({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, stack: FIXTURE_STACK, target: 'emulators', pid: child.pid });
      expect(summary.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(JSON.parse(readFileSync(outputsFile, 'utf8'))).toEqual({ [FIXTURE_STACK]: summary.outputs });
      expect(summary.functions).toEqual([expect.objectContaining({ functionName: summary.outputs.FunctionName, timeoutSeconds: 2, memoryMb: 256, reservedConcurrency: 3 })]);
      expect(summary.mappings).toEqual([expect.objectContaining({ functionName: summary.outputs.FunctionName, queueUrl: summary.outputs.QueueUrl, batchSize: 5, maximumConcurrency: 2, enabled: true })]);

      // The handler builds `new DynamoDBClient({})`: it reaches the local table through AWS_ENDPOINT_URL.
      aws(['sqs', 'send-message', '--queue-url', summary.outputs.QueueUrl!, '--message-body', JSON.stringify({ id: 'cli-1', action: 'ok' })], summary.endpoint);
      let item: { Item?: { attempts?: { N: string } } } | undefined;
      for (let i = 0; i < 120 && !item?.Item; i++) {
        await new Promise((r) => setTimeout(r, 250));
        item = aws(['dynamodb', 'get-item', '--table-name', summary.outputs.TableName!, '--key', JSON.stringify({ pk: { S: 'cli-1' } })], summary.endpoint) as typeof item;
      }
      expect(item?.Item?.attempts).toEqual({ N: '1' });
      const queue = aws(['sqs', 'get-queue-attributes', '--queue-url', summary.outputs.QueueUrl!, '--attribute-names', 'ApproximateNumberOfMessages'], summary.endpoint) as { Attributes: Record<string, string> };
      expect(queue.Attributes.ApproximateNumberOfMessages).toBe('0');
      // The function's log lines, through the CloudWatch Logs API of the same endpoint.
      let logged: { events: Array<{ message: string }> } | undefined;
      for (let i = 0; i < 40 && !logged?.events.some((e) => e.message.startsWith('REPORT')); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 250));
        logged = aws(['logs', 'filter-log-events', '--log-group-name', `/aws/lambda/${summary.outputs.FunctionName}`], summary.endpoint) as typeof logged;
      }
      expect(logged?.events.map((e) => e.message.split(' ')[0])).toEqual(expect.arrayContaining(['START', 'END', 'REPORT']));
    } finally {
      const running = descendants(child.pid!);
      expect(running.length).toBeGreaterThan(0); // the JVM (behind its watchdog) and the function's environment
      child.kill('SIGTERM');
      const { code } = await done;
      expect(code).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      expect(running.filter(alive)).toEqual([]);
    }
    // The same lines in the `up` output (stderr), prefixed with the function's name.
    const { stderr } = await done;
    expect(stderr).toMatch(new RegExp(`^\\[${summary.outputs.FunctionName}\\] START RequestId: [0-9a-f-]{36} Version: \\$LATEST$`, 'm'));
    expect(stderr).toMatch(new RegExp(`^\\[${summary.outputs.FunctionName}\\] REPORT RequestId: [0-9a-f-]{36}\tDuration: `, 'm'));
  });

  it('without --keep, deploys, waits for the mapped queues to be empty, prints endpoint= and exits 0', { timeout: 180_000 }, async () => {
    const { code, stdout } = await exited(run(['up', '--assembly', assembly]));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^endpoint=http:\/\/127\.0\.0\.1:\d+\nregion=us-east-1\nstack=FloodgateLocalFixture\n$/);
  });
});

