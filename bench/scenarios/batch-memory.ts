/**
 * Runs the bounded and unbounded batch in separate child processes (so their peaks cannot mix) against
 * the same objects in the local S3.
 */
import { PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';
import type { RenditionName } from '../../lambda/shared/job-message';
import { runChild } from '../child';
import type { MemoryResult } from '../result';

const CHILD = fileURLToPath(new URL('../children/batch-memory.ts', import.meta.url));

export interface BatchMemoryOptions {
  readonly endpoints: LocalEndpoints;
  /** Source files; cycled to reach `batchSize` objects. */
  readonly paths: readonly string[];
  readonly batchSize: number;
  readonly renditions: readonly RenditionName[];
  readonly ioConcurrency: number;
  readonly cpuConcurrency: number;
  readonly log: (m: string) => void;
}

export async function runBatchMemory(o: BatchMemoryOptions): Promise<{ bounded: MemoryResult; unbounded: MemoryResult }> {
  const s3 = new S3Client({ region: o.endpoints.region, endpoint: o.endpoints.s3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  const bucket = `bench-mem-${Date.now().toString(36)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys: string[] = [];
  for (let i = 0; i < o.batchSize; i++) {
    const key = `uploads/mem-${i}.${o.paths[i % o.paths.length]!.split('.').pop()}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(o.paths[i % o.paths.length]!) }));
    keys.push(key);
  }
  const run = async (mode: 'bounded' | 'unbounded'): Promise<MemoryResult> => {
    try {
      const r = await runChild<{ images: number; elapsedMs: number; maxInFlightRender: number }>(
        CHILD,
        { mode, s3Endpoint: o.endpoints.s3, region: o.endpoints.region, bucket, keys, renditions: o.renditions, ioConcurrency: o.ioConcurrency, cpuConcurrency: o.cpuConcurrency },
        { env: { MALLOC_ARENA_MAX: '2' }, timeoutMs: 600_000 },
      );
      o.log(`${mode}: ${r.images} images, peak RSS ${(r.peakRssKb / 1024).toFixed(0)} MB, ${(r.elapsedMs / 1000).toFixed(1)} s, max ${r.maxInFlightRender} rendering`);
      return { peakRssMb: r.peakRssKb / 1024, images: r.images, elapsedMs: r.elapsedMs, maxInFlightRender: r.maxInFlightRender };
    } catch (err) {
      return { peakRssMb: null, images: keys.length, elapsedMs: null, maxInFlightRender: null, error: (err as Error).message };
    }
  };
  const bounded = await run('bounded');
  const unbounded = await run('unbounded');
  s3.destroy();
  return { bounded, unbounded };
}
