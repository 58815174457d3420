/** Sample inputs for `npm start` (generated at run time, nothing binary in the repo) and the tests. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** A photo-like image: two-axis colour gradient plus seeded noise (so encoders do real work). */
export async function sampleImage(format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff', width = 640, height = 480, seed = 1, alpha = false): Promise<Buffer> {
  const channels = alpha ? 4 : 3;
  const raw = Buffer.alloc(width * height * channels);
  let s = seed >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const i = (y * width + x) * channels;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = 96 + ((s >>> 16) & 0x3f);
      if (alpha) raw[i + 3] = Math.hypot(x - width / 2, y - height / 2) < Math.min(width, height) / 2 ? 255 : 0;
    }
  }
  return sharp(raw, { raw: { width, height, channels } }).toFormat(format).toBuffer();
}

/** Writes the default sample set into `dir`: five images of various formats and one corrupt file. */
export async function writeDefaultSamples(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const truncated = await sampleImage('jpeg', 1024, 768, 9);
  const files: Array<[string, Buffer]> = [
    ['landscape.jpg', await sampleImage('jpeg', 2400, 1600, 1)],
    ['portrait.jpg', await sampleImage('jpeg', 1200, 1800, 2)],
    ['logo.png', await sampleImage('png', 800, 800, 3, true)],
    ['photo.webp', await sampleImage('webp', 1600, 1067, 4)],
    ['tiny.gif', await sampleImage('gif', 200, 150, 5)],
    // Cut off mid-scan: the worker must report it as failed with a reason, not crash or retry it.
    ['corrupt.jpg', truncated.subarray(0, Math.floor(truncated.length / 2))],
  ];
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
  return files.map(([name]) => join(dir, name));
}

/**
 * Jobs beyond the showcase set, so that the default run submits more than the consumer's cap can take
 * at once (the queue builds, executions stay at the cap) and still finishes in seconds: small JPEGs.
 */
export const DEFAULT_BURST_JOBS = 60;

/** Writes `count` small photo-like JPEGs (burst-01.jpg, ...) into `dir`. */
export async function writeBurstSamples(dir: string, count = DEFAULT_BURST_JOBS): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const width = String(count).length;
  const out: string[] = [];
  for (let i = 1; i <= count; i++) {
    const file = join(dir, `burst-${String(i).padStart(width, '0')}.jpg`);
    writeFileSync(file, await sampleImage('jpeg', 480, 320, 100 + i));
    out.push(file);
  }
  return out;
}
