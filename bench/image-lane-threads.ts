/**
 * CPU lane size x libvips threads per pipeline, measured side by side on one machine: renders a batch of
 * generated 12 MP JPEGs (thumb + medium + large, the default decode strategy) with p-limit(lane) and
 * sharp.concurrency(threads), configurations interleaved over rounds. Prints images/s (median of rounds)
 * and each configuration's ratio to configureSharp()'s choice for that lane (threads = vCPUs / lane).
 *
 *   npx tsx bench/image-lane-threads.ts [images=12] [rounds=3]
 */
import os from 'node:os';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { renderImage, sharpThreadsPerPipeline } from '../lambda/image-worker/image/index';
import { photo } from '../test/fixtures/images';

const images = Number(process.argv[2] ?? 12);
const rounds = Number(process.argv[3] ?? 3);
const vcpus = os.availableParallelism();
sharp.cache(false);

const input = await (await photo(4000, 3000)).jpeg({ quality: 90 }).toBuffer();
const configs = [
  { lane: 1, threads: 1 },
  { lane: 1, threads: vcpus },
  { lane: vcpus, threads: 1 },
  { lane: vcpus, threads: vcpus },
  { lane: vcpus * 2, threads: 1 },
];
console.log(`${images} x 4000x3000 JPEG -> thumb+medium+large per round; ${vcpus} vCPUs; ${rounds} rounds, interleaved; load ${os.loadavg()[0]?.toFixed(1)}`);

async function run(lane: number, threads: number): Promise<number> {
  sharp.concurrency(threads);
  const limit = pLimit(lane);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: images }, () => limit(() => renderImage(input, { renditions: ['thumb', 'medium', 'large'] }))));
  return images / ((performance.now() - t0) / 1000);
}

await run(1, 1); // warm-up
const rates = configs.map(() => [] as number[]);
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...configs.keys()].reverse() : [...configs.keys()];
  for (const i of order) rates[i]?.push(await run(configs[i]!.lane, configs[i]!.threads));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
for (const [i, c] of configs.entries()) {
  const chosen = sharpThreadsPerPipeline(vcpus, c.lane);
  console.log(`lane ${String(c.lane).padStart(2)} x ${c.threads} thread(s)${c.threads === chosen ? ' (configureSharp)' : '                 '}  ${median(rates[i] ?? []).toFixed(2)} images/s   rounds: ${(rates[i] ?? []).map((x) => x.toFixed(2)).join(' ')}`);
}
console.log(`load after: ${os.loadavg()[0]?.toFixed(1)}`);
