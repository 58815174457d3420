/**
 * `npm run bench`: Floodgate against the sharp limit, a Powertools-based consumer and an unbounded one,
 * side by side in one run on one machine with one image set. Prints a table, writes bench/report.html,
 * and with `--json` prints one JSON object as the LAST line of stdout.
 *
 *   npm run bench                 full run (~10 minutes on 2 cores)
 *   npm run bench -- --quick      reduced sizes, to check that everything works (~3 minutes)
 *   npm run bench -- --json       also print the result object last
 *   npm run bench -- --only limit,coldStart   run some sections (the others are reported as skipped)
 *
 * Progress goes to stderr, so stdout is the table (and the JSON line).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulators, type RunningEmulators } from '@floodgate/local';
import { readAssembly, selectStack } from '@floodgate/local';
import { deployTemplate, type LocalDeployment } from '@floodgate/local';
import { RENDITION_NAMES } from '../lambda/shared/job-message';
import { PIPELINE_ENV } from '../lambda/shared/contract';
import { startDdbCounter, type DdbCounter } from './ddb-counter';
import { DEFAULT_IMAGE_SET, ensureImageSet, type BenchImage } from './images';
import { renderHtml, renderTable, type RunInfo } from './report';
import { RESULT_KEYS, type BenchResult, type ColdStartSide, type MemoryResult, type OverheadSide, type PipelineResult } from './result';
import { runBatchMemory } from './scenarios/batch-memory';
import { functionAssetDir } from '@floodgate/local';
import { measureColdStartPair, type ColdStartTarget } from './scenarios/cold-start';
import { runOverheadSide, runScaling, uploadTinySource } from './scenarios/handler-level';
import { machineInfo, runLimit } from './scenarios/limit';
import { mergeStageProfiles, runPipeline, type StageProfile } from './scenarios/pipeline';
import { benchTargets, synthesize } from './synth';
import { findings } from './findings';
import { cpuEfficiency, mergePipelineRounds, ratioDecomposition } from './stats';

/** Two measured runs of one side as one: mean throughput; the wire counts are the same code path, so the second run's stand. */
function meanOverhead(a: OverheadSide, b: OverheadSide): OverheadSide {
  if (a.recordsPerSec === null || b.recordsPerSec === null) return a.recordsPerSec === null ? a : b;
  return { ...b, recordsPerSec: (a.recordsPerSec + b.recordsPerSec) / 2, runsRecordsPerSec: [a.recordsPerSec, b.recordsPerSec] };
}

export interface BenchPlan {
  readonly mode: 'full' | 'quick';
  readonly limitImages: number;
  readonly limitConcurrencies: readonly number[];
  readonly pipelineImages: number;
  /** Measured end-to-end rounds per side, run A B B A ... (see pipelineOrder). */
  readonly pipelineRounds: number;
  readonly memoryBatch: number;
  readonly overheadRecords: number;
  readonly scalingSizes: readonly number[];
  /** Also run Floodgate end to end with the CPU lane as wide as the host's cores (diagnostic). */
  readonly laneVariant: boolean;
  /** Records of the live-heap diagnostic batch. */
  readonly scalingDiagnosticJobs: number;
  readonly coldStartSamples: number;
}

export const FULL_PLAN: BenchPlan = {
  mode: 'full',
  limitImages: 20,
  limitConcurrencies: [1, 2, 3, 4],
  pipelineImages: 40,
  pipelineRounds: 2,
  memoryBatch: 50,
  overheadRecords: 1000,
  scalingSizes: [1000, 5000, 20000],
  scalingDiagnosticJobs: 4000,
  laneVariant: true,
  coldStartSamples: 7,
};

export const QUICK_PLAN: BenchPlan = {
  mode: 'quick',
  limitImages: 6,
  limitConcurrencies: [1, 2, 3, 4],
  pipelineImages: 20,
  pipelineRounds: 2,
  memoryBatch: 20,
  overheadRecords: 200,
  scalingSizes: [200, 1000, 4000],
  scalingDiagnosticJobs: 1000,
  laneVariant: true,
  coldStartSamples: 3,
};

