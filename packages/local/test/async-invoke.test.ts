/**
 * Issue 21 part 3 on the embedded stack, with our own CDK app (fixtures/async-app.ts) and the AWS CLI:
 * `aws lambda invoke --invocation-type Event` on a failing function is retried twice (3 attempts, counted
 * from the function's own log lines) and its invocation record lands on the OnFailure queue; a success
 * lands on OnSuccess; MaximumRetryAttempts 0 with a Lambda destination; an event older than
 * MaximumEventAgeInSeconds goes to OnFailure as EventAgeExceeded; DeadLetterConfig gets the event with
 * RequestID / ErrorCode / ErrorMessage; a destination the role may not use is denied (IAM applies);
 * reserved concurrency 1 shared by two SQS mappings and asynchronous invokes runs everything, never two at
 * once; the event-invoke-config API.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';
import { ASYNC_STACK, synthAsyncApp } from './fixtures/async-app';

let stack: LocalStack;
const lines: Array<{ fn: string; json: Record<string, any> }> = [];
const logs: string[] = [];
let clockOffset = 0;
const run = promisify(execFile);

beforeAll(async () => {
  const dir = synthAsyncApp(mkdtempSync(join(tmpdir(), 'fg-async-')));
  stack = await startLocalStack({
    assembly: dir,
    stack: ASYNC_STACK,
    emulators: localEndpoints(),
    waitTimeSeconds: 1,
    asyncRetryDelaysMs: [200, 400],
    asyncClock: () => Date.now() + clockOffset,
    log: (l) => logs.push(l),
    onLog: (e) => {
      if (e.json) lines.push({ fn: e.functionName, json: e.json });
    },
  });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

const out = (k: string): string => stack.outputs[k]!;
/** A function's logical id (CDK adds a hash to it) from its name output. */
const idOf = (nameOutput: string): string => stack.deployment.functions.find((f) => f.functionName === out(nameOutput))!.logicalId;

async function aws(...args: string[]): Promise<any> {
  const { stdout } = await run('aws', ['--endpoint-url', stack.endpoint, '--output', 'json', ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1', AWS_PAGER: '', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    timeout: 60_000,
  });
  return stdout.trim() ? JSON.parse(stdout) : '';
}
const invokeEvent = (fn: string, payload: unknown) => aws('lambda', 'invoke', '--function-name', fn, '--invocation-type', 'Event', '--payload', JSON.stringify(payload), join(tmpdir(), `fg-async-out-${Date.now()}.json`));

