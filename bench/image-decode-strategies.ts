/**
 * Decode strategies for renderImage, measured side by side in one run on a generated 12 MP photo-like JPEG:
 *   per-rendition: one sharp pipeline per rendition from the input (JPEG shrink-on-load per rendition)
 *   decode-once:   decode + resize once to the largest rendition (raw), derive the others from it
 *   cascade:       decode once, then large -> medium -> thumb, each from the previous one's pixels
 * Rounds are interleaved (ABAB...) so machine noise hits both alike. Prints medians and ratios.
 *
 *   npx tsx bench/image-decode-strategies.ts [rounds=7] [sharpThreads=1]
 */
import os from 'node:os';
import sharp from 'sharp';
import { renderImage, type DecodeStrategy } from '../lambda/image-worker/image/index';
import type { RenditionName } from '../lambda/shared/job-message';
import { photo } from '../test/fixtures/images';

const rounds = Number(process.argv[2] ?? 7);
const threads = Number(process.argv[3] ?? 1);
sharp.concurrency(threads);
sharp.cache(false);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

/** Wall ms and process CPU ms (libvips threads included): CPU time is what a busy or shared machine distorts least. */
async function time(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

const input = await (await photo(4000, 3000)).jpeg({ quality: 90 }).toBuffer();
console.log(`input: 4000x3000 JPEG q90, ${(input.length / 1024 / 1024).toFixed(1)} MB; sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}; ` +
  `sharp.concurrency=${sharp.concurrency()}; ${os.availableParallelism()} vCPUs; ${rounds} rounds, interleaved`);

const cases: { label: string; renditions: RenditionName[]; watermark?: { text: string } }[] = [
  { label: 'thumb+medium+large', renditions: ['thumb', 'medium', 'large'] },
  { label: 'thumb+medium+large, text watermark', renditions: ['thumb', 'medium', 'large'], watermark: { text: 'Floodgate' } },
  { label: 'thumb+medium', renditions: ['thumb', 'medium'] },
  { label: 'thumb only', renditions: ['thumb'] },
];
const strategies: DecodeStrategy[] = ['per-rendition', 'decode-once', 'cascade'];

for (const c of cases) {
  const request = { renditions: c.renditions, ...(c.watermark ? { watermark: c.watermark } : {}) };
  for (const s of strategies) await renderImage(input, request, { strategy: s }); // warm-up
  const wall: Record<DecodeStrategy, number[]> = { 'per-rendition': [], 'decode-once': [], cascade: [] };
  const cpu: Record<DecodeStrategy, number[]> = { 'per-rendition': [], 'decode-once': [], cascade: [] };
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? [...strategies].reverse() : strategies) {
      const t = await time(() => renderImage(input, request, { strategy: s }));
      wall[s].push(t.wall);
      cpu[s].push(t.cpu);
    }
  }
  console.log(c.label);
  for (const [what, xs] of [['wall', wall], ['cpu ', cpu]] as const) {
    const a = median(xs['per-rendition']);
    const b = median(xs['decode-once']);
    const c3 = median(xs.cascade);
    console.log(`  ${what} median  per-rendition ${a.toFixed(0).padStart(4)} ms  decode-once ${b.toFixed(0).padStart(4)} ms  cascade ${c3.toFixed(0).padStart(4)} ms` +
      `   per-rendition/decode-once ${(a / b).toFixed(2)}  per-rendition/cascade ${(a / c3).toFixed(2)}`);
  }
}
