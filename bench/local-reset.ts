/**
 * Issue 24 part 4: how long the reset takes (`stack.reset()`, what `POST /_floodgate/reset` and the jest
 * entry's reset() run), for the example apps, side by side in one run with the alternative a test suite
 * has without it: stopping the stack and starting it again.
 *
 * Apps: the reference image pipeline (this repository's cdk.json app: `npm start`'s stack), and the two
 * example projects (examples/orders-app, examples/orders-esm), synthesized here. Before each reset every
 * queue of the stack gets --messages messages (the consumers take some: what is left is in the queue or in
 * flight), every table --items items and every bucket --objects objects. Prints, per app: the reset's
 * median and p95 over --resets, the restart (stop + startLocalStack on the same assembly, median of
 * --restarts), the ratio, and the 200 ms target; then one JSON line. Figures depend on the machine's load:
 * the median time of one GetQueueAttributes through the endpoint, taken just before each reset, and the
 * 1-minute load average are printed with them.
 *
 *   npm run bench:reset -- [--resets 10] [--restarts 2] [--messages 20] [--items 100] [--objects 20]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { BatchWriteItemCommand, DescribeTableCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { App, type Stack } from 'aws-cdk-lib';
import { startLocalStack, synthesize, type LocalStack } from '@floodgate/local';

const { values } = parseArgs({
  options: {
    resets: { type: 'string', default: '10' },
    restarts: { type: 'string', default: '2' },
    messages: { type: 'string', default: '20' },
    items: { type: 'string', default: '100' },
    objects: { type: 'string', default: '20' },
  },
});
const RESETS = Number(values.resets);
const RESTARTS = Number(values.restarts);
const MESSAGES = Number(values.messages);
const ITEMS = Number(values.items);
const OBJECTS = Number(values.objects);
const TARGET_MS = 200;

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const quiet = (): void => undefined;

/**
 * Synthesizes examples/orders-app, a CommonJS project (`cdk init`'s): its lib/ and lambda/ copied under
 * .floodgate/ (in this repository, so its imports resolve this repository's packages) with a
 * `"type": "commonjs"` package.json, synthesized by tsx in a child process.
 */