export type Section = 'limit' | 'pipeline' | 'memory' | 'overhead' | 'scaling' | 'coldStart';
const SECTIONS: readonly Section[] = ['limit', 'pipeline', 'memory', 'overhead', 'scaling', 'coldStart'];

export interface CliOptions {
  readonly plan: BenchPlan;
  readonly json: boolean;
  readonly only: ReadonlySet<Section>;
  readonly help: boolean;
}

export const USAGE = 'usage: npm run bench -- [--quick] [--json] [--only limit,pipeline,memory,overhead,scaling,coldStart]';

export function parseArgs(argv: readonly string[]): CliOptions {
  let plan = FULL_PLAN;
  let json = false;
  let only = new Set<Section>(SECTIONS);
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') plan = QUICK_PLAN;
    else if (a === '--json') json = true;
    else if (a === '--only') {
      const list = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const s of list) if (!SECTIONS.includes(s as Section)) throw new Error(`--only: unknown section "${s}" (sections: ${SECTIONS.join(', ')})`);
      only = new Set(list as Section[]);
    } else if (a === '--help' || a === '-h') help = true;
    else throw new Error(`unknown argument "${a}"\n${USAGE}`);
  }
  return { plan, json, only, help };
}

/** The end-to-end run order for `rounds` rounds per side: A B, then B A, A B, ... so each side runs first as often as last. */
export function pipelineOrder(rounds: number): ('floodgate' | 'powertools')[] {
  const out: ('floodgate' | 'powertools')[] = [];
  for (let i = 0; i < rounds; i++) out.push(...(i % 2 === 0 ? (['floodgate', 'powertools'] as const) : (['powertools', 'floodgate'] as const)));
  return out;
}

/** Picks `n` images from the set, JPEGs first, cycling when the set is smaller (for the 50-image batch). */
export function pickImages(images: readonly BenchImage[], n: number, opts: { pngShare?: number } = {}): BenchImage[] {
  const jpegs = images.filter((i) => i.format === 'jpeg');
  const pngs = images.filter((i) => i.format === 'png');
  const pngCount = Math.min(pngs.length === 0 ? 0 : Math.round(n * (opts.pngShare ?? 0.1)), n);
  const out: BenchImage[] = [];
  for (let i = 0; i < n - pngCount; i++) out.push(jpegs[i % jpegs.length]!);
  for (let i = 0; i < pngCount; i++) out.push(pngs[i % pngs.length]!);
  return out;
}

const skippedPipeline = (n: number, why: string): PipelineResult => ({
  imagesPerSec: null, ratioToLimit: null, peakRssMb: null, ddbRequestsPerRecord: null, ddbWriteUnitsPerRecord: null, images: n, completed: 0, failed: 0, elapsedMs: null, maxConcurrentExecutions: null, ddbByOperation: {}, error: why,
});
const skippedMemory = (n: number, why: string): MemoryResult => ({ peakRssMb: null, images: n, elapsedMs: null, maxInFlightRender: null, error: why });
const skippedOverhead = (why: string): OverheadSide => ({ recordsPerSec: null, ddbRequestsPerRecord: null, ddbWriteUnitsPerRecord: null, ddbByOperation: {}, elapsedMs: null, error: why });
const skippedCold = (why: string): ColdStartSide => ({ bundleBytes: null, initMsMedian: null, initMsSamples: [], error: why });

