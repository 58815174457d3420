/**
 * Soak of the local stack (issue 19): runs `floodgate-local up --keep` (the real CLI, in its own process)
 * on a small SQS -> Lambda app, sends a steady 50 msg/s into its queue through the one endpoint, and
 * reads the `up` process's resident set size (VmRSS) every 5 s. Prints the RSS at the first checkpoint
 * (default 2 minutes) and at the second (default 10 minutes), each as the median of the samples in the
 * 30 s before it (a single reading is at the mercy of one GC), and their ratio; target <= 1.1.
 *
 *   npm run bench:local-soak -- [--first-seconds 120] [--second-seconds 600] [--rate 50]
 *
 * The DynamoDB Local JVM and the function's environments are separate processes; their RSS is printed
 * beside it, not counted in the ratio (the ratio is about the stack's own process: gateway, emulator,
 * pollers, hosts' bookkeeping).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { descendants } from '../test/support/listeners';

const { values } = parseArgs({
  options: {
    'first-seconds': { type: 'string', default: '120' },
    'second-seconds': { type: 'string', default: '600' },
    rate: { type: 'string', default: '50' },
  },
});
const FIRST = Number(values['first-seconds']);
const SECOND = Number(values['second-seconds']);
const RATE = Number(values.rate);
if (!(FIRST > 0 && SECOND > FIRST && RATE > 0)) throw new Error('need 0 < --first-seconds < --second-seconds and --rate > 0');
const WINDOW_MS = Math.min(30_000, (FIRST * 1000) / 2);

const CLI = resolve('packages/local/dist/cli.js');
const STACK = 'LocalSoak';

function assembly(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fg-soak-'));
  const consume = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'];
  const template = {
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'soak-work', VisibilityTimeout: 30 } },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
          Policies: [{ PolicyName: 'consume', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: consume, Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] } }] } }],
        },
      },
      Consumer: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          FunctionName: 'soak-consumer',
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          Timeout: 10,
          Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
          // A little work per record and one log line per batch, as a real consumer does.
          Code: { ZipFile: "exports.handler = async (e) => { let n = 0; for (const r of e.Records) n += JSON.parse(r.body).n; console.log(JSON.stringify({ evt: 'batch', records: e.Records.length, n })); };" },
        },
      },
      Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] }, FunctionName: { Ref: 'Consumer' }, BatchSize: 10, ScalingConfig: { MaximumConcurrency: 4 } } },
    },
    Outputs: { QueueUrl: { Value: { Ref: 'Queue' } } },
  };
  writeFileSync(join(dir, `${STACK}.template.json`), JSON.stringify(template));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: '48.0.0', artifacts: { [STACK]: { type: 'aws:cloudformation:stack', properties: { templateFile: `${STACK}.template.json`, stackName: STACK } } } }));
  return dir;
}

/** VmRSS of a process, MiB (undefined once it is gone). */
function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}


const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const dir = assembly();
  const child = spawn(process.execPath, [CLI, 'up', '--assembly', dir, '--keep', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const summary = await new Promise<{ endpoint: string; region: string; outputs: Record<string, string> }>((ok, fail) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining
        ok(JSON.parse(buf.slice(0, nl)));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => fail(new Error(`up exited (${code}) before it served:\n${stderr}`)));
  });
  const sqs = new SQSClient({ region: summary.region, endpoint: summary.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const queueUrl = summary.outputs.QueueUrl!;
  console.log(`soak: up pid ${child.pid}, endpoint ${summary.endpoint}, ${RATE} msg/s into ${queueUrl}; checkpoints at ${FIRST} s and ${SECOND} s`);

  const started = Date.now();
  let sent = 0;
  let sendErrors = 0;
  const tickMs = 200;
  const perTick = RATE * (tickMs / 1000);
  let owed = 0;
  const sender = setInterval(() => {
    owed += perTick;
    while (owed >= 1) {
      const n = Math.min(10, Math.floor(owed));
      owed -= n;
      const entries = Array.from({ length: n }, (_, i) => ({ Id: String(i), MessageBody: JSON.stringify({ n: sent + i, pad: 'x'.repeat(200) }) }));
      sent += n;
      sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })).catch(() => void sendErrors++);
    }
  }, tickMs);

  const samples: Array<{ t: number; rss: number }> = [];
  const sampler = setInterval(() => {
    const rss = rssMiB(child.pid!);
    if (rss !== undefined) samples.push({ t: Date.now() - started, rss });
  }, 5000);

  const checkpoint = async (atSeconds: number) => {
    await new Promise((r) => setTimeout(r, Math.max(0, started + atSeconds * 1000 - Date.now())));
    const window = samples.filter((s) => s.t > atSeconds * 1000 - WINDOW_MS && s.t <= atSeconds * 1000 + 1000).map((s) => s.rss);
    const now = rssMiB(child.pid!) ?? NaN;
    const others = descendants(child.pid!).map((p) => rssMiB(p) ?? 0).reduce((a, b) => a + b, 0);
    const q = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    const backlog = Number(q.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(q.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    const med = median(window);
    console.log(`soak: t=${atSeconds} s  up-process RSS median(last ${WINDOW_MS / 1000} s)=${med.toFixed(1)} MiB (now ${now.toFixed(1)} MiB, ${window.length} samples); child processes (JVM, function environments) ${others.toFixed(1)} MiB; sent ${sent}, queue backlog ${backlog}, send errors ${sendErrors}`);
    return { med, backlog };
  };

  try {
    const a = await checkpoint(FIRST);
    const b = await checkpoint(SECOND);
    const ratio = b.med / a.med;
    console.log(`soak: RSS after ${FIRST} s = ${a.med.toFixed(1)} MiB, after ${SECOND} s = ${b.med.toFixed(1)} MiB, ratio ${ratio.toFixed(3)} (target <= 1.1) at ${RATE} msg/s; backlog ${a.backlog} -> ${b.backlog}`);
    console.log(JSON.stringify({ firstSeconds: FIRST, secondSeconds: SECOND, rate: RATE, rssFirstMiB: +a.med.toFixed(1), rssSecondMiB: +b.med.toFixed(1), ratio: +ratio.toFixed(3), sent, sendErrors, backlogFirst: a.backlog, backlogSecond: b.backlog }));
  } finally {
    clearInterval(sender);
    clearInterval(sampler);
    sqs.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
