/** The console's and the health route's pure decisions: who may call them, what they answer. */
import { describe, expect, test } from 'vitest';
import { consoleAccess, healthAccess, isLoopbackAddress, isLoopbackHost } from '../src/console/access.js';
import { healthReport } from '../src/console/health.js';
import { deadLetteredMessage, isErrorLine } from '../src/console/state.js';
import { isConsoleRoute, mappingChange } from '../src/console/service.js';

const req = (over: { method?: string; remoteAddress?: string; headers?: Record<string, string> } = {}) => ({
  method: over.method ?? 'GET',
  remoteAddress: 'remoteAddress' in over ? over.remoteAddress : '127.0.0.1',
  headers: over.headers ?? { host: 'localhost:4566' },
});

describe('console access: loopback only', () => {
  test('loopback peers: 127.0.0.0/8, ::1 and IPv4-mapped forms; nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', '', undefined, '128.0.0.1']) expect(isLoopbackAddress(a), String(a)).toBe(false);
  });

  test('Host must name loopback (DNS rebinding): localhost, 127.x, [::1], with or without a port', () => {
    for (const h of ['localhost', 'localhost:4566', 'LOCALHOST:1', '127.0.0.1:8080', '[::1]:4566', '[::1]']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['evil.example:4566', 'localhost.evil.example', '127.0.0.1.nip.io', 'localhost.localstack.cloud:4566', '[fe80::1]:1', '', undefined, '::1']) expect(isLoopbackHost(h), String(h)).toBe(false);
  });

  test('a page read from loopback with a loopback Host passes; another peer, Host or Origin is refused with 403 AccessDenied', () => {
    expect(consoleAccess(req())).toBeUndefined();
    expect(consoleAccess(req({ headers: { host: '127.0.0.1:4566', origin: 'http://127.0.0.1:4566' } }))).toBeUndefined();
    expect(consoleAccess(req({ remoteAddress: '192.168.1.20' }))).toMatchObject({ status: 403, code: 'AccessDenied', message: expect.stringContaining('loopback clients only') });
    expect(consoleAccess(req({ headers: { host: 'rebound.example:4566' } }))).toMatchObject({ status: 403, message: expect.stringContaining('DNS rebinding') });
    expect(consoleAccess(req({ headers: { host: 'localhost:4566', origin: 'http://evil.example' } }))).toMatchObject({ status: 403, message: expect.stringContaining('cross-origin') });
    // Same host, another port: another origin.
    expect(consoleAccess(req({ headers: { host: 'localhost:4566', origin: 'http://localhost:3000' } }))).toMatchObject({ status: 403 });
  });

  test('a change needs the x-floodgate-console header (a cross-origin page cannot send it without a preflight)', () => {
    expect(consoleAccess(req({ method: 'POST' }))).toMatchObject({ status: 403, message: expect.stringContaining('x-floodgate-console') });
    expect(consoleAccess(req({ method: 'POST', headers: { host: 'localhost:4566', 'x-floodgate-console': '1', origin: 'http://localhost:4566' } }))).toBeUndefined();
  });

  test('the health route: loopback peers, any Host (tools name the endpoint as they like)', () => {
    expect(healthAccess(req({ headers: { host: 'localhost.localstack.cloud:4566' } }))).toBeUndefined();
    expect(healthAccess(req({ remoteAddress: '10.1.1.1' }))).toMatchObject({ status: 403 });
  });
});

describe('LocalStack-format health', () => {
  test('every served service "running", DynamoDB Streams with DynamoDB, sorted; edition and version', () => {
    expect(healthReport(['sqs', 'dynamodb', 's3', 'events', 'scheduler'], '0.2.0')).toEqual({
      services: { dynamodb: 'running', dynamodbstreams: 'running', events: 'running', s3: 'running', scheduler: 'running', sqs: 'running' },
      edition: 'floodgate-local',
      version: '0.2.0',
    });
    expect(healthReport([], '1.0.0').services).toEqual({});
  });
});

describe('console routes and changes', () => {
  test('owns the page, its assets, /_floodgate/console/* and the health route, not the other /_floodgate routes', () => {
    for (const p of ['/_floodgate/', '/_floodgate', '/_floodgate/console.mjs', '/_floodgate/console.css', '/_floodgate/console/state', '/_floodgate/console/events', '/_localstack/health']) expect(isConsoleRoute(p), p).toBe(true);
    for (const p of ['/_floodgate/schedules/x/fire', '/_floodgate/reset', '/', '/_localstack/info', '/my-bucket/key']) expect(isConsoleRoute(p), p).toBe(false);
  });

  test('a mapping change becomes UpdateEventSourceMapping\'s body; bad values are refused', () => {
    expect(mappingChange({ enabled: false })).toEqual({ Enabled: false });
    expect(mappingChange({ maximumConcurrency: 5 })).toEqual({ ScalingConfig: { MaximumConcurrency: 5 } });
    expect(mappingChange({ maximumConcurrency: null, enabled: true })).toEqual({ Enabled: true, ScalingConfig: {} });
    expect(() => mappingChange({})).toThrow(/nothing to change/);
    expect(() => mappingChange({ enabled: 'no' })).toThrow(/true or false/);
    expect(() => mappingChange({ maximumConcurrency: 2.5 })).toThrow(/integer/);
  });
});

describe('what the console shows of a message and a log', () => {
  test('the runtime\'s ErrorClass / ErrorKind / ErrorReason are picked out of the attributes', () => {
    const m = deadLetteredMessage({
      messageId: 'm1',
      body: '{"orderId":"poison","quantity":0}',
      sentTimestamp: Date.UTC(2026, 11, 6, 8, 0, 0),
      approximateReceiveCount: 0,
      messageAttributes: { ErrorClass: { StringValue: 'InvalidMessage' }, ErrorKind: { StringValue: 'permanent' }, ErrorReason: { StringValue: 'quantity: Too small' }, Tenant: { StringValue: 't1' } },
    });
    expect(m).toMatchObject({ messageId: 'm1', errorClass: 'InvalidMessage', errorKind: 'permanent', errorReason: 'quantity: Too small', sentAt: '2026-12-06T08:00:00.000Z', receiveCount: 0 });
    expect(m.attributes).toMatchObject({ Tenant: 't1' });
    const plain = deadLetteredMessage({ messageId: 'm2', body: 'x'.repeat(600), sentTimestamp: 0, approximateReceiveCount: 3 });
    expect(plain.errorClass).toBeUndefined();
    expect(plain.body).toHaveLength(501);
  });

  test('error lines: Lambda\'s ERROR and timeout lines, JSON logs at level ERROR or naming an error class; not INFO lines', () => {
    expect(isErrorLine('2026-12-06T08:00:00.000Z\tabc\tERROR\tInvoke Error \t{"errorType":"Error"}')).toBe(true);
    expect(isErrorLine('2026-12-06T08:00:00.000Z abc Task timed out after 3.00 seconds')).toBe(true);
    expect(isErrorLine('{"level":"ERROR","message":"record failed"}')).toBe(true);
    expect(isErrorLine('{"level":"WARN","message":"record failed","errorClass":"InvalidMessage","errorReason":"quantity: Too small"}')).toBe(true);
    expect(isErrorLine('{"level":"INFO","message":"stored"}')).toBe(false);
    expect(isErrorLine('REPORT RequestId: abc Duration: 1 ms')).toBe(false);
  });
});
