/**
 * Issue 23 part 1: every process the local stack starts listens on loopback, or on no TCP port at all:
 * the endpoint (gateway, with its control routes), fauxqs (SQS, SNS, S3), DynamoDB Local, the API front
 * and the functions' execution environments (IPC pipes, no port). The listening sockets are read from
 * /proc/net/tcp and tcp6 during a run of startLocalStack and of `floodgate-local up --keep`, and mapped
 * to our processes through /proc/<pid>/fd. The checker itself is shown to catch a 0.0.0.0 and a ::
 * listener.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PublishCommand } from '@aws-sdk/client-sns';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { App, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { decodeAddress, isLoopback, listenersOf, nonLoopbackListeners, parseProcNetTcp, processTree } from '../../../test/support/listeners';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

const HANDLER = `exports.handler = async (event) => {
  for (const r of event.Records || []) console.log(JSON.stringify({ seen: r.body || (r.dynamodb && r.dynamodb.Keys && r.dynamodb.Keys.pk.S) || null }));
  return event.requestContext ? { statusCode: 200, body: 'ok' } : {};
};`;

/** Four SQS consumers (one fed by a topic, one by a rule, one by a bucket), a stream mapping, an HTTP API. */
function synthApp(): string {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'fg-loopback-')) });
  const stack = new Stack(app, 'FloodgateLoopback');
  const fn = (id: string) => new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline(HANDLER), timeout: Duration.seconds(10) });
  const queue = (id: string) => new sqs.Queue(stack, id, { retentionPeriod: Duration.hours(1) });
  const direct = queue('Direct');
  fn('DirectConsumer').addEventSource(new SqsEventSource(direct, { batchSize: 1 }));
  const topic = new sns.Topic(stack, 'Topic');
  const fromTopic = queue('FromTopic');
  topic.addSubscription(new subs.SqsSubscription(fromTopic, { rawMessageDelivery: true }));
  fn('TopicConsumer').addEventSource(new SqsEventSource(fromTopic, { batchSize: 1 }));
  const fromRule = queue('FromRule');
  fn('RuleConsumer').addEventSource(new SqsEventSource(fromRule, { batchSize: 1 }));
  const bus = new events.EventBus(stack, 'Bus', { eventBusName: 'loopback-bus' });
  new events.Rule(stack, 'Rule', { eventBus: bus, eventPattern: { source: ['loopback'] }, targets: [new targets.SqsQueue(fromRule)] });
  const table = new dynamodb.Table(stack, 'Table', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, stream: dynamodb.StreamViewType.NEW_IMAGE, removalPolicy: RemovalPolicy.DESTROY });
  fn('StreamConsumer').addEventSource(new DynamoEventSource(table, { startingPosition: lambda.StartingPosition.TRIM_HORIZON, batchSize: 1 }));
  const bucket = new s3.Bucket(stack, 'Bucket', { removalPolicy: RemovalPolicy.DESTROY });
  bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(direct), { prefix: 'in/' });
  const api = new apigw.HttpApi(stack, 'Api', { defaultIntegration: new HttpLambdaIntegration('Int', fn('ApiHandler')) });
  new CfnOutput(stack, 'DirectUrl', { value: direct.queueUrl });
  new CfnOutput(stack, 'TopicArn', { value: topic.topicArn });
  new CfnOutput(stack, 'TableName', { value: table.tableName });
  new CfnOutput(stack, 'BucketName', { value: bucket.bucketName });
  new CfnOutput(stack, 'ApiUrl', { value: api.apiEndpoint });
  return app.synth().directory;
}

const listen = (host: string): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => resolve(s));
  });