async function until<T>(get: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not seen in ${ms} ms`);
}

/** Receives (and keeps) messages of a queue until one matches. */
const seen = new Map<string, Message[]>();
async function messageWhere(queueUrl: string, match: (m: Message) => boolean, ms = 10_000): Promise<Message> {
  return until(async () => {
    const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }));
    const list = seen.get(queueUrl) ?? [];
    list.push(...(r.Messages ?? []));
    seen.set(queueUrl, list);
    return list.find(match);
  }, ms, `a message on ${queueUrl}`);
}
const recordFor = (tag: string) => (m: Message) => JSON.parse(m.Body ?? '{}')?.requestPayload?.tag === tag;
const attempts = (tag: string) => lines.filter((l) => l.json.attempt === tag);

describe('InvocationType Event with EventInvokeConfig destinations (AWS CLI)', () => {
  it('a failing function is retried twice (3 attempts, one request id) and its record lands on the OnFailure queue', async () => {
    const r = await aws('lambda', 'invoke', '--function-name', out('WorkerName'), '--invocation-type', 'Event', '--payload', JSON.stringify({ tag: 'fail-1', fail: true }), join(tmpdir(), 'fg-async-fail.json'));
    expect(r.StatusCode).toBe(202);
    const m = await messageWhere(out('OnFailureUrl'), recordFor('fail-1'));
    const rec = JSON.parse(m.Body!);
    expect(attempts('fail-1')).toHaveLength(3);
    expect(new Set(attempts('fail-1').map((a) => a.json.requestId))).toEqual(new Set([rec.requestContext.requestId]));
    expect(rec).toMatchObject({
      version: '1.0',
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3, functionArn: expect.stringMatching(/^arn:aws:lambda:us-east-1:\d{12}:function:.+:\$LATEST$/) },
      requestPayload: { tag: 'fail-1', fail: true },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'Error', errorMessage: 'asked to fail: fail-1' },
    });
    expect(Date.parse(rec.timestamp)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a succeeding one lands on OnSuccess with its response', async () => {
    await invokeEvent(out('WorkerName'), { tag: 'ok-1' });
    const rec = JSON.parse((await messageWhere(out('OnSuccessUrl'), recordFor('ok-1'))).Body!);
    expect(rec).toMatchObject({ requestContext: { condition: 'Success', approximateInvokeCount: 1 }, responseContext: { statusCode: 200, executedVersion: '$LATEST' }, responsePayload: { echoed: 'ok-1' } });
    expect(rec.responseContext.functionError).toBeUndefined();
    expect(attempts('ok-1')).toHaveLength(1);
  });

  it('MaximumRetryAttempts 0: one attempt, the record goes to the OnFailure Lambda destination', async () => {
    await invokeEvent(out('NoRetryName'), { tag: 'once', fail: true });
    const sink = await until(() => lines.find((l) => l.json.sink?.requestPayload?.tag === 'once'), 10_000, 'the record at the Lambda destination');
    expect(sink.json.sink).toMatchObject({ requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 1 }, responseContext: { functionError: 'Unhandled' } });
    await new Promise((r) => setTimeout(r, 800)); // longer than both retry waits
    expect(attempts('once')).toHaveLength(1);
  });

  it('an event older than MaximumEventAgeInSeconds (60) is not retried: OnFailure with EventAgeExceeded', async () => {
    // The first attempt lasts 2 s (logged at its start): time to move the clock before its retry.
    await invokeEvent(out('WorkerName'), { tag: 'old', fail: true, sleepMs: 2000 });
    await until(() => attempts('old').length >= 1, 10_000, 'first attempt');
    clockOffset = 120_000; // the event is now two minutes old when its retry comes up
    try {
      const rec = JSON.parse((await messageWhere(out('OnFailureUrl'), recordFor('old'))).Body!);
      expect(rec.requestContext).toMatchObject({ condition: 'EventAgeExceeded', approximateInvokeCount: 1 });
      expect(attempts('old')).toHaveLength(1);
    } finally {
      clockOffset = 0;
    }
  });

  it('DeadLetterConfig: the failed event itself, with RequestID, ErrorCode and ErrorMessage', async () => {
    await invokeEvent(out('WithDlqName'), { tag: 'dead', fail: true });
    const m = await messageWhere(out('DlqUrl'), (x) => JSON.parse(x.Body ?? '{}').tag === 'dead');
    expect(JSON.parse(m.Body!)).toEqual({ tag: 'dead', fail: true });
    expect(attempts('dead')).toHaveLength(2); // retryAttempts 1
    expect(m.MessageAttributes?.RequestID?.StringValue).toBe(attempts('dead')[0]!.json.requestId);
    expect(m.MessageAttributes?.ErrorCode).toMatchObject({ DataType: 'Number', StringValue: '200' });
    expect(m.MessageAttributes?.ErrorMessage?.StringValue).toBe('asked to fail: dead');
  });

  it("destinations are sent as the function's role: a queue it may not send to is denied and counted", async () => {
    await invokeEvent(out('UngrantedName'), { tag: 'denied', fail: true });
    const inv = stack.asyncInvokers.get(idOf('UngrantedName'))!;
    await until(() => inv.stats().destinationDeliveryFailures === 1, 10_000, 'the delivery failure');
    expect(logs.some((l) => /OnFailure destination .*UngrantedQueue.* not delivered \(DestinationDeliveryFailures\): sqs: AccessDenied/.test(l))).toBe(true);
    const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: out('UngrantedUrl'), WaitTimeSeconds: 0 }));
    expect(r.Messages ?? []).toHaveLength(0);
  });
});

describe('reserved concurrency shared by the SQS mappings and the event queue', () => {
  it('reserved concurrency 1 over two SQS mappings and Invoke Event: every event and message runs, never two at once', async () => {
    const fn = out('ThrottledName');
    const tags = ['t1', 't2', 't3', 't4'];
    await Promise.all(tags.map((tag) => invokeEvent(fn, { tag, sleepMs: 300 })));
    for (const body of ['m1', 'm2', 'm3']) await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: out('FeedUrl'), MessageBody: body }));
    for (const body of ['n1', 'n2', 'n3']) await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: out('Feed2Url'), MessageBody: body }));
    const all = [...tags, 'm1', 'm2', 'm3', 'n1', 'n2', 'n3'];
    await until(() => all.every((t) => lines.some((l) => l.json.done === t)), 40_000, 'all ten runs');
    const spans = all.map((t) => [lines.find((l) => l.json.attempt === t)!.json.t as number, lines.find((l) => l.json.done === t)!.json.t as number] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(stack.functionConcurrency.get(idOf('ThrottledName'))!.maxInUse).toBe(1);
    const stats = stack.asyncInvokers.get(idOf('ThrottledName'))!.stats();
    expect(stats.succeeded).toBe(4);
    expect(stats.failed).toBe(0);
    expect(stats.throttles).toBeGreaterThan(0);
  }, 120_000);

  it('a synchronous Invoke over the reserved concurrency is throttled (429 TooManyRequestsException)', async () => {
    const fn = out('ThrottledName');
    await invokeEvent(fn, { tag: 'busy', sleepMs: 4000 });
    await until(() => attempts('busy').length === 1, 10_000, 'the long event running');
    // Signed in-process (the CLI takes seconds to start on a loaded machine; the busy run lasts 4 s).
    const url = new URL(`/2015-03-31/functions/${fn}/invocations`, stack.endpoint);
    const signer = new SignatureV4({ credentials: stack.credentials, region: 'us-east-1', service: 'lambda', sha256: Sha256 });
    const body = '{"tag":"sync"}';
    const signed = await signer.sign({ method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host, 'content-type': 'application/json' }, body });
    const res = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ message: 'Rate Exceeded.' });
    expect(res.headers.get('x-amzn-errortype') ?? '').toMatch(/TooManyRequestsException|^$/);
    expect(attempts('sync')).toHaveLength(0);
  });
});

describe('event-invoke-config API (AWS CLI)', () => {
  it('get, update, put and delete, as Lambda answers them; an EventBridge destination is accepted where EventBridge is served', async () => {
    const fn = out('WorkerName');
    const got = await aws('lambda', 'get-function-event-invoke-config', '--function-name', fn);
    expect(got).toMatchObject({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60, DestinationConfig: { OnFailure: { Destination: out('OnFailureArn') } } });
    const upd = await aws('lambda', 'update-function-event-invoke-config', '--function-name', fn, '--maximum-retry-attempts', '1');
    expect(upd).toMatchObject({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 60, DestinationConfig: { OnFailure: { Destination: out('OnFailureArn') } } });
    await invokeEvent(fn, { tag: 'after-update', fail: true });
    const rec = JSON.parse((await messageWhere(out('OnFailureUrl'), recordFor('after-update'))).Body!);
    expect(rec.requestContext.approximateInvokeCount).toBe(2);

    const put = await aws('lambda', 'put-function-event-invoke-config', '--function-name', out('ThrottledName'), '--maximum-retry-attempts', '0', '--maximum-event-age-in-seconds', '3600');
    expect(put).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 3600, DestinationConfig: { OnSuccess: {}, OnFailure: {} } });
    await aws('lambda', 'delete-function-event-invoke-config', '--function-name', out('ThrottledName'));
    await expect(aws('lambda', 'get-function-event-invoke-config', '--function-name', out('ThrottledName'))).rejects.toThrow(/ResourceNotFoundException/);
    await expect(aws('lambda', 'put-function-event-invoke-config', '--function-name', fn, '--maximum-retry-attempts', '3')).rejects.toThrow(/InvalidParameterValueException|must be less than or equal|Invalid value/);
    // The endpoint serves EventBridge (services/events), so an event bus is a destination it accepts.
    await expect(
      aws('lambda', 'put-function-event-invoke-config', '--function-name', fn, '--destination-config', JSON.stringify({ OnFailure: { Destination: 'arn:aws:events:us-east-1:000000000000:event-bus/default' } })),
    ).resolves.toMatchObject({ DestinationConfig: { OnFailure: { Destination: 'arn:aws:events:us-east-1:000000000000:event-bus/default' } } });
  });
});
