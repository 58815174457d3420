/**
 * `npm start`: synthesize the app, start the emulators, deploy the stack onto them, run the consumers
 * like Lambda would, push images through the pipeline as its producer would, and report.
 *
 *   npm start -- [--images DIR] [--out DIR] [--json] [--keep] [--endpoint URL] [--target localstack]
 */
import { createWriteStream, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { STACK_OUTPUTS } from '../lambda/shared/contract';
import { ApiClient } from './api-client';
import { LOCAL_CREDENTIALS, startEmulators, type RunningEmulators } from '@floodgate/local';
import { pipelineClients, type PipelineClients } from './producer';
import { detail, downloadRenditions, progressLine, table } from './summary';
import { renderReport } from './report';
import { runJobs, type Progress, type RunJobsResult } from './run-jobs';
import { DEFAULT_BURST_JOBS, writeBurstSamples, writeDefaultSamples } from './samples';
import { thumbnailDataUris } from './thumbnails';
import { startLocalStack, type LocalStack } from '@floodgate/local';
import { synthesize } from '@floodgate/local';

const USAGE = `Usage: npm start -- [options]
  --images DIR          submit every file in DIR (default: 6 generated samples, one of them corrupt,
                        and ${DEFAULT_BURST_JOBS} small burst jobs: more than the consumer's cap takes at once)
  --out DIR             download each completed job's renditions to DIR/<file name without extension>/
  --json                print one JSON summary object as the last line of stdout
  --keep                keep the stack running afterwards (prints endpoint=URL); Ctrl-C stops it
  --endpoint URL        create the resources on this AWS-compatible endpoint (moto, LocalStack) instead of
                        the embedded emulators; the functions still run here (default: $FLOODGATE_ENDPOINT)
  --target localstack   deploy with cdklocal to LocalStack, which runs the functions itself (see
                        packages/local/README.md, "LocalStack": what is and is not verified)
  --help`;

interface Args {
  images?: string;
  out?: string;
  json: boolean;
  keep: boolean;
  endpoint?: string;
  target: 'local' | 'localstack';
}

function parse(argv: string[]): Args {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      images: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      target: { type: 'string' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  // Only an explicit --target selects LocalStack: AWS_ENDPOINT_URL is what the local stack itself exports.
  const target = values.target ?? 'local';
  if (target !== 'local' && target !== 'localstack') throw new UsageError(`--target must be "local" or "localstack" (got "${target}")`);
  const endpoint = values.endpoint ?? (process.env.FLOODGATE_ENDPOINT || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL (got "${endpoint}")`);
  return { ...(values.images ? { images: values.images } : {}), ...(values.out ? { out: values.out } : {}), json: values.json, keep: values.keep, ...(endpoint ? { endpoint } : {}), target };
}

class UsageError extends Error {}

async function inputFiles(args: Args): Promise<string[]> {
  // The showcase set plus a burst of small jobs: more than the consumer's cap takes at once.
  if (!args.images) return [...(await writeDefaultSamples(resolve('.floodgate/samples'))), ...(await writeBurstSamples(resolve('.floodgate/samples/burst')))];
  const dir = resolve(args.images);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    throw new UsageError(`--images ${args.images}: ${(err as Error).message}`);
  }
  const files = entries
    .map((e) => join(dir, e))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    })
    .sort();
  if (files.length === 0) throw new UsageError(`--images ${args.images}: no files in that directory`);
  return files;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  // With --json, stdout carries only the JSON object: everything for humans goes to stderr.
  const human = args.json ? process.stderr : process.stdout;
  const say = (line: string): void => void human.write(`${line}\n`);
  if (args.target === 'localstack') {
    const { runOnLocalStack } = await import('./localstack');
    return runOnLocalStack({ ...args, say });
  }

  let emulators: RunningEmulators | undefined;
  let stack: LocalStack | undefined;
  let clients: PipelineClients | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      clients?.destroy();
      await stack?.stop();
      await emulators?.stop();
    })());
  let keepWaiting: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (keepWaiting) {
      keepWaiting();
      return;
    }
    say(`\n${signal}: stopping the local stack...`);
    void shutdown().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const files = await inputFiles(args);
    const synthStarted = Date.now();
    const { assemblyDir, synthesized } = await synthesize({ log: say });
    if (synthesized) say(`synth: done in ${((Date.now() - synthStarted) / 1000).toFixed(1)} s`);
    if (!args.endpoint) emulators = await startEmulators({ handleSignals: false });
    // Every line the functions write (their JSON logs), for when a job fails and you want to know why.
    const logFile = resolve('.floodgate/local/functions.log');
    mkdirSync(dirname(logFile), { recursive: true });
    const logStream = createWriteStream(logFile, { flags: 'w' });
    stack = await startLocalStack({
      assemblyDir,
      ...(emulators ? { emulators } : { endpoint: args.endpoint! }),
      handleSignals: false,
      outputsFile: resolve('.floodgate/local/outputs.json'),
      log: say,
      onLog: (e) => void logStream.write(`${e.functionName}#${e.environmentId} ${e.line}\n`),
    });
    const runner = [...stack.runners.values()][0];
    const reservedConcurrency = runner?.concurrencyCap;
    say(`deployed ${stack.stackName}${stack.deployment.prefix ? ` (name prefix ${stack.deployment.prefix})` : ''}; outputs in .floodgate/local/outputs.json, function logs in .floodgate/local/functions.log`);
    if (stack.api) say(`job API: ${stack.api.url} (submitting through it)`);
    clients = pipelineClients(stack.endpoints);
    const api = stack.api ? new ApiClient({ baseUrl: stack.api.url, region: stack.endpoints.region, credentials: LOCAL_CREDENTIALS }) : undefined;
    say(`submitting ${files.length} file(s)${args.images ? ` from ${args.images}` : ' (generated samples, one of them corrupt on purpose)'}`);

    const tty = Boolean((human as NodeJS.WriteStream).isTTY);
    let lastPlain = '';
    let lastPlainAt = 0;
    const onProgress = (p: Progress): void => {
      const line = progressLine(p);
      if (tty) human.write(`\r${line}\x1b[K`);
      else if (line.replace(/\s+[\d.]+ s$/, '') !== lastPlain && Date.now() - lastPlainAt > 1000) {
        lastPlain = line.replace(/\s+[\d.]+ s$/, '');
        lastPlainAt = Date.now();
        say(line);
      }
    };
    const liveStack = stack;
    const result: RunJobsResult = await runJobs({
      files,
      clients,
      outputs: stack.outputs,
      ...(api ? { api } : {}),
      // The burst goes straight to the queue, as a campaign's would; the showcase files go through the API.
      direct: (file) => basename(dirname(file)) === 'burst' && !args.images,
      inFlightExecutions: () => liveStack.stats().runners.reduce((n, r) => n + r.inFlight, 0),
      onProgress,
    });
    if (tty) human.write('\n');

    const stats = stack.stats();
    const completed = result.jobs.filter((j) => j.status === 'completed').length;
    const failed = result.jobs.filter((j) => j.status === 'failed' || j.status === 'dead-lettered').length;
    const pending = result.jobs.filter((j) => j.status === 'pending').length;
    say('');
    say(table([['file', 'status', 'job', 'renditions / reason'], ...result.jobs.map((j) => [basename(j.file), j.status, j.jobId ?? '-', detail(j)])]));
    say('');
    // The consumer behind the (first) event source mapping; API functions are reported by the front.
    const consumerId = stack.deployment.eventSourceMappings[0]?.functionLogicalId;
    const consumerName = stack.deployment.functions.find((f) => f.logicalId === consumerId)?.functionName;
    const fnStats = stats.functions.find((f) => f.functionName === consumerName);
    say(
      `${result.jobs.length} submitted, ${completed} completed, ${failed} failed, ${result.deadLettered} dead-lettered, ${pending} pending in ${(result.elapsedMs / 1000).toFixed(1)} s; ` +
        `max concurrent executions ${stats.maxConcurrentExecutions} (cap ${reservedConcurrency ?? '-'}), invocations ${stats.runners.reduce((n, r) => n + r.invocations, 0)}` +
        (fnStats ? `, peak RSS per environment ${(fnStats.maxPeakRssKb / 1024).toFixed(0)} MB, cold starts ${fnStats.coldStarts}` : ''),
    );

    if (args.out) {
      const n = await downloadRenditions(clients, stack.outputs[STACK_OUTPUTS.renditionsBucket]!, result.jobs, resolve(args.out));
      say(`downloaded ${n} rendition(s) to ${args.out}`);
    }
    const thumbnails = await thumbnailDataUris(clients, stack.outputs[STACK_OUTPUTS.renditionsBucket]!, result.jobs);
    const reportFile = resolve('report.html');
    writeFileSync(
      reportFile,
      renderReport({
        title: `Floodgate local run — ${new Date().toISOString()}`,
        samples: result.samples,
        ...(reservedConcurrency !== undefined ? { concurrencyCap: reservedConcurrency } : {}),
        summary: {
          submitted: result.jobs.length,
          completed,
          failed,
          'dead-lettered': result.deadLettered,
          pending,
          'max concurrent executions': stats.maxConcurrentExecutions,
          'concurrency cap': reservedConcurrency ?? '-',
          'elapsed': `${(result.elapsedMs / 1000).toFixed(1)} s`,
        },
        jobs: result.jobs.map((j) => ({ file: basename(j.file), status: j.status, detail: detail(j), ...(thumbnails.has(j) ? { thumbnail: thumbnails.get(j)! } : {}) })),
      }),
    );
    say(`report: ${reportFile}`);

    if (args.keep) {
      say(`endpoint=${stack.endpoint}`);
      if (stack.api) say(`api=${stack.api.url}`);
      say(`AWS CLI: export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=${stack.region} AWS_DEFAULT_REGION=${stack.region} AWS_ENDPOINT_URL=${stack.endpoint}`);
      say(`         then e.g. aws --endpoint-url ${stack.endpoint} sqs list-queues (CLI v1 ignores AWS_ENDPOINT_URL for SQS); aws s3 ls s3://${stack.outputs[STACK_OUTPUTS.renditionsBucket]}/ --recursive; aws dynamodb scan --table-name ${stack.outputs[STACK_OUTPUTS.jobsTable]}`);
      say('Running. Ctrl-C stops everything.');
    }
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({
          submitted: result.jobs.length,
          completed,
          failed,
          deadLettered: result.deadLettered,
          pending,
          maxConcurrentExecutions: stats.maxConcurrentExecutions,
          reservedConcurrency: reservedConcurrency ?? null,
          elapsedMs: Math.round(result.elapsedMs),
          jobs: result.jobs.map((j) => ({ file: basename(j.file), jobId: j.jobId, status: j.status, renditions: j.renditions, ...(j.error ? { error: j.error } : {}) })),
        })}\n`,
      );
    }
    if (args.keep) await new Promise<void>((r) => (keepWaiting = r));
    await shutdown();
    // Pending jobs after the timeout mean the pipeline did not finish: the run itself broke.
    return result.timedOut ? 1 : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      say(`error: ${err.message}\n\n${USAGE}`);
      await shutdown();
      return 2;
    }
    say(`run failed: ${(err as Error).stack ?? String(err)}`);
    await shutdown();
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${msg}\n\n${USAGE}\n`);
    process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
