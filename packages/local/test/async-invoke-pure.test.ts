/**
 * Issue 21 part 3, the pure parts of asynchronous invocation: the retry / age / throttle decisions, the
 * invoker applying them (retries from the live settings, events older than MaximumEventAgeInSeconds,
 * reserved concurrency shared and throttled events waiting instead of failing), EventInvokeConfig
 * validation, the invocation record, dead-letter message and EventBridge entry shapes, the Lambda API
 * routes and IAM actions of the event-invoke-config operations.
 */
import { describe, expect, it } from 'vitest';
import type { InvokeResult } from '../src/lambda-host/index';
import { afterAttempt, beforeAttempt, DEFAULT_ASYNC_RETRY_SETTINGS, eventExpired } from '../src/services/lambda/async-invoke-policy';
import { createAsyncInvoker, type AsyncInvocationOutcome } from '../src/services/lambda/async-invoke';
import { AsyncInvokeConfigs, AsyncSettingsError, destinationKind, eventInvokeConfigView, parseEventInvokeConfig } from '../src/services/lambda/async-invoke-config';
import { deadLetterMessage, eventBridgeEntry, invocationRecord } from '../src/services/lambda/async-destinations';
import { FunctionConcurrency } from '../src/services/lambda/function-concurrency';
import { routeLambda } from '../src/services/lambda/handler';
import { lambdaAuthorizations } from '../src/gateway/iam/actions';

const ok = (value: unknown = { done: true }): InvokeResult => ({ ok: true, value, requestId: 'r', environmentId: 1, durationMs: 1 });
const fail = (): InvokeResult => ({ ok: false, requestId: 'r', environmentId: 1, durationMs: 1, error: { kind: 'handler', errorType: 'Error', errorMessage: 'boom' } });
const S = DEFAULT_ASYNC_RETRY_SETTINGS;

describe('retry and age decisions', () => {
  it('retries a failure MaximumRetryAttempts times with the given waits, then RetriesExhausted; success settles at once', () => {
    expect(afterAttempt({ ok: true, attempts: 1, settings: S })).toEqual({ kind: 'settle', condition: 'Success' });
    expect(afterAttempt({ ok: false, attempts: 1, settings: S })).toEqual({ kind: 'retry', delayMs: 60_000 });
    expect(afterAttempt({ ok: false, attempts: 2, settings: S })).toEqual({ kind: 'retry', delayMs: 120_000 });
    expect(afterAttempt({ ok: false, attempts: 3, settings: S })).toEqual({ kind: 'settle', condition: 'RetriesExhausted' });
    const none = { ...S, maximumRetryAttempts: 0 };
    expect(afterAttempt({ ok: false, attempts: 1, settings: none })).toEqual({ kind: 'settle', condition: 'RetriesExhausted' });
    expect(afterAttempt({ ok: false, attempts: 1, settings: { ...S, maximumRetryAttempts: 1 }, retryDelaysMs: [5] })).toEqual({ kind: 'retry', delayMs: 5 });
  });

  it('discards an event older than MaximumEventAgeInSeconds (EventAgeExceeded), and every event when reserved concurrency is 0', () => {
    const s = { ...S, maximumEventAgeInSeconds: 60 };
    expect(eventExpired(0, 60_000, s)).toBe(false);
    expect(eventExpired(0, 60_001, s)).toBe(true);
    expect(beforeAttempt({ enqueuedAt: 0, now: 59_000, settings: s })).toEqual({ kind: 'run' });
    expect(beforeAttempt({ enqueuedAt: 0, now: 61_000, settings: s })).toMatchObject({ kind: 'discard', condition: 'EventAgeExceeded' });
    expect(beforeAttempt({ enqueuedAt: 0, now: 0, settings: s, reservedConcurrency: 0 })).toMatchObject({ kind: 'discard', condition: 'RetriesExhausted' });
    expect(beforeAttempt({ enqueuedAt: 0, now: 0, settings: s, reservedConcurrency: 1 })).toEqual({ kind: 'run' });
  });
});