const portOf = (s: Server): number => (s.address() as { port: number }).port;
const portOfUrl = (u: string): number => Number(new URL(u).port);

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('/proc listener reading', () => {
  it('decodes /proc/net/tcp and tcp6 addresses and keeps only LISTEN sockets', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0',
      '   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 100 0 0 10 0',
      '   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 100 0 0 10 0',
    ].join('\n');
    expect(parseProcNetTcp(tcp, 4)).toEqual([
      { address: '127.0.0.1', port: 8080, inode: 1001, family: 4 },
      { address: '0.0.0.0', port: 80, inode: 1002, family: 4 },
    ]);
    expect(decodeAddress('00000000000000000000000000000000')).toBe('::');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
    expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', '::ffff:10.0.0.5', 'fe80::1'].some(isLoopback)).toBe(false);
  });

  it('finds a deliberate 0.0.0.0 listener in this process and a :: listener in a child, and not a loopback one', async () => {
    const wildcard = await listen('0.0.0.0');
    const loopback = await listen('127.0.0.1');
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(0, '::', function () { console.log(this.address().port) })"], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const childPort = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      const bad = nonLoopbackListeners(process.pid);
      expect(bad).toEqual(expect.arrayContaining([expect.objectContaining({ pid: process.pid, port: portOf(wildcard), address: '0.0.0.0' }), expect.objectContaining({ pid: child.pid, port: childPort, address: '::' })]));
      expect(bad.some((l) => l.port === portOf(loopback))).toBe(false);
      expect(listenersOf([process.pid]).some((l) => l.port === portOf(loopback) && l.address === '127.0.0.1')).toBe(true);
    } finally {
      child.kill();
      wildcard.close();
      loopback.close();
    }
  });
});

describe('the local stack listens on loopback only', () => {
  let assembly: string;
  beforeAll(() => {
    assembly = synthApp();
  });

  describe('startLocalStack, with its own emulators, while every path delivers', () => {
    let stack: LocalStack;
    const seen = new Set<string>();
    beforeAll(async () => {
      stack = await startLocalStack({ assembly, log: () => undefined, handleSignals: false, waitTimeSeconds: 1, onLog: (e) => void (typeof e.json?.seen === 'string' && seen.add(e.json.seen)) });
    }, 180_000);
    afterAll(() => stack?.stop());

    it('has no listener off loopback, while the endpoint, fauxqs, DynamoDB Local, the API front and the functions run', async () => {
      const { sqs: sqsClient, sns: snsClient, dynamodb: ddb, s3: s3Client } = stack.clients;
      const out = stack.outputs;
      await sqsClient.send(new SendMessageCommand({ QueueUrl: out.DirectUrl, MessageBody: 'direct' }));
      await snsClient.send(new PublishCommand({ TopicArn: out.TopicArn, Message: 'topic' }));
      expect(stack.putEvents('loopback-bus', [{ Source: 'loopback', DetailType: 'x', Detail: '{}' }]).FailedEntryCount).toBe(0);
      await ddb.send(new PutItemCommand({ TableName: out.TableName, Item: { pk: { S: 'stream' } } }));
      await s3Client.send(new PutObjectCommand({ Bucket: out.BucketName, Key: 'in/object', Body: 'x' }));
      const res = await fetch(`${stack.api!.url.replace(/\/$/, '')}/hello`);
      expect(res.status).toBe(200);
      await until(() => ['direct', 'topic', 'stream'].every((t) => seen.has(t)) && seen.size >= 5, 60_000, `deliveries (seen: ${[...seen].join(', ')})`);

      const mine = listenersOf(processTree(process.pid));
      // The checker sees our sockets: the endpoint, the API front, fauxqs (this process) and DynamoDB Local (java, a child).
      const ports = mine.map((l) => l.port);
      expect(ports).toEqual(expect.arrayContaining([portOfUrl(stack.endpoint), portOfUrl(stack.api!.url), portOfUrl(stack.endpoints.backends!.sqs), portOfUrl(stack.endpoints.backends!.dynamodb)]));
      expect(mine.find((l) => l.port === portOfUrl(stack.endpoints.backends!.dynamodb))?.command).toMatch(/^java /);
      // Function environments are running (child node processes) and hold no listening socket.
      expect(processTree(process.pid).length).toBeGreaterThan(3);
      expect(nonLoopbackListeners(process.pid)).toEqual([]);
    });
  });

  it('floodgate-local up --keep: no listener of its process tree off loopback', async () => {
    const child = spawn(process.execPath, [CLI, 'up', '--assembly', assembly, '--keep', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    try {
      await until(() => stdout.includes('\n') || child.exitCode !== null, 150_000, '`up` to print its summary');
      expect(child.exitCode, stderr).toBeNull();
      const summary = JSON.parse(stdout.split('\n')[0]!) as { endpoint: string; apiUrl?: string };
      const mine = listenersOf(processTree(child.pid!));
      expect(mine.map((l) => l.port)).toContain(portOfUrl(summary.endpoint));
      expect(mine.some((l) => l.command.startsWith('java '))).toBe(true);
      expect(nonLoopbackListeners(child.pid!)).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    }
  }, 200_000);
});
