/**
 * Issue 21: target delivery against a scripted endpoint (no emulators): retryable failures retried with
 * backoff until the RetryPolicy runs out, then the DLQ with AWS's attributes (EXHAUSTED_RETRY_CONDITION
 * included); a scheduled rule firing on time on the runtime's clock.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTargetDispatcher, newStats } from '../src/services/events/target-dispatch';
import { createEventsRuntime } from '../src/services/events/bus-runtime';

let server: Server;
let endpoint = '';
const requests: Array<{ target: string; body: any }> = [];
/** How the next SendMessage calls to `fail-queue` answer. */
let failures = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}');
      requests.push({ target: String(req.headers['x-amz-target'] ?? req.url), body });
      if (String(body.QueueUrl ?? '').endsWith('/fail-queue') && failures-- > 0) {
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        return res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'try again' }));
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ MessageId: 'm' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const creds = { accessKeyId: 'test', secretAccessKey: 'test' };
const arn = (q: string) => `arn:aws:sqs:us-east-1:000000000000:${q}`;

describe('target dispatch', () => {
  it('a retryable failure is retried, and succeeds when the target recovers', async () => {
    requests.length = 0;
    failures = 2;
    const d = createTargetDispatcher({ endpoint: () => endpoint, region: 'us-east-1', retryBaseMs: 10, log: () => undefined });
    const stats = newStats();
    const outcome = await d.send({ id: 't', arn: arn('fail-queue') }, '{"a":1}', { credentials: creds, stats, dlqBody: '{}', dlqAttributes: { RULE_ARN: 'arn:rule' } });
    expect(outcome).toEqual({ status: 'delivered', attempts: 3 });
    expect(stats).toEqual({ invocations: 3, failedInvocations: 0, deadLetterInvocations: 0, retries: 2 });
    expect(requests.map((r) => r.body.MessageBody)).toEqual(['{"a":1}', '{"a":1}', '{"a":1}']);
  });

  it('MaximumRetryAttempts exhausted: the DLQ gets the event with ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN and EXHAUSTED_RETRY_CONDITION', async () => {
    requests.length = 0;
    failures = 100;
    const log: string[] = [];
    const d = createTargetDispatcher({ endpoint: () => endpoint, region: 'us-east-1', retryBaseMs: 5, log: (l) => log.push(l) });
    const stats = newStats();
    const outcome = await d.send({ id: 't', arn: arn('fail-queue'), deadLetterArn: arn('dlq'), maximumRetryAttempts: 1 }, '{"in":1}', { credentials: creds, stats, dlqBody: '{"event":1}', dlqAttributes: { RULE_ARN: 'arn:rule' } });
    expect(outcome).toMatchObject({ status: 'dead-lettered', attempts: 2, errorCode: 'InternalError' });
    expect(stats).toEqual({ invocations: 2, failedInvocations: 1, deadLetterInvocations: 1, retries: 1 });
    const dlq = requests.find((r) => String(r.body.QueueUrl).endsWith('/dlq'))!;
    expect(dlq.body.MessageBody).toBe('{"event":1}');
    const attrs = Object.fromEntries(Object.entries(dlq.body.MessageAttributes as Record<string, { StringValue: string }>).map(([k, v]) => [k, v.StringValue]));
    expect(attrs).toEqual({ ERROR_CODE: 'InternalError', ERROR_MESSAGE: 'try again', RULE_ARN: 'arn:rule', TARGET_ARN: arn('fail-queue'), RETRY_ATTEMPTS: '1', EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts' });
    failures = 0;
  });

  it('MaximumEventAgeInSeconds exhausted without a DLQ: failed, counted and logged', async () => {
    failures = 100;
    const log: string[] = [];
    const d = createTargetDispatcher({ endpoint: () => endpoint, region: 'us-east-1', retryBaseMs: 5, log: (l) => log.push(l) });
    const stats = newStats();
    const outcome = await d.send({ id: 't', arn: arn('fail-queue'), maximumEventAgeSeconds: 60 }, '{}', { credentials: creds, stats, dlqBody: '{}', dlqAttributes: {}, eventTime: Date.now() - 59_999 });
    expect(outcome).toMatchObject({ status: 'failed', attempts: 1, errorCode: 'InternalError' });
    expect(stats.failedInvocations).toBe(1);
    expect(log.join('\n')).toMatch(/failed after 1 attempt.*counted as a failed invocation/);
    failures = 0;
  });
});

describe('scheduled rules fire on time', () => {
  it('a cron rule fires at its minute with the scheduled-event envelope', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      vi.setSystemTime(new Date('2026-03-01T02:59:30Z'));
      requests.length = 0;
      const rt = createEventsRuntime({
        region: 'us-east-1',
        account: '000000000000',
        endpoint: () => endpoint,
        credentials: creds,
        log: () => undefined,
        recorded: [{ logicalId: 'Nightly', type: 'AWS::Events::Rule', properties: { Name: 'nightly', EventBusName: 'default', ScheduleExpression: 'cron(0 3 * * ? *)', State: 'ENABLED', Arn: 'arn:aws:events:us-east-1:000000000000:rule/nightly', Targets: [{ Id: 'q', Arn: arn('ok-queue') }] } }],
      });
      expect(rt.stats()[0]!.nextFire).toBe('2026-03-01T03:00:00.000Z');
      await vi.advanceTimersByTimeAsync(29_000);
      expect(requests).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1_100);
      vi.useRealTimers();
      await rt.idle();
      expect(requests).toHaveLength(1);
      expect(JSON.parse(requests[0]!.body.MessageBody)).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events', resources: ['arn:aws:events:us-east-1:000000000000:rule/nightly'], detail: {}, time: '2026-03-01T03:00:00Z' });
      expect(rt.stats()[0]).toMatchObject({ triggeredRules: 1, invocations: 1, nextFire: '2026-03-02T03:00:00.000Z' });
      rt.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
