/**
 * The Lambda and CloudFormation APIs on a running local stack, driven by a real independent client: the
 * AWS CLI v1 (`aws --endpoint-url URL ...`, region us-east-1, credentials test/test). Invocations in
 * flight are counted from the function's own start/end log lines, outside the poller.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';
import { CONTROL_STACK, synthControlApp } from './fixtures/control-app';

const run = promisify(execFile);
const endpoints = localEndpoints();
let stack: LocalStack;
const events: Array<{ evt: string; t: number; ids: string[] }> = [];

/** The AWS CLI against the stack's endpoint; returns parsed JSON (or '' for empty output). */
async function aws(...args: string[]): Promise<any> {
  const { stdout } = await run('aws', ['--endpoint-url', stack.endpoint, '--output', 'json', ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1', AWS_PAGER: '' },
    timeout: 60_000,
  });
  return stdout.trim() ? JSON.parse(stdout) : '';
}

/** Most invocations in flight at once over [from, to), from the start/end log lines. */
function maxInFlight(from = 0, to = Infinity): number {
  const edges = events.filter((e) => e.evt === 'start' || e.evt === 'end').map((e) => ({ t: e.t, d: e.evt === 'start' ? 1 : -1 }));
  edges.sort((a, b) => a.t - b.t || a.d - b.d); // an end at the same ms counts before a start
  let n = 0;
  let max = 0;
  for (const e of edges) {
    n += e.d;
    if (e.t >= from && e.t < to) max = Math.max(max, n);
  }
  return max;
}
const starts = (from = 0) => events.filter((e) => e.evt === 'start' && e.t >= from);

