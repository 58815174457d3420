/**
 * Issue 19, parts 6 and 7 on a running local stack, driven by independent clients (the AWS CLI v1 and
 * boto3): non-bundled functions from a CDK app in a temp dir outside the repository; a function needing
 * runtime-provided SDK packages its project does not list; init failures through `aws lambda invoke` and
 * through the SQS poller (the message ends in the DLQ, not stuck in flight); and the functions' logs
 * through the CloudWatch Logs API (`aws logs ...`) and `LocalStack.logs()`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import type { LogEntry } from '../src/lambda-host/index';
import { localEndpoints } from '../../../test/support/local-env';
import { RUNTIME_STACK, synthRuntimeApp, WRITER_LOG_GROUP } from './fixtures/runtime-app';

const run = promisify(execFile);
let dir: string;
let stack: LocalStack;
const lines: LogEntry[] = [];

const cliEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_PAGER: '',
});

async function aws(...args: string[]): Promise<any> {
  const { stdout } = await run('aws', ['--endpoint-url', stack.endpoint, '--output', 'json', ...args], { env: cliEnv(), cwd: dir, timeout: 60_000 });
  return stdout.trim() ? JSON.parse(stdout) : undefined;
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; last function lines:\n${lines.slice(-15).map((l) => `[${l.functionName}] ${l.line}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-runtime-app-'));
  const assembly = synthRuntimeApp(dir);
  stack = await startLocalStack({ assembly, stack: RUNTIME_STACK, emulators: localEndpoints(), waitTimeSeconds: 1, log: () => undefined, onLog: (e) => lines.push(e) });
}, 120_000);

afterAll(async () => {
  await stack?.stop({ destroy: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a non-bundled handler using SDK packages Lambda provides and its project does not list', () => {
  it('SQS -> Lambda (lib-dynamodb, util-dynamodb) -> DynamoDB works, and its lines reach the logs API under LoggingConfig.LogGroup', async () => {
    expect(JSON.parse(readFileSync(join(dir, 'src', 'writer', 'package.json'), 'utf8')).dependencies).toEqual({});
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs.WorkQueueUrl, MessageBody: JSON.stringify({ id: 'w1', size: 3 }) }));
    const item = await until(async () => (await stack.clients.dynamodb.send(new GetItemCommand({ TableName: stack.outputs.TableName, Key: { id: { S: 'w1' } } }))).Item, 30_000, 'item w1 stored');
    expect(item).toEqual({ id: { S: 'w1' }, size: { N: '3' } });

    const groups = await aws('logs', 'describe-log-groups', '--log-group-name-prefix', '/floodgate/');
    expect(groups.logGroups.map((g: { logGroupName: string }) => g.logGroupName)).toEqual([WRITER_LOG_GROUP]);
    expect(groups.logGroups[0].arn).toBe(`arn:aws:logs:us-east-1:000000000000:log-group:${WRITER_LOG_GROUP}:*`);

    const found = await until(async () => {
      const r = await aws('logs', 'filter-log-events', '--log-group-name', WRITER_LOG_GROUP, '--filter-pattern', '"stored w1"');
      return r.events.length > 0 ? r : undefined;
    }, 10_000, 'the stored line in the logs API');
    expect(found.events).toHaveLength(1);
    expect(found.events[0].message).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z\t[0-9a-f-]{36}\tINFO\tstored w1 \{"id":\{"S":"w1"\},"size":\{"N":"3"\}\}$/);
    const streamName: string = found.events[0].logStreamName;
    expect(streamName).toMatch(/^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);

    const streams = await aws('logs', 'describe-log-streams', '--log-group-name', WRITER_LOG_GROUP);
    expect(streams.logStreams.map((s: { logStreamName: string }) => s.logStreamName)).toContain(streamName);

    // The stream in order: START, the function's line, END, REPORT (with the cold start's Init Duration).
    const got = await until(async () => {
      const r = await aws('logs', 'get-log-events', '--log-group-name', WRITER_LOG_GROUP, '--log-stream-name', streamName, '--start-from-head');
      return r.events.some((e: { message: string }) => e.message.startsWith('REPORT')) ? r : undefined;
    }, 10_000, 'REPORT in the stream');
    const kinds = got.events.map((e: { message: string }) => (e.message.includes('\tINFO\t') ? 'INFO' : e.message.split(' ')[0]));
    expect(kinds).toEqual(['START', 'INFO', 'END', 'REPORT']);
    expect(got.events[3].message).toMatch(/\tInit Duration: \d+\.\d\d ms$/);

    // The same lines for tests, without the API.
    expect(stack.logs(stack.outputs.WriterName!).map((e) => e.message)).toEqual(got.events.map((e: { message: string }) => e.message));
    expect(lines.some((l) => l.functionName === stack.outputs.WriterName && l.line.includes('\tINFO\tstored w1 '))).toBe(true);
  }, 120_000);

  it("IAM applies to the Logs API: the function's own role (AWSLambdaBasicExecutionRole: no reads) is refused", async () => {
    const writer = stack.deployment.functions.find((f) => f.functionName === stack.outputs.WriterName)!;
    const creds = stack.functionCredentials(writer.logicalId)!;
    const denied = await run('aws', ['--endpoint-url', stack.endpoint, '--output', 'json', 'logs', 'filter-log-events', '--log-group-name', WRITER_LOG_GROUP], {
      env: { ...cliEnv(), AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey },
      timeout: 60_000,
    }).then(
      () => '',
      (err: { stderr: string }) => err.stderr,
    );
    expect(denied).toMatch(/AccessDeniedException.*logs:FilterLogEvents/s);
  }, 60_000);

  it('boto3 reads the same logs (FilterLogEvents with a term)', async () => {
    const script = [
      'import boto3, json, sys',
      `c = boto3.client('logs', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')`,
      `r = c.filter_log_events(logGroupName='${WRITER_LOG_GROUP}', filterPattern='REPORT')`,
      `print(json.dumps([e['message'] for e in r['events']]))`,
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script, stack.endpoint], { env: cliEnv(), timeout: 60_000 });
    const messages = JSON.parse(stdout) as string[];
    expect(messages.length).toBeGreaterThanOrEqual(1);
    for (const m of messages) expect(m).toMatch(/^REPORT RequestId: [0-9a-f-]{36}\tDuration: /);
  }, 60_000);
});

describe('init failures, as Lambda returns them', () => {
  it('`aws lambda invoke` of a function whose module throws: FunctionError Unhandled, the thrown type, at once', async () => {
    const name = stack.outputs.BrokenName!;
    const out = join(dir, 'broken.json');
    // The function's Timeout is 60 s: waiting out init would take 70 s, past this test's 60 s.
    const meta = await aws('lambda', 'invoke', '--function-name', name, out);
    expect(meta).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
    const payload = JSON.parse(readFileSync(out, 'utf8'));
    expect(payload).toMatchObject({ errorType: 'Error', errorMessage: 'CONFIG_BUCKET is not set' });
    expect(payload.trace[0]).toBe('Error: CONFIG_BUCKET is not set');

    // The cause in the function's logs, through the API.
    const r = await until(async () => {
      const x = await aws('logs', 'filter-log-events', '--log-group-name', `/aws/lambda/${name}`, '--filter-pattern', '"Uncaught Exception"');
      return x.events.length > 0 ? x : undefined;
    }, 10_000, 'the init error in the logs');
    expect(r.events[0].message).toContain('\tERROR\tUncaught Exception \t{"errorType":"Error","errorMessage":"CONFIG_BUCKET is not set"');
    const all = stack.logs(name).map((e) => e.message);
    expect(all.some((m) => m.endsWith('\tundefined\tINFO\tloading config'))).toBe(true);
    expect(all.some((m) => /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Error$/.test(m))).toBe(true);
  }, 60_000);

  it('`aws lambda invoke` of a function without its export: Runtime.HandlerNotFound', async () => {
    const out = join(dir, 'nohandler.json');
    const meta = await aws('lambda', 'invoke', '--function-name', stack.outputs.NoHandlerName!, out);
    expect(meta.FunctionError).toBe('Unhandled');
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ errorType: 'Runtime.HandlerNotFound', errorMessage: 'index.handler is undefined or not exported' });
  }, 60_000);

  it('the SQS poller counts it as a failed invocation: the message comes back after its visibility timeout and ends in the DLQ', async () => {
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs.BrokenQueueUrl, MessageBody: 'job-1' }));
    // Visibility 2 s, maxReceiveCount 2: two failed receives, then SQS moves it to the DLQ.
    const moved = await until(async () => {
      const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.outputs.BrokenDlqUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 1 }));
      return r.Messages?.[0];
    }, 25_000, 'job-1 in the DLQ');
    expect(moved.Body).toBe('job-1');
    const runner = [...stack.runners.values()].find((r) => r.stats().invocationLog.some((i) => i.failureKind === 'init'));
    expect(runner, 'a runner recorded init failures').toBeDefined();
  }, 60_000);
});