async function main(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { plan } = opts;
  const started = Date.now();
  const log = (m: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);
  const startedAt = new Date(started).toISOString();
  const renditions = [...RENDITION_NAMES];
  const wants = (s: Section) => opts.only.has(s);
  const SKIP = 'skipped (--only)';

  log(`${plan.mode} run; sections: ${[...opts.only].join(', ')}`);
  const images = await ensureImageSet(join(root, '.floodgate/bench/images'), DEFAULT_IMAGE_SET, log);
  log(`image set: ${images.length} files, ${(images.reduce((a, i) => a + i.bytes, 0) / 1e6).toFixed(0)} MB`);

  // Assemblies (bundled workers) for the pipeline runs and the cold-start figures.
  const targets = benchTargets(root);
  const needAssemblies = wants('pipeline') || wants('coldStart') || wants('memory') || wants('overhead') || wants('scaling');
  let synthError: string | undefined;
  if (needAssemblies) {
    for (const t of targets) {
      try {
        const r = await synthesize(root, t, log);
        log(`${t.name} assembly ${r.skipped ? 'up to date' : `synthesized in ${(r.ms / 1000).toFixed(1)} s`}`);
      } catch (err) {
        synthError = (err as Error).message;
        log(synthError);
      }
    }
  }
  const assemblyOf = (name: 'floodgate' | 'powertools') => targets.find((t) => t.name === name)!.outDir;

  // 1. limit
  const limit = wants('limit')
    ? await runLimit(pickImages(images, plan.limitImages).map((i) => i.path), renditions, plan.limitConcurrencies, log)
    : { imagesPerSec: null, bestConcurrency: null, byConcurrency: {}, images: 0, renditions, machine: machineInfo(), error: SKIP };

  let emulators: RunningEmulators | undefined;
  let counter: DdbCounter | undefined;
  let floodgate = skippedPipeline(plan.pipelineImages, SKIP);
  let powertools = skippedPipeline(plan.pipelineImages, SKIP);
  let bounded = skippedMemory(plan.memoryBatch, SKIP);
  let unbounded = skippedMemory(plan.memoryBatch, SKIP);
  let overheadFloodgate = skippedOverhead(SKIP);
  let overheadPowertools = skippedOverhead(SKIP);
  let scaling: BenchResult['scaling'] = { runs: [], timePerJobGrowth: null, memoryGrowth: null, error: SKIP };
  let coldFloodgate = skippedCold(SKIP);
  let coldPowertools = skippedCold(SKIP);
  const profiles: Partial<Record<'floodgate' | 'powertools', StageProfile>> = {};

  try {
    if (wants('pipeline') || wants('memory') || wants('overhead') || wants('scaling')) {
      emulators = await startEmulators();
      counter = await startDdbCounter(emulators.dynamodb);
      log(`emulators up: sqs/s3 ${emulators.sqs}, dynamodb ${emulators.dynamodb} (counted via ${counter.endpoint})`);
    }

    // 2-3. end to end, same images, in rounds A B B A (Floodgate, Powertools, Powertools, Floodgate): the
    // emulators (DynamoDB Local's JVM above all) keep warming up, so whichever side ran first paid for it.
    if (wants('pipeline')) {
      const pipelineImages = pickImages(images, plan.pipelineImages);
      const rounds: Record<'floodgate' | 'powertools', PipelineResult[]> = { floodgate: [], powertools: [] };
      const roundProfiles: Record<'floodgate' | 'powertools', StageProfile[]> = { floodgate: [], powertools: [] };
      for (const [i, name] of pipelineOrder(plan.pipelineRounds).entries()) {
        const r = synthError
          ? { result: skippedPipeline(plan.pipelineImages, `synth failed: ${synthError}`), profile: null }
          : await runPipeline({ name, label: `${name} (round ${i + 1})`, assemblyDir: assemblyOf(name), endpoints: emulators!, counter: counter!, images: pipelineImages, warmupJobs: pipelineImages.length, limitImagesPerSec: limit.imagesPerSec, dynamodbPid: emulators!.dynamodbPid, log });
        rounds[name].push(r.result);
        if (r.profile) roundProfiles[name].push(r.profile);
        if (r.result.error) log(`${name}: ${r.result.error}`);
      }
      floodgate = mergePipelineRounds(rounds.floodgate, limit.imagesPerSec);
      powertools = mergePipelineRounds(rounds.powertools, limit.imagesPerSec);
      for (const name of ['floodgate', 'powertools'] as const) {
        const p = mergeStageProfiles(roundProfiles[name]);
        if (p) profiles[name] = p;
      }
      if (!synthError) {
        floodgate = { ...floodgate, efficiency: cpuEfficiency(limit, floodgate), ratioDecomposition: ratioDecomposition(limit, floodgate) };
        // The same figure for the alternative: what any worker in this runtime spends around sharp.
        powertools = { ...powertools, efficiency: cpuEfficiency(limit, powertools) };
      }
      // Diagnostic: Floodgate again with the CPU lane as wide as the host (locally an execution may use
      // every core; on Lambda the lane follows the memory size). Not used by the targets.
      const lane = synthError ? null : workerLanes(assemblyOf('floodgate')).cpu;
      const cores = machineInfo().cpus;
      if (plan.laneVariant && lane !== null && lane < cores) {
        const setting = `FLOODGATE_CPU_CONCURRENCY=${cores}`;
        const v = await runPipeline({ name: 'floodgate', label: `floodgate (${setting})`, envOverrides: { FLOODGATE_CPU_CONCURRENCY: String(cores) }, assemblyDir: assemblyOf('floodgate'), endpoints: emulators!, counter: counter!, images: pipelineImages, warmupJobs: pipelineImages.length, limitImagesPerSec: limit.imagesPerSec, dynamodbPid: emulators!.dynamodbPid, log });
        floodgate = {
          ...floodgate,
          variants: [{ setting, imagesPerSec: v.result.imagesPerSec, ratioToLimit: v.result.ratioToLimit, peakRssMb: v.result.peakRssMb, ...(v.result.error ? { error: v.result.error } : {}) }],
        };
      }
    }

    // 4. bounded vs unbounded, with the lane sizes the stack gives the worker.
    if (wants('memory')) {
      const lanes = workerLanes(assemblyOf('floodgate'));
      const r = await runBatchMemory({
        endpoints: emulators!,
        paths: pickImages(images, plan.memoryBatch, { pngShare: 0 }).map((i) => i.path),
        batchSize: plan.memoryBatch,
        renditions,
        ioConcurrency: lanes.io,
        cpuConcurrency: lanes.cpu,
        log,
      });
      bounded = r.bounded;
      unbounded = r.unbounded;
    }

    // 5-6. handler-level: overhead (both) and scaling (Floodgate).
    if (wants('overhead') || wants('scaling')) {
      const stack = selectStack(readAssembly(assemblyOf('floodgate')));
      let deployment: LocalDeployment | undefined;
      try {
        deployment = await deployTemplate({ template: stack.template, stackName: stack.stackName, assemblyDir: resolve(assemblyOf('floodgate')), endpoints: emulators!, prefix: `bh${Date.now().toString(36).slice(-6)}`, log: () => undefined });
        const setup = { endpoints: emulators!, counter: counter!, deployment, log };
        const key = await uploadTinySource(setup);
        if (wants('overhead')) {
          // Warm both sides (the emulator's JVM and the page cache), then measure in A B B A order, so
          // neither side pays for running first or for drift during the run; each side's figure is its mean.
          const warm = plan.overheadRecords; // DynamoDB Local keeps getting faster for a while (JIT)
          await runOverheadSide(setup, 'floodgate', warm, key);
          await runOverheadSide(setup, 'powertools', warm, key);
          const f1 = await runOverheadSide(setup, 'floodgate', plan.overheadRecords, key);
          const p1 = await runOverheadSide(setup, 'powertools', plan.overheadRecords, key);
          const p2 = await runOverheadSide(setup, 'powertools', plan.overheadRecords, key);
          const f2 = await runOverheadSide(setup, 'floodgate', plan.overheadRecords, key);
          overheadFloodgate = meanOverhead(f1, f2);
          overheadPowertools = meanOverhead(p1, p2);
        }
        if (wants('scaling')) scaling = await runScaling(setup, plan.scalingSizes, key, plan.scalingDiagnosticJobs);
      } catch (err) {
        const msg = (err as Error).message;
        if (wants('overhead')) [overheadFloodgate, overheadPowertools] = [skippedOverhead(msg), skippedOverhead(msg)];
        if (wants('scaling')) scaling = { runs: [], timePerJobGrowth: null, memoryGrowth: null, error: msg };
      } finally {
        await deployment?.destroy().catch(() => undefined);
      }
    }
  } finally {
    await counter?.stop();
    await emulators?.stop();
  }

  // 7. cold start: bundle size and import time of each bundled worker.
  if (wants('coldStart')) {
    const target = (name: 'floodgate' | 'powertools'): ColdStartTarget | Error => {
      try {
        if (synthError) throw new Error(`synth failed: ${synthError}`);
        const fn = workerFunction(assemblyOf(name));
        return { assetDir: fn.assetDir, handler: fn.handler, env: fn.environment };
      } catch (err) {
        return err as Error;
      }
    };
    [coldFloodgate, coldPowertools] = await measureColdStartPair(target('floodgate'), target('powertools'), plan.coldStartSamples);
    log(`cold start: floodgate ${coldFloodgate.initMsMedian?.toFixed(0)} ms / ${((coldFloodgate.bundleBytes ?? 0) / 1024).toFixed(0)} KB, powertools ${coldPowertools.initMsMedian?.toFixed(0)} ms / ${((coldPowertools.bundleBytes ?? 0) / 1024).toFixed(0)} KB`);
  }

  const result: BenchResult = {
    limit,
    floodgate,
    powertools,
    bounded,
    unbounded,
    overhead: { records: plan.overheadRecords, floodgate: overheadFloodgate, powertools: overheadPowertools },
    scaling,
    coldStart: { samples: plan.coldStartSamples, floodgate: coldFloodgate, powertools: coldPowertools },
  };
  const run: RunInfo = {
    startedAt,
    durationMs: Date.now() - started,
    mode: plan.mode,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  const notes = findings(result, profiles);
  const reportFile = join(root, 'bench/report.html');
  writeFileSync(reportFile, renderHtml(result, run, notes));
  process.stdout.write(`${renderTable(result, run)}\n`);
  if (notes.length) process.stdout.write(`\nfindings:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
  process.stdout.write(`\nreport: ${reportFile}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(pickKeys(result))}\n`);
}

/** The result object with exactly the documented keys, in order. */
export function pickKeys(r: BenchResult): BenchResult {
  return Object.fromEntries(RESULT_KEYS.map((k) => [k, r[k]])) as unknown as BenchResult;
}

interface WorkerFunctionInfo {
  readonly assetDir: string;
  readonly handler: string;
  readonly environment: Record<string, string>;
}

/** The image worker in an assembly: asset, handler and environment (intrinsics replaced by placeholders). */
function workerFunction(assemblyDir: string): WorkerFunctionInfo {
  const abs = resolve(assemblyDir);
  const stack = selectStack(readAssembly(abs));
  // The worker is the function an SQS event source mapping feeds (the job API shares the table env vars).
  const fed = new Set(
    Object.values(stack.template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
      .map((r) => (r.Properties?.['FunctionName'] as { Ref?: string } | undefined)?.Ref)
      .filter((x): x is string => typeof x === 'string'),
  );
  for (const [id, r] of Object.entries(stack.template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function' || !fed.has(id)) continue;
    const vars = ((r.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {});
    if (!(PIPELINE_ENV.jobsTable in vars)) continue;
    const environment = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : `bench-placeholder-${k.toLowerCase()}`]));
    return { assetDir: functionAssetDir(abs, id, r), handler: String(r.Properties?.['Handler'] ?? 'index.handler'), environment: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ...environment } };
  }
  throw new Error(`no image worker function in ${assemblyDir}`);
}

function workerLanes(assemblyDir: string): { io: number; cpu: number } {
  const env = workerFunction(assemblyDir).environment;
  const io = Number(env['FLOODGATE_IO_CONCURRENCY'] ?? 16);
  const cpu = Number(env['FLOODGATE_CPU_CONCURRENCY'] ?? 1);
  return { io: Number.isFinite(io) ? io : 16, cpu: Number.isFinite(cpu) ? cpu : 1 };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