describe('the invoker', () => {
  it('reads MaximumRetryAttempts live and reports each outcome with its condition and attempt count', async () => {
    let retries = 2;
    const outcomes: AsyncInvocationOutcome[] = [];
    const inv = createAsyncInvoker({ functionName: 'f', target: { invoke: async () => fail() }, retryDelaysMs: [5, 5], settings: () => ({ ...S, maximumRetryAttempts: retries }), onOutcome: (o) => void outcomes.push(o) });
    inv.enqueue({ n: 1 });
    await inv.idle();
    retries = 0;
    inv.enqueue({ n: 2 });
    await inv.idle();
    expect(outcomes.map((o) => [o.event, o.condition, o.attempts])).toEqual([
      [{ n: 1 }, 'RetriesExhausted', 3],
      [{ n: 2 }, 'RetriesExhausted', 1],
    ]);
  });

  it('runs every attempt of one event with the request id Invoke answered', async () => {
    const ids: Array<string | undefined> = [];
    const inv = createAsyncInvoker({ functionName: 'f', target: { invoke: async (_e, o) => (ids.push(o?.requestId), fail()) }, retryDelaysMs: [1, 1] });
    const id = inv.enqueue({});
    await inv.idle();
    expect(ids).toEqual([id, id, id]);
  });

  it('stops retrying once the event is too old (EventAgeExceeded after 1 attempt)', async () => {
    let t = 0;
    const outcomes: AsyncInvocationOutcome[] = [];
    const inv = createAsyncInvoker({
      functionName: 'f',
      now: () => t,
      settings: () => ({ maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60 }),
      retryDelaysMs: [5, 5],
      target: { invoke: async () => ((t += 61_000), fail()) },
      onOutcome: (o) => void outcomes.push(o),
    });
    inv.enqueue('e');
    await inv.idle();
    expect(outcomes.map((o) => [o.condition, o.attempts, o.result?.ok])).toEqual([['EventAgeExceeded', 1, false]]);
    expect(inv.stats()).toMatchObject({ expired: 1, failed: 1, retries: 1 });
  });

  it('reserved concurrency 1 shared by two invokers: never two at once, throttled events wait and all run', async () => {
    const slots = new FunctionConcurrency(1);
    let running = 0;
    let max = 0;
    const target = {
      invoke: async (): Promise<InvokeResult> => {
        max = Math.max(max, ++running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return ok();
      },
    };
    const a = createAsyncInvoker({ functionName: 'f', target, functionConcurrency: slots });
    const b = createAsyncInvoker({ functionName: 'f', target, functionConcurrency: slots });
    for (let i = 0; i < 5; i++) (a.enqueue(i), b.enqueue(i));
    await Promise.all([a.idle(), b.idle()]);
    expect(max).toBe(1);
    expect(slots.maxInUse).toBe(1);
    expect(a.stats().succeeded + b.stats().succeeded).toBe(10);
    expect(a.stats().failed + b.stats().failed).toBe(0);
    expect(a.stats().throttles + b.stats().throttles).toBeGreaterThan(0);
  });

  it('a throttled event that gets too old while waiting is discarded (EventAgeExceeded, never run); reserved 0 fails at once', async () => {
    let t = 0;
    const slots = new FunctionConcurrency(1);
    let release!: () => void;
    const outcomes: AsyncInvocationOutcome[] = [];
    const inv = createAsyncInvoker({
      functionName: 'f',
      now: () => t,
      functionConcurrency: slots,
      settings: () => ({ maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60 }),
      target: { invoke: () => new Promise<InvokeResult>((r) => (release = () => r(ok()))) },
      onOutcome: (o) => void outcomes.push(o),
    });
    inv.enqueue('holds the slot');
    inv.enqueue('throttled');
    t = 59_990; // the second event has 10 ms left when it finds no slot
    await new Promise((r) => setTimeout(r, 100));
    expect(outcomes.map((o) => [o.event, o.condition, o.attempts, o.throttled])).toEqual([['throttled', 'EventAgeExceeded', 0, true]]);
    release();
    await inv.idle();
    expect(outcomes.at(-1)).toMatchObject({ event: 'holds the slot', condition: 'Success', attempts: 1 });

    slots.setReserved(0);
    inv.enqueue('zero');
    await inv.idle();
    expect(outcomes.at(-1)).toMatchObject({ event: 'zero', condition: 'RetriesExhausted', attempts: 0 });
  });

  it('idle() waits for the destination delivery and counts its failures', async () => {
    const inv = createAsyncInvoker({ functionName: 'f', target: { invoke: async () => ok() }, onOutcome: async () => (await new Promise((r) => setTimeout(r, 20)), { destinationDeliveryFailures: 1 }) });
    inv.enqueue({});
    await inv.idle();
    expect(inv.stats().destinationDeliveryFailures).toBe(1);
  });
});

describe('EventInvokeConfig', () => {
  it('takes Lambda defaults, validates ranges and destinations, and keeps unspecified fields on update', () => {
    const c = parseEventInvokeConfig({}, 'X', undefined, 100);
    expect(c).toEqual({ maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600, lastModified: 100 });
    expect(() => parseEventInvokeConfig({ MaximumRetryAttempts: 3 }, 'X')).toThrow(/MaximumRetryAttempts must be an integer from 0 to 2/);
    expect(() => parseEventInvokeConfig({ MaximumEventAgeInSeconds: 59 }, 'X')).toThrow(AsyncSettingsError);
    expect(() => parseEventInvokeConfig({ MaximumEventAgeInSeconds: 21_601 }, 'X')).toThrow(/60 to 21600/);
    expect(() => parseEventInvokeConfig({ DestinationConfig: { OnFailure: { Destination: 'arn:aws:s3:::bucket' } } }, 'X')).toThrow(/S3 bucket destinations are not emulated/);
    expect(() => destinationKind('arn:aws:dynamodb:us-east-1:000000000000:table/t', 'X')).toThrow(/not an SQS queue, SNS topic/);
    const full = parseEventInvokeConfig({ MaximumRetryAttempts: '0', MaximumEventAgeInSeconds: 60, DestinationConfig: { OnSuccess: { Destination: 'arn:aws:sqs:us-east-1:000000000000:ok' }, OnFailure: { Destination: 'arn:aws:lambda:us-east-1:000000000000:function:f' } } }, 'X', undefined, 1);
    expect(full).toMatchObject({ maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60, onSuccess: 'arn:aws:sqs:us-east-1:000000000000:ok' });
    const updated = parseEventInvokeConfig({ MaximumRetryAttempts: 1 }, 'X', full, 2);
    expect(updated).toMatchObject({ maximumRetryAttempts: 1, maximumEventAgeInSeconds: 60, onSuccess: full.onSuccess, onFailure: full.onFailure, lastModified: 2 });
    expect(eventInvokeConfigView(parseEventInvokeConfig({}, 'X', undefined, 5), 'arn:aws:lambda:us-east-1:000000000000:function:f')).toEqual({
      LastModified: 5,
      FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnSuccess: {}, OnFailure: {} },
    });
  });

  it('refuses an EventBridge destination by name where the endpoint serves no EventBridge, and accepts it where it does', () => {
    const bus = parseEventInvokeConfig({ DestinationConfig: { OnFailure: { Destination: 'arn:aws:events:us-east-1:000000000000:event-bus/default' } } }, 'X');
    expect(() => new AsyncInvokeConfigs(() => false).put('F', bus, 'Cfg')).toThrow(/Cfg: DestinationConfig.OnFailure arn:aws:events:.*EventBridge is not emulated on this stack/);
    const withEvents = new AsyncInvokeConfigs(() => true);
    withEvents.put('F', bus, 'Cfg');
    expect(withEvents.get('F')?.onFailure).toContain(':event-bus/default');
    expect(() => withEvents.setDeadLetterTarget('F', 'arn:aws:lambda:us-east-1:000000000000:function:g', 'F')).toThrow(/must be an SQS queue or SNS topic/);
  });
});

