/**
 * Issue 21 part 4: startup and latency of the local stack for an event-driven app, measured side by side
 * with a one-consumer app in the same run. The app: four SQS consumers, an SNS topic feeding one queue
 * (raw delivery), an EventBridge rule on a custom bus feeding another, a DynamoDB stream mapping and an S3
 * bucket notification. EventBridge rules and stream mappings are included when this branch's deployer
 * supports them (detected by deploying; otherwise they are left out and marked "not on this branch").
 *
 * Figures: ready time, median of --starts, of startLocalStack with its own emulators from a synthesized
 * assembly, and of the CLI (`floodgate-local up --assembly DIR --keep --json`, from the process spawn to
 * its summary line: Node's start and module loading included); and latency from the send (Publish,
 * PutEvents, SendMessage, PutItem) to the handler's first line (the handler's Date.now(), same machine
 * clock) at the median and p95 over --messages sent one at a time, after a warm-up. Prints a table and
 * one JSON line. Figures depend on the machine's load.
 *
 * --baseline REF: @floodgate/local as of the git commit REF is built into .bench-baseline/ (ignored by
 * git) and its ready times are measured in the same run, alternating with this tree's, start by start,
 * so both see the same load: the before/after of a change.
 *
 *   npm run bench:local -- [--starts 3] [--messages 200] [--baseline main]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { App, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
import { startLocalStack, type LogEntry } from '@floodgate/local';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const argText = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const STARTS = arg('starts', 3);
const BASELINE = argText('baseline');
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = arg('messages', 200);
const WARMUP = 10;

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const median = (xs: readonly number[]): number => pct(xs, 50);

// Each record's tag and the handler's clock, one JSON line per record.
const HANDLER = `exports.handler = async (event) => {
  const t = Date.now();
  for (const r of event.Records || []) {
    const text = r.body || JSON.stringify(r.dynamodb || {});
    const m = /bench-[a-z]+-\\d+/.exec(text);
    console.log(JSON.stringify({ tag: m ? m[0] : null, t }));
  }
  return {};
};`;

interface Features {
  rule: boolean;
  stream: boolean;
}

function synth(kind: 'one' | 'full', f: Features): string {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), `fg-bench-${kind}-`)) });
  const stack = new Stack(app, 'FloodgateBench');
  const consumer = (id: string) => new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline(HANDLER), timeout: Duration.seconds(10) });
  const queue = (id: string) => new sqs.Queue(stack, id, { retentionPeriod: Duration.hours(1) });
  const direct = queue('Direct');
  consumer('DirectConsumer').addEventSource(new SqsEventSource(direct, { batchSize: 1 }));
  new CfnOutput(stack, 'DirectUrl', { value: direct.queueUrl });
  if (kind === 'full') {
    const topic = new sns.Topic(stack, 'Topic');
    const fromTopic = queue('FromTopic');
    topic.addSubscription(new subs.SqsSubscription(fromTopic, { rawMessageDelivery: true }));
    consumer('TopicConsumer').addEventSource(new SqsEventSource(fromTopic, { batchSize: 1 }));
    new CfnOutput(stack, 'TopicArn', { value: topic.topicArn });

    const fromRule = queue('FromRule');
    consumer('RuleConsumer').addEventSource(new SqsEventSource(fromRule, { batchSize: 1 }));
    if (f.rule) {
      const bus = new events.EventBus(stack, 'Bus', { eventBusName: 'bench-bus' });
      new events.Rule(stack, 'Rule', { eventBus: bus, eventPattern: { source: ['bench'] }, targets: [new targets.SqsQueue(fromRule)] });
    }

    const table = new dynamodb.Table(stack, 'Table', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, stream: dynamodb.StreamViewType.NEW_IMAGE, removalPolicy: RemovalPolicy.DESTROY });
    const streamConsumer = consumer('StreamConsumer');
    if (f.stream) streamConsumer.addEventSource(new DynamoEventSource(table, { startingPosition: lambda.StartingPosition.LATEST, batchSize: 1 }));
    new CfnOutput(stack, 'TableName', { value: table.tableName });

    const bucket = new s3.Bucket(stack, 'Bucket', { removalPolicy: RemovalPolicy.DESTROY });
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(direct), { prefix: 'in/' });
    new CfnOutput(stack, 'BucketName', { value: bucket.bucketName });
  }
  return app.synth().directory;
}

const quiet = { log: process.env.BENCH_DEBUG ? (l: string) => console.error(l) : () => undefined, handleSignals: false } as const;

/** Starts the full app, dropping what this branch's deployer refuses (EventBridge, stream mappings). */
async function detectFeatures(): Promise<Features> {
  const f: Features = { rule: true, stream: true };
  for (;;) {
    try {
      const s = await startLocalStack({ assembly: synth('full', f), ...quiet });
      await s.stop({ destroy: true });
      return f;
    } catch (err) {
      const msg = (err as Error).message;
      if (f.rule && /AWS::Events::/.test(msg)) f.rule = false;
      else if (f.stream && /(stream|not a queue of this stack|only SQS mappings)/i.test(msg)) f.stream = false;
      else throw err;
    }
  }
}

