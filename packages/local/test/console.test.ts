/**
 * Issue 24 part 3 on the embedded stack, over HTTP as the page uses it: the console's state equals what
 * the AWS APIs answer for topics, rules, buckets, queues and mappings; MaximumConcurrency and Enabled
 * changed through the console are what the Lambda API then answers; the page and its events stream are
 * served with their security headers; the health route lists the served services; a request from a
 * foreign Host is refused. (The browser run, with a poison order, is test/new-user/console.test.ts.)
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { signedRequest } from '../src/services/events/deliver';
import type { ConsoleState } from '../src/console/state';
import { localEndpoints } from '../../../test/support/local-env';

const STACK = 'FloodgateConsoleFixture';
let stack: LocalStack;
let base: string;

function synth(outdir: string): string {
  const code = join(outdir, '..', 'console-handler');
  mkdirSync(code, { recursive: true });
  writeFileSync(join(code, 'index.mjs'), 'export const handler = async () => ({ batchItemFailures: [] });\n');
  const app = new App({ outdir });
  const s = new Stack(app, STACK);
  const dlq = new sqs.Queue(s, 'ConsoleDlq', { queueName: 'console-dlq' });
  const work = new sqs.Queue(s, 'ConsoleWork', { queueName: 'console-work', visibilityTimeout: Duration.seconds(30), deadLetterQueue: { queue: dlq, maxReceiveCount: 5 } });
  const fn = new lambda.Function(s, 'ConsoleFn', { functionName: 'console-fn', runtime: lambda.Runtime.NODEJS_24_X, code: lambda.Code.fromAsset(code), handler: 'index.handler', timeout: Duration.seconds(5), reservedConcurrentExecutions: 3 });
  fn.addEventSource(new SqsEventSource(work, { maxConcurrency: 2, reportBatchItemFailures: true, enabled: false }));
  new sns.Topic(s, 'ConsoleTopic', { topicName: 'console-topic' });
  new s3.Bucket(s, 'ConsoleBucket', { bucketName: 'console-bucket' });
  new events.Rule(s, 'ConsoleRule', { ruleName: 'console-rule', schedule: events.Schedule.rate(Duration.hours(1)), targets: [new targets.SqsQueue(work)] });
  app.synth();
  return outdir;
}

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString('utf8');
        // The events stream never ends: one frame is enough.
        if (path.endsWith('/events') && /event: state\ndata: .+\n\n/.test(body)) res.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function state(): Promise<ConsoleState> {
  const res = await fetch(`${base}/_floodgate/console/state`);
  expect(res.status).toBe(200);
  return (await res.json()) as ConsoleState;
}

async function change(path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-floodgate-console': '1' }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  const dir = synth(join(mkdtempSync(join(tmpdir(), 'fg-console-')), 'cdk.out'));
  stack = await startLocalStack({ assembly: dir, stack: STACK, emulators: localEndpoints(), waitTimeSeconds: 1, scheduleTimers: false, iam: false, log: () => undefined });
  base = stack.endpoint;
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

describe('the console over HTTP', () => {
  it('shows what the AWS APIs answer: queues with their counts and DLQ, topics, rules, buckets, the function and its mapping', async () => {
    const workUrl = `${base}/000000000000/console-work`;
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: '{"n":1}' }));
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: '{"n":2}' }));
    await stack.clients.s3.send(new PutObjectCommand({ Bucket: 'console-bucket', Key: 'a.txt', Body: 'a' }));

    const s = await state();
    const api = (await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: workUrl, AttributeNames: ['All'] }))).Attributes!;
    const q = s.queues.find((x) => x.name === 'console-work')!;
    expect(q).toMatchObject({ visible: Number(api.ApproximateNumberOfMessages), inFlight: Number(api.ApproximateNumberOfMessagesNotVisible), deadLetterQueue: 'console-dlq', deadLettered: 0, sourceQueues: [] });
    expect(q.visible).toBe(2); // the mapping is disabled: nothing is received
    expect(s.queues.find((x) => x.name === 'console-dlq')).toMatchObject({ sourceQueues: ['console-work'], visible: 0, messages: [] });

    const topics = ((await stack.clients.sns.send(new ListTopicsCommand({}))).Topics ?? []).map((t) => t.TopicArn);
    expect(s.topics.map((t) => t.arn).sort()).toEqual(topics.sort());
    expect(s.topics.find((t) => t.name === 'console-topic')).toMatchObject({ subscriptions: 0 });
    expect(s.buckets.find((b) => b.name === 'console-bucket')).toEqual({ name: 'console-bucket', objects: 1, more: false });
    expect(s.rules.find((r) => r.name === 'console-rule')).toMatchObject({ bus: 'default', state: 'ENABLED', schedule: 'rate(1 hour)', triggered: 0 });
    expect(s.functions).toEqual([expect.objectContaining({ name: 'console-fn', inFlight: 0, reservedConcurrency: 3, invocations: 0 })]);
    expect(s.mappings).toEqual([expect.objectContaining({ queue: 'console-work', functionName: 'console-fn', state: 'Disabled', enabled: false, maximumConcurrency: 2, batchSize: 10 })]);
  });

  it('changes a mapping through the Lambda API: MaximumConcurrency, then Enabled, as GetEventSourceMapping answers them', async () => {
    const { uuid } = (await state()).mappings[0]!;
    const lambdaGet = async () => (await (await signedRequest(base, stack.region, stack.credentials, 'lambda', 'GET', `/2015-03-31/event-source-mappings/${uuid}`, {}, '')).json()) as { State: string; ScalingConfig?: { MaximumConcurrency?: number } };

    expect((await change(`/_floodgate/console/mappings/${uuid}`, { maximumConcurrency: 5 })).status).toBe(200);
    expect((await lambdaGet()).ScalingConfig).toEqual({ MaximumConcurrency: 5 });
    // Lambda's own validation answers through the console: 1 is below the minimum of 2.
    const refused = await change(`/_floodgate/console/mappings/${uuid}`, { maximumConcurrency: 1 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/MaximumConcurrency/);
    expect((await lambdaGet()).ScalingConfig).toEqual({ MaximumConcurrency: 5 });

    expect((await change(`/_floodgate/console/mappings/${uuid}`, { enabled: true })).status).toBe(200);
    expect((await lambdaGet()).State).toBe('Enabled');
    // Enabled, the two waiting messages are consumed.
    const deadline = Date.now() + 30_000;
    let s = await state();
    const reported = (x: ConsoleState) => x.functions[0]!.logTail.some((l) => l.message.startsWith('REPORT RequestId:'));
    while (Date.now() < deadline && (s.queues.find((x) => x.name === 'console-work')!.visible > 0 || s.mappings[0]!.invocations === 0 || !reported(s))) {
      await new Promise((r) => setTimeout(r, 200));
      s = await state();
    }
    expect(s.mappings[0]).toMatchObject({ state: 'Enabled', maximumConcurrency: 5, cap: 3 }); // min(5, reserved 3)
    expect(s.mappings[0]!.invocations).toBeGreaterThan(0);
    // The log tail is the function's log group: Lambda's REPORT line of the invocation is in it.
    expect(reported(s)).toBe(true);
  });

  it('redrive refuses a queue that is no dead-letter queue, by name', async () => {
    const res = await change('/_floodgate/console/queues/console-work/redrive', {});
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('is not a dead-letter queue');
  });

  it('serves the page, its script and the events stream with no-store, nosniff, DENY and a same-origin CSP', async () => {
    for (const path of ['/_floodgate/', '/_floodgate/console.mjs', '/_floodgate/console.css', '/_floodgate/console/events']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers, path).toMatchObject({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
      expect(String(res.headers['content-security-policy']), path).toContain("default-src 'self'");
    }
    expect((await get('/_floodgate/')).body).toContain('<script type="module" src="console.mjs">');
    const frame = /event: state\ndata: (.+)\n\n/.exec((await get('/_floodgate/console/events')).body);
    expect((JSON.parse(frame![1]!) as ConsoleState).stack).toEqual({ name: STACK, region: stack.region });
  });

  it('refuses a foreign Host (DNS rebinding) and a cross-origin page; answers the health check in LocalStack\'s format', async () => {
    expect((await get('/_floodgate/console/state', { host: 'attacker.example' })).status).toBe(403);
    expect((await get('/_floodgate/console/state', { origin: 'http://attacker.example' })).status).toBe(403);
    const health = JSON.parse((await get('/_localstack/health', { host: 'localhost.localstack.cloud:4566' })).body) as { services: Record<string, string> };
    expect(Object.keys(health.services)).toEqual(expect.arrayContaining(['sqs', 's3', 'sns', 'dynamodb', 'lambda', 'events']));
    // Everything else on the endpoint still wants SigV4.
    expect((await get('/')).status).toBe(403);
  });
});
