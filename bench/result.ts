/**
 * The shape of one benchmark run: what `--json` prints as its last line and what the table and
 * bench/report.html are drawn from. A figure that could not be measured is `null` with the reason in
 * `error`, never a made-up number.
 */

import type { CpuBreakdown } from './cpu';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemMb: number;
  readonly node: string;
  readonly sharp: string;
  readonly libvips: string;
  readonly platform: string;
}

export interface LimitResult {
  /** Best images/s over the concurrencies tried. */
  readonly imagesPerSec: number | null;
  readonly bestConcurrency: number | null;
  /** images/s per concurrency tried (1..4). */
  readonly byConcurrency: Readonly<Record<string, number>>;
  readonly images: number;
  readonly renditions: readonly string[];
  readonly machine: MachineInfo;
  /**
   * Highest share of the machine's CPU used by OTHER processes while a limit child ran (0 = quiet
   * machine). Above ~0.1 the limit is understated and every ratio to it overstated.
   */
  readonly otherCpuShare?: number;
  /** CPU per image by thread group (main thread, libvips, ...) for each concurrency tried, ms. */
  readonly threadCpuMsPerImage?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly error?: string;
}

export interface PipelineResult {
  readonly imagesPerSec: number | null;
  readonly ratioToLimit: number | null;
  /** Highest VmHWM of any execution environment, MB. */
  readonly peakRssMb: number | null;
  /** DynamoDB data-plane requests (counted at the wire) per record processed. */
  readonly ddbRequestsPerRecord: number | null;
  /** Write capacity units those requests would consume (items <= 1 KB; transactions count twice). */
  readonly ddbWriteUnitsPerRecord: number | null;
  readonly images: number;
  readonly completed: number;
  readonly failed: number;
  readonly elapsedMs: number | null;
  readonly maxConcurrentExecutions: number | null;
  /** DynamoDB requests by operation during the measured phase. */
  readonly ddbByOperation: Readonly<Record<string, number>>;
  /**
   * Diagnostic re-runs of the same measurement with one setting changed (not used by the targets), e.g.
   * the CPU lane set to the host's cores: says whether the lane size is what holds throughput back here.
   */
  /** Where the machine's CPU went during the measured phase (see bench/cpu.ts). */
  readonly cpu?: CpuBreakdown;
  /** The execution environments' CPU per completed image, by thread group (main thread, libvips, ...), ms. */
  readonly workerThreadCpuMsPerImage?: Readonly<Record<string, number>>;
  /**
   * CPU efficiency: raw sharp's CPU per image (the limit run at its best concurrency, summed over threads)
   * divided by the workers' (summed over threads). 1 = the worker adds nothing to sharp's own work.
   */
  readonly efficiency?: number | null;
  /**
   * ratioToLimit decomposed: (workers' share of the machine / the limit run's share) x efficiency. The
   * shares say how much CPU the emulators and idle time left the workers; efficiency is our own cost.
   */
  readonly ratioDecomposition?: { readonly workerShare: number; readonly limitShare: number; readonly efficiency: number; readonly predicted: number } | null;
  /** Largest job record in the table after the run, by DynamoDB's item size rule (<= 1024: 1 WCU a write). */
  readonly maxItemBytes?: number;
  /** Images/s of each measured round, in run order (the figures above merge them: mergePipelineRounds). */
  readonly roundsImagesPerSec?: readonly (number | null)[];
  readonly variants?: readonly { readonly setting: string; readonly imagesPerSec: number | null; readonly ratioToLimit: number | null; readonly peakRssMb: number | null; readonly error?: string }[];
  readonly error?: string;
}

export interface MemoryResult {
  readonly peakRssMb: number | null;
  readonly images: number;
  readonly elapsedMs: number | null;
  /** Most images being rendered at the same moment. */
  readonly maxInFlightRender: number | null;
  readonly error?: string;
}

export interface OverheadSide {
  /** Mean of the measured runs (two, in A B B A order after a warm-up). */
  readonly recordsPerSec: number | null;
  /** Each measured run's records/s. */
  readonly runsRecordsPerSec?: readonly number[];
  readonly ddbRequestsPerRecord: number | null;
  readonly ddbWriteUnitsPerRecord: number | null;
  readonly ddbByOperation: Readonly<Record<string, number>>;
  /** Mean wire latency per DynamoDB operation (request in -> response out at the counting proxy), ms. */
  readonly ddbLatencyMs?: Readonly<Record<string, number>>;
  /** Mean per-record stage times the worker reports (Floodgate only; each includes its lane wait), ms. */
  readonly stagesMs?: Readonly<Record<string, number>>;
  readonly elapsedMs: number | null;
  readonly error?: string;
}

export interface OverheadResult {
  readonly records: number;
  readonly floodgate: OverheadSide;
  readonly powertools: OverheadSide;
}

export interface ScalingRun {
  readonly jobs: number;
  readonly elapsedMs: number;
  readonly msPerJob: number;
  readonly peakRssMb: number;
  /** Most JS heap in use while the batches ran (live data plus garbage not yet collected). */
  readonly peakHeapUsedMb?: number;
  /** JS heap still reachable after a full GC at the end (a leak would grow it with the job count). */
  readonly retainedHeapMb?: number | null;
}

export interface ScalingResult {
  readonly runs: readonly ScalingRun[];
  /** ms/job of the largest run divided by ms/job of the smallest: ~1 means linear time. */
  readonly timePerJobGrowth: number | null;
  /** Peak RSS of the largest run divided by the smallest: ~1 means memory does not grow with jobs. */
  readonly memoryGrowth: number | null;
  /**
   * Diagnostic run (not part of the growth figures): one batch with a forced full GC every second; the
   * live heap above the baseline, divided by the batch size, is what each record in a batch really holds.
   */
  readonly liveHeap?: { readonly jobs: number; readonly baselineHeapMb: number; readonly maxLiveHeapMb: number; readonly perRecordKb: number };
  readonly error?: string;
}

export interface ColdStartSide {
  readonly bundleBytes: number | null;
  /** Median time to import the bundle in a fresh process. */
  readonly initMsMedian: number | null;
  readonly initMsSamples: readonly number[];
  readonly error?: string;
}

export interface ColdStartResult {
  readonly samples: number;
  readonly floodgate: ColdStartSide;
  readonly powertools: ColdStartSide;
}

export interface BenchResult {
  readonly limit: LimitResult;
  readonly floodgate: PipelineResult;
  readonly powertools: PipelineResult;
  readonly bounded: MemoryResult;
  readonly unbounded: MemoryResult;
  readonly overhead: OverheadResult;
  readonly scaling: ScalingResult;
  readonly coldStart: ColdStartResult;
}

export const RESULT_KEYS = ['limit', 'floodgate', 'powertools', 'bounded', 'unbounded', 'overhead', 'scaling', 'coldStart'] as const;
