/**
 * sharp's process-wide settings, chosen for Lambda (call once at cold start; idempotent).
 *
 * - concurrency: libvips threads per pipeline. The worker's CPU lane already runs
 *   FLOODGATE_CPU_CONCURRENCY images at once (default os.availableParallelism()), so each pipeline gets
 *   vCPUs / lane size threads (at least 1): lane x threads = vCPUs, no oversubscription. On glibc without
 *   jemalloc sharp defaults to 1 unless MALLOC_ARENA_MAX is set (fragmentation guard); the construct sets
 *   MALLOC_ARENA_MAX=2, which makes more threads safe.
 * - cache: libvips' operation cache helps a server that renders the same file twice; a worker sees each
 *   source once, and memory is the Lambda budget, so it is off.
 * - simd: on (default), explicitly.
 */
import os from 'node:os';
import sharp from 'sharp';
import { CONSUMER_ENV } from '../../shared/contract';

export interface SharpSettings {
  readonly concurrency: number;
  readonly cacheMemoryMb: number;
}

/** Pure: the thread count per pipeline for a machine of `vcpus` running `cpuLane` images at once. */
export function sharpThreadsPerPipeline(vcpus: number, cpuLane: number): number {
  return Math.max(1, Math.floor(vcpus / Math.max(1, cpuLane)));
}

export function configureSharp(env: NodeJS.ProcessEnv = process.env): SharpSettings {
  const vcpus = os.availableParallelism();
  const lane = Number.parseInt(env[CONSUMER_ENV.cpuConcurrency] ?? '', 10);
  const concurrency = sharpThreadsPerPipeline(vcpus, Number.isFinite(lane) && lane > 0 ? lane : vcpus);
  sharp.concurrency(concurrency);
  sharp.cache(false);
  sharp.simd(true);
  return { concurrency: sharp.concurrency(), cacheMemoryMb: sharp.cache().memory.max };
}
