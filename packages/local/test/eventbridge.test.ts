/**
 * Issue 21 part 1, EventBridge and EventBridge Scheduler on the embedded stack, with our own CDK app
 * (fixtures/eventbridge-app.ts): `aws events put-events` (the AWS CLI) on a custom bus reaching only the
 * queue whose numeric + anything-but rule matches, a FIFO target with its MessageGroupId, an
 * InputTransformer → Lambda (observed through the function's log lines), a target that fails ending on
 * its DLQ with AWS's attributes, per-entry PutEvents errors, a scheduled rule fired through the test
 * API and through the endpoint, and Scheduler schedules fired on demand: one reaching SQS through its
 * role, one whose role lacks the grant denied and counted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { parseCli, UsageError } from '../src/cli/args';
import { eventLines } from '../src/cli/main';
import { signedPost } from '../src/services/events/deliver';
import { localEndpoints } from '../../../test/support/local-env';
import { EVENTBRIDGE_STACK, synthEventBridgeApp } from './fixtures/eventbridge-app';

let stack: LocalStack;
const recorded: Array<Record<string, any>> = [];
const logs: string[] = [];

beforeAll(async () => {
  const dir = synthEventBridgeApp(mkdtempSync(join(tmpdir(), 'fg-eventbridge-')));
  stack = await startLocalStack({
    assembly: dir,
    stack: EVENTBRIDGE_STACK,
    emulators: localEndpoints(),
    waitTimeSeconds: 1,
    eventRetryBaseMs: 50,
    log: (l) => logs.push(l),
    onLog: (e) => {
      if (e.json && 'recorded' in e.json) recorded.push(e.json.recorded as Record<string, any>);
    },
  });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

async function until<T>(get: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not seen in ${ms} ms`);
}

async function drain(queueUrl: string, min: number, ms = 5000): Promise<Message[]> {
  const got: Message[] = [];
  const end = Date.now() + ms;
  do {
    const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], AttributeNames: ['All'] }));
    got.push(...(r.Messages ?? []));
    if (got.length >= min && (r.Messages ?? []).length === 0) break;
    if ((r.Messages ?? []).length === 0) await new Promise((res) => setTimeout(res, 100));
  } while (Date.now() < end);
  return got;
}

const out = (k: string): string => stack.outputs[k]!;
const run = promisify(execFile);

/** The AWS CLI v1 against the stack's endpoint (a client independent of ours). */
async function aws(...args: string[]): Promise<any> {
  const { stdout } = await run('aws', ['--endpoint-url', stack.endpoint, '--output', 'json', ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1', AWS_PAGER: '', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    timeout: 60_000,
  });
  return stdout.trim() ? JSON.parse(stdout) : '';
}

