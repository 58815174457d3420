/**
 * `limit`: raw sharp on this machine. One child process per concurrency (1..4) so each gets a clean heap
 * and libvips state; the best images/s is the limit the pipelines are compared against.
 */
import { cpus, totalmem, platform, arch } from 'node:os';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { RenditionName } from '../../lambda/shared/job-message';
import { runChild } from '../child';
import type { LimitResult, MachineInfo } from '../result';
import { bestOf } from '../stats';
import { cpuBreakdown, cpuSnapshot } from '../cpu';

const CHILD = fileURLToPath(new URL('../children/limit.ts', import.meta.url));

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    totalMemMb: Math.round(totalmem() / 1024 / 1024),
    node: process.versions.node,
    sharp: sharp.versions.sharp ?? 'unknown',
    libvips: sharp.versions.vips,
    platform: `${platform()}-${arch()}`,
  };
}

export async function runLimit(
  paths: readonly string[],
  renditions: readonly RenditionName[],
  concurrencies: readonly number[],
  log: (m: string) => void,
): Promise<LimitResult> {
  const byConcurrency: Record<string, number> = {};
  const machine = machineInfo();
  let otherCpuShare = 0;
  const threadCpuMsPerImage: Record<string, Record<string, number>> = {};
  try {
    for (const concurrency of concurrencies) {
      const before = cpuSnapshot({ bench: () => [process.pid] });
      const r = await runChild<{ images: number; elapsedMs: number; threadCpuMs: Record<string, number> }>(
        CHILD,
        { paths, concurrency, renditions },
        { env: { MALLOC_ARENA_MAX: '2' } },
      );
      const b = cpuBreakdown(before, cpuSnapshot({ bench: () => [process.pid] }), cpus().length);
      // The child's whole life (start-up included) vs the machine's busy time over the same span.
      const busy = (b.cpuSec['bench'] ?? 0) + (b.cpuSec['other'] ?? 0);
      otherCpuShare = Math.max(otherCpuShare, Math.max(0, busy - r.cpuMs / 1000 - (b.cpuSec['bench'] ?? 0)) / b.capacitySec);
      byConcurrency[String(concurrency)] = (r.images * 1000) / r.elapsedMs;
      threadCpuMsPerImage[String(concurrency)] = Object.fromEntries(Object.entries(r.threadCpuMs).map(([g, ms]) => [g, ms / r.images]));
      log(`limit: ${concurrency} at a time -> ${byConcurrency[String(concurrency)]!.toFixed(2)} img/s`);
    }
    const best = bestOf(byConcurrency);
    return { imagesPerSec: best?.value ?? null, bestConcurrency: best?.concurrency ?? null, byConcurrency, images: paths.length, renditions: [...renditions], machine, otherCpuShare, threadCpuMsPerImage };
  } catch (err) {
    const best = bestOf(byConcurrency);
    return { imagesPerSec: best?.value ?? null, bestConcurrency: best?.concurrency ?? null, byConcurrency, images: paths.length, renditions: [...renditions], machine, error: (err as Error).message };
  }
}
