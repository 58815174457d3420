/**
 * `npm run burst -- [--jobs N] [--json] [--report FILE]`
 * `npm run burst -- --compare [--messages N] [--json]`: see burst-compare.ts.
 *
 * N tiny jobs (default 10,000; one 16x16 JPEG, thumb rendition only) sent straight to the job queue with
 * SendMessageBatch (the API is not the point here, and its stage throttle would pace the burst), consumed
 * by the real bundled worker on the local stack. Checks: every job completes exactly once, concurrent
 * executions never exceed the cap, and this process's memory (the event-source runner and the producer;
 * the emulators run in a separate process so their stored messages and objects do not count) stays flat.
 * Prints throughput and peak memory; writes report.html. --json: one JSON object as the last stdout line.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { STACK_OUTPUTS, UPLOADS_PREFIX } from '../lambda/shared/contract';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';
import { quadrants } from '../test/fixtures/images';
import { requiredOutput, startHarness } from './harness';
import { currentRssMb, memoryTrend, type RssSample } from './memory';
import { queueDepth, scanJobs } from './observe';
import { lineChart, renderReport, type TimelineSample } from '../local/report';

// --compare is its own run (burst-compare.ts): the seed's scenario against PostgreSQL.
if (process.argv.includes('--compare')) {
  const { main } = await import('./burst-compare');
  process.exit(await main(process.argv.slice(2)));
}

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
    report: { type: 'string', default: 'report.html' },
    'budget-seconds': { type: 'string', default: '1800' },
  },
});
const total = Number(values.jobs);
const budgetMs = Number(values['budget-seconds']) * 1000;
if (!Number.isInteger(total) || total < 1 || !(budgetMs > 0)) {
  process.stderr.write('usage: npm run burst -- [--jobs N>=1] [--json] [--report FILE] [--budget-seconds T]\n');
  process.exit(2);
}
const err = (s: string) => process.stderr.write(`${s}\n`);
const tty = process.stderr.isTTY === true;

/** Emulators in a child process (see emulators-process.ts); killed with us. */
async function emulatorsProcess(): Promise<{ endpoints: LocalEndpoints; stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL('./emulators-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator process exited (${code})`)));
  });
  const endpoints = JSON.parse(line) as LocalEndpoints;
  return {
    endpoints,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin?.end();
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

function bar(done: number, all: number, width = 30): string {
  const n = Math.round((done / all) * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}]`;
}

const emulators = await emulatorsProcess();
const started = Date.now();
const harness = await startHarness({ endpoints: emulators.endpoints, api: false, log: err, pollWaitSeconds: 2 });
const { endpoints, outputs } = harness;
const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
const queueUrl = requiredOutput(outputs, STACK_OUTPUTS.jobQueueUrl);
const runner = [...harness.stack.runners.values()][0]!;
const cap = harness.reservedConcurrency;
let exitCode = 1;
try {
  const sourceKey = `${UPLOADS_PREFIX}burst/tiny.jpg`;
  await s3.send(new PutObjectCommand({ Bucket: requiredOutput(outputs, STACK_OUTPUTS.uploadsBucket), Key: sourceKey, Body: await quadrants(16, 16).jpeg().toBuffer(), ContentType: 'image/jpeg' }));
  const runId = Date.now().toString(36);
  err(`burst: ${total} tiny jobs via SendMessageBatch (direct to the queue), concurrency cap ${cap}`);

  const samples: RssSample[] = [];
  const timeline: TimelineSample[] = [];
  const t0 = Date.now();
  const deletedAtStart = runner.stats().messagesDeleted;
  const completed = () => runner.stats().messagesDeleted - deletedAtStart;
  const sampler = setInterval(() => {
    const s = runner.stats();
    const last = s.samples.at(-1);
    const t = Date.now() - t0;
    const done = s.messagesDeleted - deletedAtStart;
    samples.push({ t, rssMb: currentRssMb(), completed: done });
    timeline.push({ t, visible: last?.visible ?? 0, inFlightMessages: last?.notVisible ?? 0, inFlightExecutions: s.inFlight, deadLettered: 0, completed: done, failed: 0 });
  }, 500);

  let sent = 0;
  const batches = Math.ceil(total / 10);
  let nextBatch = 0;
  // Eight senders pulling batch numbers: nothing is built before it is sent, so the producer's own
  // memory does not grow with N.
  const sender = async (): Promise<void> => {
    for (let b = nextBatch++; b < batches; b = nextBatch++) {
      const entries = Array.from({ length: Math.min(10, total - b * 10) }, (_, i) => {
        const n = b * 10 + i;
        return { Id: String(i), MessageBody: JSON.stringify({ v: 1, jobId: `b${runId}-${n}`, sourceKey, renditions: ['thumb'] }) };
      });
      const res = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      if ((res.Failed ?? []).length > 0) throw new Error(`SendMessageBatch failed: ${JSON.stringify(res.Failed)}`);
      sent += entries.length;
    }
  };
  const sending = Promise.all(Array.from({ length: 8 }, () => sender()));
  let sendError: unknown;
  sending.catch((e: unknown) => (sendError = e));

  let lastPlain = 0;
  while (completed() < total && Date.now() - t0 < budgetMs && sendError === undefined) {
    await new Promise((r) => setTimeout(r, 500));
    const s = runner.stats();
    const done = completed();
    const secs = (Date.now() - t0) / 1000;
    const line = `${bar(done, total)} ${done}/${total} completed, sent ${sent}, in flight ${s.inFlight}/${cap}, ${(done / secs).toFixed(0)} jobs/s, rss ${currentRssMb().toFixed(0)} MB`;
    if (tty) process.stderr.write(`\r${line}\u001b[K`);
    else if (Date.now() - lastPlain > 5000) {
      err(line);
      lastPlain = Date.now();
    }
  }
  if (tty) process.stderr.write('\n');
  clearInterval(sampler);
  if (sendError !== undefined) throw sendError;
  const elapsedMs = Date.now() - t0;
  const q = await queueDepth(sqs, queueUrl);

  // Exactly once, from the jobs table itself.
  const records = (await scanJobs(dynamodb, requiredOutput(outputs, STACK_OUTPUTS.jobsTable))).filter((r) => r.jobId.startsWith(`b${runId}-`));
  const completedRecords = records.filter((r) => r.status === 'completed').length;
  const doubleCompletions = records.filter((r) => (r.completions ?? 0) > 1).length;
  const stats = harness.stack.stats();
  const workerName = harness.stack.deployment.functions.find((f) => f.logicalId === harness.workerLogicalId)?.functionName;
  const workerStats = stats.functions.find((f) => f.functionName === workerName);
  const trend = memoryTrend(samples);
  const result = {
    jobs: total,
    completed: completedRecords,
    doubleCompletions,
    queueLeft: q.visible + q.inFlight,
    maxConcurrentExecutions: stats.maxConcurrentExecutions,
    concurrencyCap: cap,
    capHeld: stats.maxConcurrentExecutions <= cap,
    invocations: runner.stats().invocations,
    elapsedMs,
    jobsPerSecond: Number(((total / elapsedMs) * 1000).toFixed(1)),
    runnerRssMb: {
      start: Number(trend.startMb.toFixed(1)),
      peak: Number(trend.peakMb.toFixed(1)),
      end: Number(trend.endMb.toFixed(1)),
      lateMinusEarly: Number(trend.lateMinusEarlyMb.toFixed(1)),
      mbPer1000Jobs: Number(trend.mbPer1000Jobs.toFixed(2)),
      flat: trend.flat,
    },
    peakRssPerExecutionMb: Number(((workerStats?.maxPeakRssKb ?? 0) / 1024).toFixed(1)),
    producer: 'SendMessageBatch (direct)',
  };
  const passed = result.completed === total && doubleCompletions === 0 && result.capHeld && trend.flat;

  const html = renderReport({
    title: `Floodgate burst: ${total} tiny jobs`,
    samples: timeline,
    concurrencyCap: cap,
    summary: {
      'jobs completed': `${completedRecords} / ${total} (double completions: ${doubleCompletions})`,
      throughput: `${result.jobsPerSecond} jobs/s over ${(elapsedMs / 1000).toFixed(1)} s`,
      'max concurrent executions': `${result.maxConcurrentExecutions} (cap ${cap})`,
      'runner RSS': `start ${result.runnerRssMb.start} MB, peak ${result.runnerRssMb.peak} MB, end ${result.runnerRssMb.end} MB, late-early ${result.runnerRssMb.lateMinusEarly} MB`,
      'peak RSS per execution environment': `${result.peakRssPerExecutionMb} MB`,
      producer: result.producer,
    },
    jobs: [{ file: `${total} tiny jobs (16x16 JPEG, thumb)`, status: completedRecords === total ? 'completed' : 'failed', detail: `${completedRecords} completed, ${doubleCompletions} completed twice` }],
  });
  // The local stack's report plus the runner's memory over time.
  const rssChart = lineChart('Runner process RSS (MB)', [{ name: 'RSS', color: '#0891b2', points: samples.map((x) => [x.t, x.rssMb] as [number, number]) }]);
  writeFileSync(values.report, html.replace('<h2>Jobs</h2>', `${rssChart}\n<h2>Jobs</h2>`));

  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`producer: ${result.producer}`);
  out(`completed ${completedRecords}/${total}, double completions ${doubleCompletions}, left in queue ${result.queueLeft}`);
  out(`throughput ${result.jobsPerSecond} jobs/s (${(elapsedMs / 1000).toFixed(1)} s, ${result.invocations} invocations)`);
  out(`concurrency: max ${result.maxConcurrentExecutions}, cap ${cap} -> ${result.capHeld ? 'held' : 'BREACHED'}`);
  out(
    `runner memory: start ${result.runnerRssMb.start} MB, peak ${result.runnerRssMb.peak} MB, end ${result.runnerRssMb.end} MB; ` +
      `late-quarter minus second-quarter ${result.runnerRssMb.lateMinusEarly} MB, slope ${result.runnerRssMb.mbPer1000Jobs} MB/1000 jobs -> ${trend.flat ? 'flat' : 'GROWING'}`,
  );
  out(`peak RSS per execution environment ${result.peakRssPerExecutionMb} MB; report: ${values.report}`);
  out(passed ? 'burst passed' : 'burst FAILED');
  if (values.json) out(JSON.stringify({ ...result, passed }));
  exitCode = passed ? 0 : 1;
  void started;
} finally {
  s3.destroy();
  sqs.destroy();
  dynamodb.destroy();
  await harness.stop();
  await emulators.stop();
}
process.exit(exitCode);