describe('EventBridge rules on a custom bus', () => {
  it('aws events put-events reaches only the queue whose numeric + anything-but rule matches', async () => {
    const entries = [
      { Source: 'shop', DetailType: 'order', Detail: JSON.stringify({ id: 'big-1', total: 250, status: 'paid' }), EventBusName: out('BusName') },
      { Source: 'shop', DetailType: 'order', Detail: JSON.stringify({ id: 'big-cancelled', total: 500, status: 'cancelled' }), EventBusName: out('BusName') },
      { Source: 'shop', DetailType: 'order', Detail: JSON.stringify({ id: 'small-1', total: 20, status: 'paid' }), EventBusName: out('BusName') },
      { Source: 'other', DetailType: 'order', Detail: JSON.stringify({ id: 'other-1', total: 999, status: 'paid' }), EventBusName: out('BusName') },
    ];
    const res = await aws('events', 'put-events', '--entries', JSON.stringify(entries));
    expect(res.FailedEntryCount).toBe(0);
    expect(res.Entries).toHaveLength(4);
    const big = await drain(out('BigQueueUrl'), 1);
    const small = await drain(out('SmallQueueUrl'), 1);
    expect(big.map((m) => JSON.parse(m.Body!).detail.id)).toEqual(['big-1']);
    expect(small.map((m) => JSON.parse(m.Body!).detail.id)).toEqual(['small-1']);
    const event = JSON.parse(big[0]!.Body!);
    expect(event).toMatchObject({ version: '0', id: res.Entries[0].EventId, 'detail-type': 'order', source: 'shop', region: 'us-east-1', resources: [], detail: { id: 'big-1', total: 250, status: 'paid' } });
    expect(event.account).toMatch(/^\d{12}$/);
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const stats = stack.stats().events.rules;
    expect(stats.find((r) => r.name.includes('BigOrdersRule'))).toMatchObject({ matchedEvents: 1, invocations: 1, failedInvocations: 0 });
  }, 60_000);

  it('the AWS CLI lists and describes buses, rules and targets', async () => {
    const buses = await aws('events', 'list-event-buses');
    expect(buses.EventBuses.map((b: any) => b.Name).sort()).toEqual(['default', 'fg-orders']);
    const rules = await aws('events', 'list-rules', '--event-bus-name', out('BusName'));
    const big = rules.Rules.find((r: any) => r.Name.includes('BigOrdersRule'));
    expect(JSON.parse(big.EventPattern)).toEqual({ source: ['shop'], detail: { total: [{ numeric: ['>', 100] }], status: [{ 'anything-but': ['cancelled', 'test'] }] } });
    const described = await aws('events', 'describe-rule', '--name', big.Name, '--event-bus-name', out('BusName'));
    expect(described).toMatchObject({ Name: big.Name, State: 'ENABLED', EventBusName: 'fg-orders' });
    const t = await aws('events', 'list-targets-by-rule', '--rule', big.Name, '--event-bus-name', out('BusName'));
    expect(t.Targets[0].Arn).toMatch(/^arn:aws:sqs:/);
    const nightly = await aws('events', 'describe-rule', '--name', 'fg-nightly');
    expect(nightly.ScheduleExpression).toBe('cron(0 3 * * ? *)');
  }, 60_000);

  it('per-entry PutEvents errors: missing fields, malformed detail, too large, unknown bus', async () => {
    const bus = out('BusName');
    const res = stack.events.putEvents([
      { Source: 'shop', DetailType: 'order', Detail: '{"total":1}', EventBusName: bus },
      { DetailType: 'order', Detail: '{}', EventBusName: bus },
      { Source: 'shop', DetailType: 'order', Detail: 'not json', EventBusName: bus },
      { Source: 'shop', DetailType: 'order', Detail: '{}', EventBusName: 'no-such-bus' },
    ]);
    expect(res.FailedEntryCount).toBe(3);
    expect(res.Entries[0]).toHaveProperty('EventId');
    expect(res.Entries[1]).toMatchObject({ ErrorCode: 'InvalidArgument' });
    expect(res.Entries[2]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(res.Entries[3]).toMatchObject({ ErrorCode: 'ResourceNotFoundException' });
    // Too large: one entry over 256 KB is refused (the whole request is over the limit too).
    const file = join(mkdtempSync(join(tmpdir(), 'fg-big-')), 'entries.json');
    writeFileSync(file, JSON.stringify([{ Source: 's', DetailType: 'd', Detail: JSON.stringify({ x: 'y'.repeat(262_144) }) }]));
    await expect(aws('events', 'put-events', '--entries', `file://${file}`)).rejects.toThrow(/ValidationException|over the limit/);
    await expect(aws('events', 'put-events', '--entries', JSON.stringify(Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 'd', Detail: '{}' }))))).rejects.toThrow(/ValidationException|length/);
    await drain(out('SmallQueueUrl'), 1);
  }, 60_000);

  it('a FIFO queue target gets its SqsParameters MessageGroupId', async () => {
    stack.putEvents(out('BusName'), [{ Source: 'fifo-shop', DetailType: 'log', Detail: '{"n":1}' }]);
    const [m] = await drain(out('FifoQueueUrl'), 1);
    expect(m!.Attributes?.MessageGroupId).toBe('orders');
    expect(JSON.parse(m!.Body!).detail).toEqual({ n: 1 });
  });

  it('an SNS topic target with InputPath (equals-ignore-case pattern)', async () => {
    const res = stack.putEvents(out('BusName'), [
      { Source: 'monitor', DetailType: 'alert', Detail: JSON.stringify({ level: 'error', text: 'disk full' }) },
      { Source: 'monitor', DetailType: 'alert', Detail: JSON.stringify({ level: 'info', text: 'fine' }) },
    ]);
    expect(res.FailedEntryCount).toBe(0);
    const got = await drain(out('AlertsQueueUrl'), 1);
    expect(got.map((m) => JSON.parse(m.Body!))).toEqual([{ level: 'error', text: 'disk full' }]);
  });

  it('an InputTransformer → Lambda: quoted placeholders as text, unquoted as JSON', async () => {
    stack.putEvents(out('BusName'), [{ Source: 'shop', DetailType: 'shipped', Detail: JSON.stringify({ id: 'o-7', city: 'Lyon', items: [1, 2], total: 0 }) }]);
    const got = await until(() => recorded.find((e) => e.order === 'o-7'), 15_000, 'the transformed input');
    expect(got).toEqual({ order: 'o-7', line: 'order o-7 shipped to Lyon', items: [1, 2] });
  });

  it('a target that does not exist (a permanent error: not retried, as EventBridge does) lands on its DLQ with AWS attributes', async () => {
    const before = stack.stats().events.rules.find((r) => r.name.includes('GoneRule'))!;
    stack.putEvents(out('BusName'), [{ Source: 'gone', DetailType: 'x', Detail: '{"k":"v"}' }]);
    const [m] = await drain(out('DlqUrl'), 1, 10_000);
    expect(m).toBeDefined();
    expect(JSON.parse(m!.Body!)).toMatchObject({ source: 'gone', detail: { k: 'v' } });
    const a = m!.MessageAttributes!;
    expect(a.ERROR_CODE?.StringValue).toMatch(/NonExistentQueue|QueueDoesNotExist/);
    expect(a.ERROR_MESSAGE?.StringValue).toBeTruthy();
    expect(a.RULE_ARN?.StringValue).toMatch(/^arn:aws:events:us-east-1:\d{12}:rule\/fg-orders\/.*GoneRule/);
    expect(a.TARGET_ARN?.StringValue).toMatch(/:fg-gone-queue$/);
    const after = stack.stats().events.rules.find((r) => r.name.includes('GoneRule'))!;
    expect(after.failedInvocations - before.failedInvocations).toBe(1);
    expect(after.deadLetterInvocations - before.deadLetterInvocations).toBe(1);
  });
});