type Start = typeof startLocalStack;

async function readyMs(assembly: string, start: Start = startLocalStack): Promise<number> {
  const t0 = performance.now();
  const s = await start({ assembly, ...quiet });
  const ms = performance.now() - t0;
  await s.stop({ destroy: true });
  return ms;
}

/** `floodgate-local up --keep --json`: from the spawn to its summary line on stdout; then SIGTERM. */
async function cliReadyMs(cli: string, assembly: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'up', '--assembly', assembly, '--keep', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const ms = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(performance.now() - t0);
    });
    child.once('exit', (code) => reject(new Error(`up exited with ${code}: ${err}`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return ms;
}

/** @floodgate/local as of `ref`, built under .bench-baseline/<sha> (resolving its dependencies from this tree). */
async function baseline(ref: string): Promise<{ sha: string; start: Start; cli: string }> {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: REPO, encoding: 'utf8' }).trim();
  const dir = join(REPO, '.bench-baseline', sha);
  const pkg = join(dir, 'packages', 'local');
  if (!existsSync(join(pkg, 'dist', 'index.js'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${sha} packages/local scripts/build-package.mjs tsconfig.base.json | tar -x -C "${dir}"`], { cwd: REPO });
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: pkg, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const mod = (await import(pathToFileURL(join(pkg, 'dist', 'index.js')).href)) as { startLocalStack: Start };
  return { sha, start: mod.startLocalStack, cli: join(pkg, 'dist', 'cli.js') };
}

interface Path {
  readonly name: string;
  readonly p50: number;
  readonly p95: number;
  readonly n: number;
  /** Set when the path did not deliver (the figures are then absent). */
  readonly error?: string;
}

async function latency(seen: Map<string, number>, name: string, prefix: string, send: (tag: string) => Promise<unknown>): Promise<Path> {
  const one = async (i: number): Promise<number> => {
    const tag = `bench-${prefix}-${i}`;
    const t0 = Date.now();
    await send(tag);
    const end = Date.now() + 15_000;
    while (!seen.has(tag)) {
      if (Date.now() > end) throw new Error(`${name}: ${tag} not handled within 15 s`);
      await new Promise((r) => setImmediate(r));
    }
    return seen.get(tag)! - t0;
  };
  const xs: number[] = [];
  try {
    for (let i = 0; i < WARMUP; i++) await one(1_000_000 + i); // warm-up (cold starts), not counted
    for (let i = 0; i < MESSAGES; i++) xs.push(await one(i));
  } catch (err) {
    return { name, p50: NaN, p95: NaN, n: xs.length, error: (err as Error).message };
  }
  return { name, p50: median(xs), p95: pct(xs, 95), n: xs.length };
}

const features = await detectFeatures();
const one = synth('one', features);
const full = synth('full', features);
const base = BASELINE ? await baseline(BASELINE) : undefined;
const CLI = join(REPO, 'packages', 'local', 'dist', 'cli.js');
const readyOne: number[] = [];
const readyFull: number[] = [];
const cliFull: number[] = [];
const baseFull: number[] = [];
const baseCliFull: number[] = [];
const failedStarts: string[] = [];
const failedStart = (what: string) => (err: unknown): number => {
  failedStarts.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
  return Infinity; // sorts last: a median over failed starts is then visibly infinite
};
// Interleaved, so that each figure sees the same load as its neighbours.
for (let i = 0; i < STARTS; i++) {
  readyOne.push(await readyMs(one));
  // A start that fails (e.g. the baseline's 30 s DynamoDB Local wait on a loaded machine) is counted, not hidden.
  if (base) baseFull.push(await readyMs(full, base.start).catch(failedStart('baseline startLocalStack')));
  readyFull.push(await readyMs(full).catch(failedStart('startLocalStack')));
  if (base) baseCliFull.push(await cliReadyMs(base.cli, full).catch(failedStart('baseline up')));
  cliFull.push(await cliReadyMs(CLI, full).catch(failedStart('up')));
}

const seen = new Map<string, number>();
const stack = await startLocalStack({
  assembly: full,
  ...quiet,
  onLog: (e: LogEntry) => {
    if (process.env.BENCH_DEBUG) console.error(e.functionName, e.line.slice(0, 300));
    const tag = e.json?.tag;
    if (typeof tag === 'string') seen.set(tag, Number(e.json!.t));
  },
});
const paths: Path[] = [];
const skipped: string[] = [];
try {
  const out = stack.outputs;
  const { sqs: sqsClient, sns: snsClient, dynamodb: ddb, s3: s3Client } = stack.clients;
  paths.push(await latency(seen, 'SendMessage → SQS → handler', 'sqs', (tag) => sqsClient.send(new SendMessageCommand({ QueueUrl: out.DirectUrl, MessageBody: tag }))));
  paths.push(await latency(seen, 'SNS → SQS → handler', 'sns', (tag) => snsClient.send(new PublishCommand({ TopicArn: out.TopicArn, Message: tag }))));
  if (features.rule) {
    const signer = new SignatureV4({ credentials: stack.credentials, region: stack.region, service: 'events', sha256: Sha256 });
    const url = new URL('/', stack.endpoint);
    paths.push(
      await latency(seen, 'EventBridge → SQS → handler', 'events', async (tag) => {
        const body = JSON.stringify({ Entries: [{ EventBusName: 'bench-bus', Source: 'bench', DetailType: 'bench', Detail: JSON.stringify({ tag }) }] });
        const signed = await signer.sign({ method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: '/', query: {}, headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' }, body });
        const res = await fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body });
        if (res.status !== 200) throw new Error(`PutEvents: HTTP ${res.status} ${await res.text()}`);
      }),
    );
  } else skipped.push('EventBridge → SQS → handler: not on this branch');
  if (features.stream) paths.push(await latency(seen, 'PutItem → stream → handler', 'ddb', (tag) => ddb.send(new PutItemCommand({ TableName: out.TableName, Item: { pk: { S: tag } } }))));
  else skipped.push('PutItem → stream → handler: not on this branch');
  paths.push(await latency(seen, 'PutObject → S3 notification → SQS → handler', 'obj', (tag) => s3Client.send(new PutObjectCommand({ Bucket: out.BucketName, Key: `in/${tag}`, Body: tag }))));
} finally {
  await stack.stop({ destroy: true });
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const result = {
  machine: { cores: (await import('node:os')).cpus().length, loadavg1: r1(loadavg()[0]!) },
  app: { consumers: 4, topic: true, rule: features.rule, streamMapping: features.stream, bucketNotification: true },
  readyMs: {
    oneConsumer: { median: Math.round(median(readyOne)), all: readyOne.map(Math.round) },
    fullApp: { median: Math.round(median(readyFull)), all: readyFull.map(Math.round) },
    ratio: r1(median(readyFull) / median(readyOne)),
    fullAppCliUp: { median: Math.round(median(cliFull)), all: cliFull.map(Math.round) },
    ...(base
      ? {
          baseline: {
            ref: `${BASELINE} (${base.sha})`,
            fullApp: { median: Math.round(median(baseFull)), all: baseFull.map(Math.round) },
            fullAppCliUp: { median: Math.round(median(baseCliFull)), all: baseCliFull.map(Math.round) },
            thisOverBaseline: { fullApp: r1(median(readyFull) / median(baseFull)), fullAppCliUp: r1(median(cliFull) / median(baseCliFull)) },
          },
        }
      : {}),
  },
  latencyMs: Object.fromEntries(paths.map((p) => [p.name, p.error ? { error: p.error, n: p.n } : { p50: p.p50, p95: p.p95, n: p.n }])),
  notOnThisBranch: skipped,
  failedStarts,
  targets: { readyMs: 3000, medianLatencyMs: 50 },
};
console.log(`\nlocal stack startup and latency (load average ${result.machine.loadavg1} on ${result.machine.cores} cores)`);
console.log(`  up ready, one consumer         median ${result.readyMs.oneConsumer.median} ms  (${readyOne.map(Math.round).join(', ')})`);
console.log(`  up ready, event-driven app      median ${result.readyMs.fullApp.median} ms  (${readyFull.map(Math.round).join(', ')})  ratio ${result.readyMs.ratio}x  target <= 3000 ms`);
console.log(`  floodgate-local up, event-driven app median ${result.readyMs.fullAppCliUp.median} ms  (${cliFull.map(Math.round).join(', ')})  from spawn to its summary line`);
if (base) {
  console.log(`  baseline ${BASELINE} (${base.sha}): event-driven app median ${Math.round(median(baseFull))} ms (${baseFull.map(Math.round).join(', ')}); up ${Math.round(median(baseCliFull))} ms (${baseCliFull.map(Math.round).join(', ')})`);
  console.log(`  this tree / baseline: startLocalStack ${r1(median(readyFull) / median(baseFull))}x, up ${r1(median(cliFull) / median(baseCliFull))}x`);
}
for (const p of paths) console.log(p.error ? `  ${p.name.padEnd(46)} FAILED: ${p.error}` : `  ${p.name.padEnd(46)} p50 ${String(p.p50).padStart(4)} ms  p95 ${String(p.p95).padStart(4)} ms  (n=${p.n})`);
for (const s of skipped) console.log(`  ${s}`);
for (const f of failedStarts) console.log(`  FAILED START ${f}`);
console.log(JSON.stringify(result));
process.exit(0);