function synthCommonJsExample(name: string, stackClass: string, stackName: string): string {
  const dir = join(process.cwd(), '.floodgate', 'bench-reset', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const sub of ['lib', 'lambda']) cpSync(join(process.cwd(), 'examples', name, sub), join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `bench-${name}`, private: true, type: 'commonjs' })}\n`);
  writeFileSync(
    join(dir, 'synth.ts'),
    `import { App } from 'aws-cdk-lib';\nimport { ${stackClass} } from './lib/${name}-stack';\nconst app = new App({ outdir: process.argv[2] });\nnew ${stackClass}(app, '${stackName}');\napp.synth();\n`,
  );
  const outdir = mkdtempSync(join(tmpdir(), `fg-bench-reset-${stackName}-`));
  execFileSync(join(process.cwd(), 'node_modules', '.bin', 'tsx'), ['synth.ts', outdir], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  return outdir;
}

/** Synthesizes an example project's stack class in this process (its sources resolve this repository's packages). */
async function synthExample(file: string, exportName: string, stackName: string): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), `fg-bench-reset-${stackName}-`));
  const app = new App({ outdir });
  const mod = (await import(pathToFileURL(file).href)) as Record<string, new (scope: App, id: string) => Stack>;
  new mod[exportName]!(app, stackName);
  app.synth();
  return outdir;
}

/** Puts MESSAGES messages in every queue, ITEMS items in every table, OBJECTS objects in every bucket. */
async function fill(stack: LocalStack, round: number): Promise<void> {
  const of = (type: string) => [...stack.deployment.resources.values()].filter((r) => r.type === type);
  const work: Array<Promise<unknown>> = [];
  for (const q of of('AWS::SQS::Queue')) {
    const QueueUrl = String(q.attributes.QueueUrl ?? q.ref);
    const fifo = QueueUrl.endsWith('.fifo');
    for (let i = 0; i < MESSAGES; i += 10) {
      const Entries = Array.from({ length: Math.min(10, MESSAGES - i) }, (_, j) => ({
        Id: String(j),
        // Not an order any consumer accepts: they fail it, and it is retried or dead-lettered (all of it is the reset's to empty).
        MessageBody: JSON.stringify({ bench: `r${round}-m${i + j}` }),
        ...(fifo ? { MessageGroupId: 'bench', MessageDeduplicationId: `r${round}-m${i + j}` } : {}),
      }));
      work.push(stack.clients.sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries })));
    }
  }
  for (const t of [...of('AWS::DynamoDB::Table'), ...of('AWS::DynamoDB::GlobalTable')]) {
    const { Table } = await stack.clients.dynamodb.send(new DescribeTableCommand({ TableName: t.ref }));
    const keys = Table!.KeySchema!.map((k) => ({ name: k.AttributeName!, type: Table!.AttributeDefinitions!.find((d) => d.AttributeName === k.AttributeName)!.AttributeType! }));
    for (let i = 0; i < ITEMS; i += 25) {
      const items = Array.from({ length: Math.min(25, ITEMS - i) }, (_, j) => {
        const Item: Record<string, AttributeValue> = {};
        for (const k of keys) Item[k.name] = k.type === 'N' ? { N: String(round * 100_000 + i + j) } : k.type === 'B' ? { B: Buffer.from(`r${round}-${i + j}`) } : { S: `bench-r${round}-${i + j}` };
        return { PutRequest: { Item } };
      });
      work.push(stack.clients.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [t.ref]: items } })));
    }
  }
  for (const b of of('AWS::S3::Bucket')) {
    // Keys a bucket notification (if any) does not match: the bench measures the reset, not the pipeline.
    for (let i = 0; i < OBJECTS; i++) work.push(stack.clients.s3.send(new PutObjectCommand({ Bucket: b.ref, Key: `bench-reset/r${round}/${i}.bin`, Body: 'x' })));
  }
  await Promise.all(work);
}

interface AppResult {
  readonly app: string;
  readonly resources: Readonly<Record<string, number>>;
  readonly resetMs: { readonly median: number; readonly p95: number; readonly max: number };
  readonly deletedPerReset: number;
  readonly restartMs: number;
  /** One GetQueueAttributes through the endpoint, just before each reset (median): how loaded the machine is. */
  readonly requestMs: number;
  readonly ratio: number;
  readonly underTarget: boolean;
}

async function bench(name: string, assembly: string): Promise<AppResult> {
  let stack = await startLocalStack({ assembly, log: quiet, waitTimeSeconds: 1, asyncRetryDelaysMs: [60_000, 60_000] });
  const times: number[] = [];
  const probes: number[] = [];
  const probeQueue = [...stack.deployment.resources.values()].find((r) => r.type === 'AWS::SQS::Queue');
  let deleted = 0;
  let resources: Record<string, number> = {};
  try {
    await stack.reset(); // warm-up: connections, the first DescribeTable
    for (let round = 0; round < RESETS; round++) {
      await fill(stack, round);
      if (probeQueue) {
        const t = performance.now();
        await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: String(probeQueue.attributes.QueueUrl ?? probeQueue.ref), AttributeNames: ['ApproximateNumberOfMessages'] }));
        probes.push(performance.now() - t);
      }
      const started = performance.now();
      const report = await stack.reset();
      times.push(performance.now() - started);
      deleted += report.deleted;
      resources = { ...report.resources };
    }
    const restarts: number[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      const started = performance.now();
      await stack.stop();
      stack = await startLocalStack({ assembly, log: quiet, waitTimeSeconds: 1 });
      restarts.push(performance.now() - started);
    }
    const median = pct(times, 50);
    const restartMs = pct(restarts, 50);
    return { app: name, resources, resetMs: { median, p95: pct(times, 95), max: Math.max(...times) }, deletedPerReset: Math.round(deleted / RESETS), restartMs, requestMs: pct(probes, 50), ratio: restartMs / median, underTarget: pct(times, 95) < TARGET_MS };
  } finally {
    await stack.stop();
  }
}

const apps: Array<[string, () => Promise<string>]> = [
  ['reference image pipeline', async () => (await synthesize({ log: quiet })).assemblyDir],
  ['examples/orders-app', async () => synthCommonJsExample('orders-app', 'OrdersAppStack', 'OrdersAppStack')],
  ['examples/orders-esm', () => synthExample(join(process.cwd(), 'examples/orders-esm/lib/orders-stack.ts'), 'OrdersStack', 'OrdersEsmStack')],
];

const results: AppResult[] = [];
for (const [name, synth] of apps) {
  const assembly = await synth();
  const r = await bench(name, assembly);
  results.push(r);
  const kinds = Object.entries(r.resources).map(([t, n]) => `${n} ${t.split('::').slice(1).join('::')}`).join(', ');
  console.log(`${name}: reset ${r.resetMs.median.toFixed(1)} ms median, ${r.resetMs.p95.toFixed(1)} ms p95 (${RESETS} resets of ${kinds}; ~${r.deletedPerReset} items/objects deleted each) | one request ${r.requestMs.toFixed(1)} ms (median, just before each reset) | restart ${r.restartMs.toFixed(0)} ms | restart/reset ${r.ratio.toFixed(0)}x | target < ${TARGET_MS} ms: ${r.underTarget ? 'met' : 'MISSED'}`);
}
console.log(JSON.stringify({ bench: 'local-reset', resets: RESETS, messages: MESSAGES, items: ITEMS, objects: OBJECTS, targetMs: TARGET_MS, loadavg: loadavg()[0], results }));
