/** RSS sampling and the "does memory stay flat" verdict (pure maths + a sampler). */
import { readFileSync } from 'node:fs';

export interface RssSample {
  /** ms since the start of the run. */
  readonly t: number;
  readonly rssMb: number;
  /** Jobs completed at that moment (memory should not follow this). */
  readonly completed: number;
}

export interface MemoryTrend {
  readonly samples: number;
  readonly startMb: number;
  readonly peakMb: number;
  readonly endMb: number;
  /** Least-squares slope of RSS against completed jobs after warm-up, MB per 1,000 jobs. */
  readonly mbPer1000Jobs: number;
  /** Mean RSS of the last quarter minus the mean of the second quarter (after warm-up), MB. */
  readonly lateMinusEarlyMb: number;
  /** Flat: the late-vs-early growth stays under `toleranceMb`. */
  readonly flat: boolean;
}

/** RSS of this process in MB (VmRSS), falling back to process.memoryUsage(). */
export function currentRssMb(): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss / 1024 / 1024;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * Judges growth after warm-up (the first quarter of the samples: module loading, pools and caches filling).
 * A runner whose memory follows the number of jobs processed shows a late quarter well above the second.
 */
export function memoryTrend(samples: readonly RssSample[], toleranceMb = 64): MemoryTrend {
  const n = samples.length;
  const rss = samples.map((s) => s.rssMb);
  const q = Math.max(1, Math.floor(n / 4));
  const warm = samples.slice(q);
  const xs = warm.map((s) => s.completed);
  const ys = warm.map((s) => s.rssMb);
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  const early = mean(rss.slice(q, 2 * q));
  const late = mean(rss.slice(Math.max(0, n - q)));
  const lateMinusEarlyMb = n >= 4 ? late - early : 0;
  return {
    samples: n,
    startMb: rss[0] ?? 0,
    peakMb: rss.length ? Math.max(...rss) : 0,
    endMb: rss[n - 1] ?? 0,
    mbPer1000Jobs: slope * 1000,
    lateMinusEarlyMb,
    flat: lateMinusEarlyMb <= toleranceMb,
  };
}
