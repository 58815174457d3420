/** Small pure helpers for turning measurements into the figures the report shows. */
import type { BenchResult, LimitResult, PipelineResult } from './result';

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return a / b;
}

/** Rounds to `digits` decimals, keeping null. */
export function round(n: number | null, digits = 2): number | null {
  if (n === null) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function perSecond(count: number, elapsedMs: number | null): number | null {
  if (elapsedMs === null || elapsedMs <= 0) return null;
  return (count * 1000) / elapsedMs;
}

export function kbToMb(kb: number): number {
  return kb / 1024;
}

/** Parses VmHWM (peak resident set size) out of a /proc/<pid>/status text, in KiB. */
export function parseVmHwmKb(status: string): number | null {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : null;
}

/** The best entry of a concurrency sweep: highest throughput, ties to the lower concurrency. */
export function bestOf(byConcurrency: Readonly<Record<string, number>>): { concurrency: number; value: number } | null {
  let best: { concurrency: number; value: number } | null = null;
  for (const [k, v] of Object.entries(byConcurrency)) {
    const c = Number(k);
    if (!Number.isFinite(v)) continue;
    if (best === null || v > best.value || (v === best.value && c < best.concurrency)) best = { concurrency: c, value: v };
  }
  return best;
}

/** Requests per record, from counted requests. */
export function requestsPerRecord(requests: Readonly<Record<string, number>>, records: number): number | null {
  if (records <= 0) return null;
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  return total / records;
}

export type TargetStatus = 'pass' | 'fail' | 'unknown';

export interface TargetCheck {
  readonly id: string;
  readonly description: string;
  readonly status: TargetStatus;
  /** The measured figure(s) behind the verdict, as text. */
  readonly detail: string;
}

function verdict(ok: boolean | null): TargetStatus {
  return ok === null ? 'unknown' : ok ? 'pass' : 'fail';
}

function fmt(n: number | null | undefined, digits = 2): string {
  return n == null ? 'n/a' : n.toFixed(digits);
}

/** The four targets (plus the scaling shape), judged from a result. Unmeasured = unknown. */
export function evaluateTargets(r: BenchResult): TargetCheck[] {
  const limitRatio = r.floodgate.ratioToLimit;
  const thr = ratio(r.floodgate.imagesPerSec, r.powertools.imagesPerSec);
  const mem = ratio(r.bounded.peakRssMb, r.unbounded.peakRssMb);
  const ddbE2e = [r.floodgate.ddbRequestsPerRecord, r.powertools.ddbRequestsPerRecord];
  const ddbOverhead = [r.overhead.floodgate.ddbRequestsPerRecord, r.overhead.powertools.ddbRequestsPerRecord];
  const wcu = r.overhead.floodgate.ddbWriteUnitsPerRecord;
  const bookkeeping = ratio(r.overhead.floodgate.recordsPerSec, r.overhead.powertools.recordsPerSec);
  const ddbPairs = [ddbE2e, ddbOverhead].filter((p): p is [number, number] => p[0] != null && p[1] != null);
  return [
    {
      id: 'floodgate-vs-limit',
      description: 'floodgate / limit >= 0.85',
      status: verdict(limitRatio === null ? null : limitRatio >= 0.85),
      detail: `ratio ${fmt(limitRatio)} (${fmt(r.floodgate.imagesPerSec)} vs ${fmt(r.limit.imagesPerSec)} img/s)`,
    },
    {
      id: 'worker-efficiency',
      description: "worker CPU efficiency >= 0.9 (raw sharp's CPU per image / the worker's, all threads)",
      status: verdict(r.floodgate.efficiency == null ? null : r.floodgate.efficiency >= 0.9),
      detail: r.floodgate.ratioDecomposition
        ? `efficiency ${fmt(r.floodgate.efficiency)} (Powertools' worker: ${fmt(r.powertools.efficiency ?? null)}); ratio to limit ${fmt(limitRatio)} ~ (workers' CPU share ${fmt(r.floodgate.ratioDecomposition.workerShare)} / limit's ${fmt(r.floodgate.ratioDecomposition.limitShare)}) x ${fmt(r.floodgate.ratioDecomposition.efficiency)} = ${fmt(r.floodgate.ratioDecomposition.predicted)}`
        : `efficiency ${fmt(r.floodgate.efficiency)} (Powertools' worker: ${fmt(r.powertools.efficiency ?? null)})`,
    },
    {
      id: 'floodgate-vs-powertools',
      description: 'floodgate >= powertools (throughput)',
      status: verdict(thr === null ? null : thr >= 1),
      detail: `${fmt(r.floodgate.imagesPerSec)} vs ${fmt(r.powertools.imagesPerSec)} img/s (x${fmt(thr)})`,
    },
    {
      id: 'bounded-memory',
      description: 'bounded peak RSS <= 0.5 x unbounded',
      status: verdict(mem === null ? null : mem <= 0.5),
      detail: `${fmt(r.bounded.peakRssMb, 0)} vs ${fmt(r.unbounded.peakRssMb, 0)} MB (x${fmt(mem)})`,
    },
    {
      id: 'ddb-requests',
      description: "DynamoDB requests/record <= Powertools'",
      status: verdict(ddbPairs.length === 0 ? null : ddbPairs.every(([f, p]) => f <= p)),
      detail: `end to end ${fmt(ddbE2e[0])} vs ${fmt(ddbE2e[1])}; no-op step ${fmt(ddbOverhead[0])} vs ${fmt(ddbOverhead[1])}`,
    },
    {
      id: 'ddb-two-writes',
      description: 'at most 2 DynamoDB requests and 2 write units per record (no-op step, at the wire)',
      status: verdict(ddbOverhead[0] == null || wcu == null ? null : ddbOverhead[0] <= 2 && wcu <= 2),
      detail: `${fmt(ddbOverhead[0])} requests, ${fmt(wcu)} WCU per record; largest job record ${r.floodgate.maxItemBytes ?? 'n/a'} bytes`,
    },
    {
      id: 'bookkeeping',
      description: "no-op bookkeeping >= 1.0x Powertools' records/s",
      status: verdict(bookkeeping === null ? null : bookkeeping >= 1),
      detail: `${fmt(r.overhead.floodgate.recordsPerSec, 1)} vs ${fmt(r.overhead.powertools.recordsPerSec, 1)} records/s (x${fmt(bookkeeping)})`,
    },
    {
      id: 'scaling',
      description: 'scaling: time/job flat (<= 1.5x), memory flat (<= 1.5x) from smallest to largest run',
      status: verdict(
        r.scaling.timePerJobGrowth === null || r.scaling.memoryGrowth === null
          ? null
          : r.scaling.timePerJobGrowth <= 1.5 && r.scaling.memoryGrowth <= 1.5,
      ),
      detail: `time/job x${fmt(r.scaling.timePerJobGrowth)}, peak RSS x${fmt(r.scaling.memoryGrowth)}`,
    },
  ];
}

const sum = (o: Readonly<Record<string, number>> | undefined): number | null => (o && Object.keys(o).length ? Object.values(o).reduce((a, b) => a + b, 0) : null);

/** Raw sharp's CPU per image (best concurrency, all threads) / the workers' (all threads). */
export function cpuEfficiency(limit: LimitResult, pipeline: PipelineResult): number | null {
  const l = limit.bestConcurrency !== null ? sum(limit.threadCpuMsPerImage?.[String(limit.bestConcurrency)]) : null;
  return ratio(l, sum(pipeline.workerThreadCpuMsPerImage));
}

/**
 * pipeline img/s = workers' CPU share x capacity / worker CPU per image, and likewise for the limit, so
 * ratioToLimit = (workers' share / limit's share) x efficiency: the emulators' part and ours apart.
 */
export function ratioDecomposition(limit: LimitResult, pipeline: PipelineResult): PipelineResult['ratioDecomposition'] {
  const efficiency = cpuEfficiency(limit, pipeline);
  const l = limit.bestConcurrency !== null ? sum(limit.threadCpuMsPerImage?.[String(limit.bestConcurrency)]) : null;
  const cpu = pipeline.cpu;
  if (efficiency === null || l === null || !cpu || !limit.imagesPerSec) return null;
  const workerShare = (cpu.cpuSec['workers'] ?? 0) / cpu.capacitySec;
  const limitShare = (l * limit.imagesPerSec) / (limit.machine.cpus * 1000);
  return { workerShare, limitShare, efficiency, predicted: (workerShare / limitShare) * efficiency };
}

const addInto = (into: Record<string, number>, from: Readonly<Record<string, number>> | undefined, weight = 1): void => {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v * weight;
};

/**
 * One figure from the measured rounds of one side (the end-to-end runs go A B B A, so warm-up drift of
 * the emulators hits both sides alike): counts, times and CPU add up, rates are recomputed from the sums,
 * per-image figures are weighted by each round's images, peaks are maxima.
 */
export function mergePipelineRounds(rounds: readonly PipelineResult[], limitImagesPerSec: number | null): PipelineResult {
  const first = rounds[0];
  if (!first) throw new Error('mergePipelineRounds: no rounds');
  if (rounds.length === 1) return { ...first, roundsImagesPerSec: [first.imagesPerSec] };
  const images = rounds.reduce((a, r) => a + r.images, 0);
  const completed = rounds.reduce((a, r) => a + r.completed, 0);
  const failed = rounds.reduce((a, r) => a + r.failed, 0);
  const measured = rounds.every((r) => r.elapsedMs !== null);
  const elapsedMs = measured ? rounds.reduce((a, r) => a + r.elapsedMs!, 0) : null;
  const imagesPerSec = measured ? perSecond(completed, elapsedMs) : null;
  const maxOf = (f: (r: PipelineResult) => number | null | undefined): number | null => {
    const xs = rounds.map(f).filter((x): x is number => typeof x === 'number');
    return xs.length === rounds.length ? Math.max(...xs) : null;
  };
  const perRecord = (f: (r: PipelineResult) => number | null): number | null =>
    rounds.every((r) => f(r) !== null) && images > 0 ? rounds.reduce((a, r) => a + f(r)! * r.images, 0) / images : null;
  const ddbByOperation: Record<string, number> = {};
  for (const r of rounds) addInto(ddbByOperation, r.ddbByOperation);
  let cpu: PipelineResult['cpu'];
  if (rounds.every((r) => r.cpu)) {
    const cpuSec: Record<string, number> = {};
    for (const r of rounds) addInto(cpuSec, r.cpu!.cpuSec);
    cpu = { wallSec: rounds.reduce((a, r) => a + r.cpu!.wallSec, 0), capacitySec: rounds.reduce((a, r) => a + r.cpu!.capacitySec, 0), cpuSec };
  }
  let workerThreadCpuMsPerImage: Record<string, number> | undefined;
  if (completed > 0 && rounds.every((r) => r.workerThreadCpuMsPerImage)) {
    workerThreadCpuMsPerImage = {};
    for (const r of rounds) addInto(workerThreadCpuMsPerImage, r.workerThreadCpuMsPerImage, r.completed / completed);
  }
  const errors = rounds.flatMap((r, i) => (r.error ? [`round ${i + 1}: ${r.error}`] : []));
  const maxItemBytes = maxOf((r) => r.maxItemBytes);
  return {
    imagesPerSec,
    ratioToLimit: ratio(imagesPerSec, limitImagesPerSec),
    peakRssMb: maxOf((r) => r.peakRssMb),
    ddbRequestsPerRecord: perRecord((r) => r.ddbRequestsPerRecord),
    ddbWriteUnitsPerRecord: perRecord((r) => r.ddbWriteUnitsPerRecord),
    images,
    completed,
    failed,
    elapsedMs,
    maxConcurrentExecutions: maxOf((r) => r.maxConcurrentExecutions),
    ddbByOperation,
    ...(cpu ? { cpu } : {}),
    ...(workerThreadCpuMsPerImage ? { workerThreadCpuMsPerImage } : {}),
    ...(maxItemBytes !== null ? { maxItemBytes } : {}),
    roundsImagesPerSec: rounds.map((r) => r.imagesPerSec),
    ...(errors.length ? { error: errors.join('; ') } : {}),
  };
}