describe('records', () => {
  const base = { requestId: 'req-1', event: { order: 7 }, enqueuedAt: 0, throttled: false } as const;
  const arn = 'arn:aws:lambda:us-east-1:000000000000:function:f';
  it('an exhausted failure: AWS invocation record shape', () => {
    const rec = invocationRecord({ ...base, attempts: 3, condition: 'RetriesExhausted', result: fail() }, arn, new Date('2026-01-01T00:00:00.000Z'));
    expect(rec).toEqual({
      version: '1.0',
      timestamp: '2026-01-01T00:00:00.000Z',
      requestContext: { requestId: 'req-1', functionArn: `${arn}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { order: 7 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'Error', errorMessage: 'boom' },
    });
  });
  it('a success carries the function response; an event never run has statusCode 429 and no payload', () => {
    const rec = invocationRecord({ ...base, attempts: 1, condition: 'Success', result: ok({ id: 1 }) }, arn, new Date(0));
    expect(rec).toMatchObject({ requestContext: { condition: 'Success', approximateInvokeCount: 1 }, responseContext: { statusCode: 200, executedVersion: '$LATEST' }, responsePayload: { id: 1 } });
    expect((rec.responseContext as Record<string, unknown>).functionError).toBeUndefined();
    const never = invocationRecord({ ...base, attempts: 0, condition: 'EventAgeExceeded', reason: 'old' }, arn, new Date(0));
    expect(never).toMatchObject({ requestContext: { condition: 'EventAgeExceeded', approximateInvokeCount: 0 }, responseContext: { statusCode: 429 } });
    expect('responsePayload' in never).toBe(false);
  });
  it('dead-letter message: the event as-is with RequestID, ErrorCode (Number) and the first 1 KB of ErrorMessage', () => {
    const long = { ...fail(), error: { kind: 'handler' as const, errorType: 'Error', errorMessage: 'x'.repeat(5000) } };
    const m = deadLetterMessage({ ...base, attempts: 3, condition: 'RetriesExhausted', result: long });
    expect(JSON.parse(m.body)).toEqual({ order: 7 });
    expect(m.attributes.RequestID).toEqual({ DataType: 'String', StringValue: 'req-1' });
    expect(m.attributes.ErrorCode).toEqual({ DataType: 'Number', StringValue: '200' });
    expect(m.attributes.ErrorMessage!.StringValue).toHaveLength(1024);
  });
  it('EventBridge destination entry: source lambda, detail-type by result, the record as detail', () => {
    const e = eventBridgeEntry({ version: '1.0' }, false, arn, 'arn:aws:events:us-east-1:000000000000:event-bus/default');
    expect(e).toEqual({ Source: 'lambda', DetailType: 'Lambda Function Invocation Result - Failure', Detail: '{"version":"1.0"}', Resources: [`${arn}:$LATEST`, 'arn:aws:events:us-east-1:000000000000:event-bus/default'], EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/default' });
  });
});

describe('Lambda API routes and IAM actions', () => {
  it('maps /2019-09-25/functions/{name}/event-invoke-config', () => {
    expect(routeLambda('PUT', '/2019-09-25/functions/f/event-invoke-config')).toEqual({ op: 'PutFunctionEventInvokeConfig', functionName: 'f' });
    expect(routeLambda('GET', '/2019-09-25/functions/f/event-invoke-config')).toEqual({ op: 'GetFunctionEventInvokeConfig', functionName: 'f' });
    expect(routeLambda('POST', '/2019-09-25/functions/f/event-invoke-config')).toEqual({ op: 'UpdateFunctionEventInvokeConfig', functionName: 'f' });
    expect(routeLambda('DELETE', '/2019-09-25/functions/f/event-invoke-config')).toEqual({ op: 'DeleteFunctionEventInvokeConfig', functionName: 'f' });
    const ctx = { region: 'us-east-1', accountId: '000000000000' };
    const req = (method: string) => ({ service: 'lambda' as const, method, path: '/2019-09-25/functions/f/event-invoke-config', query: '', headers: {}, body: new Uint8Array() });
    expect(lambdaAuthorizations(req('PUT'), ctx)).toEqual([{ action: 'lambda:PutFunctionEventInvokeConfig', resource: 'arn:aws:lambda:us-east-1:000000000000:function:f' }]);
    expect(lambdaAuthorizations(req('DELETE'), ctx)[0]!.action).toBe('lambda:DeleteFunctionEventInvokeConfig');
  });
});