async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not met in ${ms} ms`);
}

beforeAll(async () => {
  const dir = synthControlApp(mkdtempSync(join(tmpdir(), 'fg-control-')), { maxConcurrency: 5 });
  stack = await startLocalStack({
    assembly: dir,
    stack: CONTROL_STACK,
    emulators: endpoints,
    waitTimeSeconds: 1,
    log: () => undefined,
    onLog: (e) => {
      if (e.json && typeof e.json.evt === 'string') events.push(e.json as never);
    },
  });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

describe('the Lambda API through the AWS CLI', () => {
  it('lists the functions, gets one and its configuration', async () => {
    const fnName = stack.outputs.FunctionName!;
    const list = await aws('lambda', 'list-functions');
    expect(list.Functions.map((f: { FunctionName: string }) => f.FunctionName)).toContain(fnName);
    const got = await aws('lambda', 'get-function', '--function-name', fnName);
    expect(got.Configuration).toMatchObject({ FunctionName: fnName, Runtime: 'nodejs24.x', Timeout: 3, MemorySize: 128, Handler: 'index.handler' });
    const byArn = await aws('lambda', 'get-function-configuration', '--function-name', got.Configuration.FunctionArn);
    expect(byArn.FunctionName).toBe(fnName);
    await expect(aws('lambda', 'get-function', '--function-name', 'no-such-fn')).rejects.toThrow(/ResourceNotFoundException/);
  });

  it('invokes with an SQS event and gets the batch response (CLI v1 sends --payload raw: it has no --cli-binary-format); Event invocations answer 202', async () => {
    const fnName = stack.outputs.FunctionName!;
    const out = join(mkdtempSync(join(tmpdir(), 'fg-invoke-')), 'out.json');
    const record = (messageId: string, body: object) => ({ messageId, receiptHandle: 'r', body: JSON.stringify(body), attributes: { ApproximateReceiveCount: '1' }, messageAttributes: {}, eventSource: 'aws:sqs' });
    const payload = JSON.stringify({ Records: [record('m-ok', { id: 'cli-ok' }), record('m-bad', { id: 'cli-bad', fail: 'always' })] });
    const meta = await aws('lambda', 'invoke', '--function-name', fnName, '--payload', payload, out);
    expect(meta.StatusCode).toBe(200);
    expect(meta.FunctionError).toBeUndefined();
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-bad' }] });
    // A payload the handler cannot take: the function error comes back as Lambda reports it.
    const bad = await aws('lambda', 'invoke', '--function-name', fnName, '--payload', '"just a string"', out);
    expect(bad.FunctionError).toBe('Unhandled');
    expect(JSON.parse(readFileSync(out, 'utf8')).errorType).toBe('TypeError');
    const ev = await aws('lambda', 'invoke', '--function-name', fnName, '--invocation-type', 'Event', '--payload', payload, out);
    expect(ev.StatusCode).toBe(202);
  });

  it('disable leaves new messages in the queue; re-enable with MaximumConcurrency=2 never runs more than 2 at once', async () => {
    const fnName = stack.outputs.FunctionName!;
    const queueUrl = stack.outputs.QueueUrl!;
    const list = await aws('lambda', 'list-event-source-mappings', '--function-name', fnName);
    expect(list.EventSourceMappings).toHaveLength(1);
    const m = list.EventSourceMappings[0];
    expect(m).toMatchObject({ State: 'Enabled', BatchSize: 1, ScalingConfig: { MaximumConcurrency: 5 }, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const uuid: string = m.UUID;
    expect((await aws('lambda', 'get-event-source-mapping', '--uuid', uuid)).EventSourceArn).toBe(m.EventSourceArn);

    const disabled = await aws('lambda', 'update-event-source-mapping', '--uuid', uuid, '--no-enabled');
    expect(['Disabling', 'Disabled']).toContain(disabled.State);
    await until(async () => (await aws('lambda', 'get-event-source-mapping', '--uuid', uuid)).State === 'Disabled', 20_000, 'Disabled');
    const disabledAt = Date.now();
    for (let i = 0; i < 12; i += 6) {
      await stack.clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: Array.from({ length: 6 }, (_, j) => ({ Id: String(j), MessageBody: JSON.stringify({ id: `d${i + j}`, ms: 600 }) })) }));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const attrs = await aws('sqs', 'get-queue-attributes', '--queue-url', queueUrl, '--attribute-names', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible');
    expect(attrs.Attributes).toEqual({ ApproximateNumberOfMessages: '12', ApproximateNumberOfMessagesNotVisible: '0' });
    expect(starts(disabledAt)).toHaveLength(0);

    const enabledAt = Date.now();
    const enabled = await aws('lambda', 'update-event-source-mapping', '--uuid', uuid, '--enabled', '--scaling-config', 'MaximumConcurrency=2');
    expect(enabled).toMatchObject({ State: 'Enabled', ScalingConfig: { MaximumConcurrency: 2 } });
    await until(() => events.filter((e) => e.evt === 'end' && e.t >= enabledAt).length >= 12, 90_000, '12 invocations ended');
    expect(starts(enabledAt)).toHaveLength(12);
    expect(maxInFlight(enabledAt)).toBe(2);
  });

  it('reserved concurrency: put, read back, 0 throttles the poller, delete restores it', async () => {
    const fnName = stack.outputs.FunctionName!;
    expect(await aws('lambda', 'put-function-concurrency', '--function-name', fnName, '--reserved-concurrent-executions', '0')).toEqual({ ReservedConcurrentExecutions: 0 });
    expect((await aws('lambda', 'get-function', '--function-name', fnName)).Concurrency).toEqual({ ReservedConcurrentExecutions: 0 });
    const runner = [...stack.runners.values()][0]!;
    expect(runner.concurrencyCap).toBe(0);
    await aws('lambda', 'delete-function-concurrency', '--function-name', fnName);
    expect((await aws('lambda', 'get-function', '--function-name', fnName)).Concurrency).toBeUndefined();
    expect(runner.concurrencyCap).toBe(2);
  });
});

describe('the CloudFormation API through the AWS CLI', () => {
  it('describe-stacks shows the outputs; list-stack-resources the physical ids', async () => {
    const d = await aws('cloudformation', 'describe-stacks', '--stack-name', CONTROL_STACK);
    expect(d.Stacks).toHaveLength(1);
    expect(d.Stacks[0]).toMatchObject({ StackName: CONTROL_STACK, StackStatus: 'CREATE_COMPLETE' });
    const outputs = Object.fromEntries(d.Stacks[0].Outputs.map((o: { OutputKey: string; OutputValue: string }) => [o.OutputKey, o.OutputValue]));
    expect(outputs).toEqual(stack.outputs);
    expect(d.Stacks[0].Outputs.find((o: { OutputKey: string }) => o.OutputKey === 'QueueUrl').Description).toBe('work queue');
    const r = await aws('cloudformation', 'list-stack-resources', '--stack-name', CONTROL_STACK);
    const work = r.StackResourceSummaries.find((x: { LogicalResourceId: string }) => x.LogicalResourceId.startsWith('Work'));
    expect(work).toMatchObject({ ResourceType: 'AWS::SQS::Queue', PhysicalResourceId: stack.outputs.QueueUrl, ResourceStatus: 'CREATE_COMPLETE' });
    await expect(aws('cloudformation', 'describe-stacks', '--stack-name', 'Nope')).rejects.toThrow(/ValidationError.*does not exist/s);
  });
});