describe('schedules fired on demand', () => {
  it('a scheduled rule through the test API sends the scheduled event (or its Input) to its target', async () => {
    const fired = await stack.schedules.fire('fg-nightly');
    expect(fired.kind).toBe('rule');
    expect(fired.event).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [fired.arn], detail: {} });
    expect(fired.targets[0]!.outcome.status).toBe('delivered');
    const [m] = await drain(out('NightlyQueueUrl'), 1);
    expect(JSON.parse(m!.Body!)).toEqual({ job: 'nightly' });
    expect(stack.stats().events.rules.find((r) => r.name === 'fg-nightly')!.nextFire).toMatch(/T03:00:00/);
  });

  it('the endpoint fires one too (signed; an unsigned request is refused)', async () => {
    const path = '/_floodgate/schedules/fg-nightly/fire';
    const res = await signedPost(stack.endpoint, 'us-east-1', stack.credentials, 'events', path, {}, '');
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).targets[0].outcome.status).toBe('delivered');
    expect((await fetch(`${stack.endpoint}${path}`, { method: 'POST' })).status).toBeGreaterThanOrEqual(400);
    await drain(out('NightlyQueueUrl'), 1);
  });

  it('the CLI fires one: floodgate-local fire NAME --endpoint URL', async () => {
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', cli, 'fire', 'fg-nightly', '--endpoint', stack.endpoint], { env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }, timeout: 60_000 });
    expect(JSON.parse(stdout)).toMatchObject({ name: 'fg-nightly', kind: 'rule', targets: [{ outcome: { status: 'delivered' } }] });
    await drain(out('NightlyQueueUrl'), 1);
    await expect(run(process.execPath, ['--import', 'tsx', cli, 'fire', 'nope', '--endpoint', stack.endpoint], { timeout: 60_000 })).rejects.toThrow(/No scheduled rule or schedule named nope/);
    expect(parseCli(['fire', 'x'], { AWS_ENDPOINT_URL: 'http://127.0.0.1:1' })).toEqual({ command: 'fire', name: 'x', endpoint: 'http://127.0.0.1:1' });
    expect(() => parseCli(['fire', 'x'], {})).toThrow(UsageError);
  }, 90_000);

  it('a Scheduler schedule reaches SQS through its role, with its Input', async () => {
    const fired = await stack.schedules.fire('fg-send');
    expect(fired.kind).toBe('schedule');
    expect(fired.targets[0]!.outcome).toMatchObject({ status: 'delivered' });
    const [m] = await drain(out('ScheduledQueueUrl'), 1);
    expect(JSON.parse(m!.Body!)).toEqual({ job: 'report' });
    const s = stack.stats().events.schedules.find((x) => x.name === 'fg-send')!;
    expect(s).toMatchObject({ runs: 1, invocations: 1, failedInvocations: 0 });
    // 09:30 Europe/Paris is 08:30 or 07:30 UTC.
    expect(s.nextFire).toMatch(/T0[78]:30:00/);
  });

  it('a schedule whose role lacks the grant is denied by IAM and counted, not lost silently', async () => {
    const fired = await stack.schedules.fire('fg-denied');
    expect(fired.targets[0]!.outcome).toMatchObject({ status: 'failed', errorCode: 'AccessDenied', attempts: 1 });
    expect(stack.stats().events.schedules.find((x) => x.name === 'fg-denied')).toMatchObject({ runs: 1, failedInvocations: 1 });
    expect(logs.some((l) => l.includes('fg-denied') && l.includes('AccessDenied'))).toBe(true);
    expect(await drain(out('DeniedQueueUrl'), 0, 500)).toHaveLength(0);
    await expect(stack.schedules.fire('no-such-schedule')).rejects.toThrow(/No scheduled rule or schedule/);
    // What `floodgate-local up` prints when it stops.
    expect(eventLines(stack)).toContain('scheduler: schedule fg-denied: 1 runs, 1 invocations, 1 failed, 0 dead-lettered');
    expect(eventLines(stack).some((l) => /^events: rule .*GoneRule.* 1 failed, 1 dead-lettered$/.test(l))).toBe(true);
  });
});
