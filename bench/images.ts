/**
 * The benchmark's image set: photo-like 12-megapixel JPEGs (3-6 MB each, like a phone camera's) and a
 * few PNGs with alpha, generated once with sharp from a seed and cached on disk (gitignored), so every
 * scenario of every run works on the same bytes.
 *
 * "Photo-like" matters: a flat or purely random image compresses to a size no camera produces and makes
 * the decoder's work unrepresentative. We sum smooth gradients, soft shapes and sensor-like noise; the
 * noise amplitude is what brings baseline JPEG at quality 92 into the 3-6 MB range.
 */
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '@floodgate/runtime';

export interface BenchImage {
  /** File name inside the cache dir, e.g. `photo-03.jpg`. */
  readonly name: string;
  readonly path: string;
  readonly format: 'jpeg' | 'png';
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
}

export interface ImageSetSpec {
  readonly jpegs: number;
  readonly pngs: number;
  /** JPEG dimensions; 4000x3000 = 12 MP. */
  readonly jpegWidth: number;
  readonly jpegHeight: number;
  readonly pngWidth: number;
  readonly pngHeight: number;
  readonly seed: number;
}

export const DEFAULT_IMAGE_SET: ImageSetSpec = {
  jpegs: 16,
  pngs: 4,
  jpegWidth: 4000,
  jpegHeight: 3000,
  pngWidth: 2400,
  pngHeight: 1600,
  seed: 7,
};

/** Deterministic PRNG (mulberry32, shared with the chaos faults): the same seed gives the same images on every machine. */
export const mulberry32 = seededRandom;

/** Cache folder name: changes whenever the spec (or the generator version) changes. */
export function imageSetKey(spec: ImageSetSpec): string {
  return `v2-${spec.seed}-${spec.jpegs}x${spec.jpegWidth}x${spec.jpegHeight}-${spec.pngs}x${spec.pngWidth}x${spec.pngHeight}`;
}

/**
 * Raw RGB(A) pixels of one synthetic photo: a two-axis colour gradient, a low-frequency "lighting"
 * wave, a few soft discs and rectangles (objects with edges), and per-pixel noise (sensor grain).
 */
export function synthesizePixels(width: number, height: number, channels: 3 | 4, seed: number, noiseAmplitude: number): Buffer {
  const rnd = mulberry32(seed);
  const buf = Buffer.allocUnsafe(width * height * channels);
  const c0 = [rnd() * 255, rnd() * 255, rnd() * 255];
  const c1 = [rnd() * 255, rnd() * 255, rnd() * 255];
  const fx = 2 + rnd() * 6;
  const fy = 2 + rnd() * 6;
  const shapes = Array.from({ length: 10 }, () => ({
    cx: rnd() * width,
    cy: rnd() * height,
    r: (0.04 + rnd() * 0.18) * Math.min(width, height),
    square: rnd() < 0.4,
    col: [rnd() * 255, rnd() * 255, rnd() * 255],
  }));
  // Noise from a small precomputed table indexed by a cheap LCG: per-pixel Math.random calls would
  // dominate the generation time of 36 M samples.
  const table = new Float32Array(65536);
  for (let i = 0; i < table.length; i++) table[i] = (rnd() + rnd() + rnd() - 1.5) * noiseAmplitude;
  let lcg = (seed * 2654435761) >>> 0;
  for (let y = 0; y < height; y++) {
    const v = y / height;
    const wave = 18 * Math.sin((v * fy + 0.3) * Math.PI);
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const t = (u + v) / 2;
      let r = c0[0]! * (1 - t) + c1[0]! * t + wave * Math.cos(u * fx * Math.PI);
      let g = c0[1]! * (1 - t) + c1[1]! * t + wave;
      let b = c0[2]! * (1 - u) + c1[2]! * u - wave;
      for (const s of shapes) {
        const dx = x - s.cx;
        const dy = y - s.cy;
        const inside = s.square ? Math.abs(dx) < s.r && Math.abs(dy) < s.r * 0.7 : dx * dx + dy * dy < s.r * s.r;
        if (inside) {
          r = (r + s.col[0]!) / 2;
          g = (g + s.col[1]!) / 2;
          b = (b + s.col[2]!) / 2;
        }
      }
      const o = (y * width + x) * channels;
      lcg = (Math.imul(lcg, 1664525) + 1013904223) >>> 0;
      buf[o] = clamp(r + table[lcg >>> 16]!);
      lcg = (Math.imul(lcg, 1664525) + 1013904223) >>> 0;
      buf[o + 1] = clamp(g + table[lcg >>> 16]!);
      lcg = (Math.imul(lcg, 1664525) + 1013904223) >>> 0;
      buf[o + 2] = clamp(b + table[lcg >>> 16]!);
      if (channels === 4) buf[o + 3] = s4alpha(u, v);
    }
  }
  return buf;
}

function clamp(n: number): number {
  return n < 0 ? 0 : n > 255 ? 255 : n | 0;
}

/** Alpha for PNGs: opaque in the middle, fading to transparent at the edges (a cut-out). */
function s4alpha(u: number, v: number): number {
  const d = Math.min(u, v, 1 - u, 1 - v);
  return d > 0.1 ? 255 : Math.round((d / 0.1) * 255);
}

/**
 * Noise amplitudes, measured when tuning: 22 puts a q92 4000x3000 JPEG at ~4.4 MB (12 -> 2.7 MB,
 * 32 -> 5.6 MB). PNGs stand for graphics/screenshots: noise-free (~1.1 MB at 2400x1600 with alpha;
 * any grain makes PNG explode to 7-11 MB, which no one uploads as a graphic).
 */
export const JPEG_NOISE = 22;
export const PNG_NOISE = 0;

/** Grain varies per photo (14..30) so file sizes spread over ~3-5.5 MB like a real camera roll. */
export function jpegNoiseFor(index: number): number {
  return JPEG_NOISE - 8 + (index % 5) * 4;
}

export async function generateJpeg(width: number, height: number, seed: number, noise = JPEG_NOISE): Promise<Buffer> {
  const raw = synthesizePixels(width, height, 3, seed, noise);
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 92, chromaSubsampling: '4:2:0', mozjpeg: false })
    .withMetadata({ orientation: 1 })
    .toBuffer();
}

export async function generatePng(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = synthesizePixels(width, height, 4, seed, PNG_NOISE);
  return sharp(raw, { raw: { width, height, channels: 4 } }).png({ compressionLevel: 6 }).toBuffer();
}

/**
 * Returns the image set, generating whatever is missing into `cacheDir/<key>/`. Files are written to a
 * temporary name and renamed, so an interrupted run never leaves a truncated image in the cache.
 */
export async function ensureImageSet(
  cacheDir: string,
  spec: ImageSetSpec = DEFAULT_IMAGE_SET,
  onProgress?: (msg: string) => void,
): Promise<BenchImage[]> {
  const dir = join(cacheDir, imageSetKey(spec));
  await mkdir(dir, { recursive: true });
  const present = new Set(await readdir(dir));
  const out: BenchImage[] = [];
  const todo: { name: string; format: 'jpeg' | 'png'; width: number; height: number; seed: number; noise: number }[] = [];
  for (let i = 0; i < spec.jpegs; i++) {
    todo.push({ name: `photo-${String(i).padStart(2, '0')}.jpg`, format: 'jpeg', width: spec.jpegWidth, height: spec.jpegHeight, seed: spec.seed * 1000 + i, noise: jpegNoiseFor(i) });
  }
  for (let i = 0; i < spec.pngs; i++) {
    todo.push({ name: `graphic-${String(i).padStart(2, '0')}.png`, format: 'png', width: spec.pngWidth, height: spec.pngHeight, seed: spec.seed * 1000 + 500 + i, noise: PNG_NOISE });
  }
  for (const t of todo) {
    const path = join(dir, t.name);
    if (!present.has(t.name)) {
      onProgress?.(`generating ${t.name} (${t.width}x${t.height})`);
      const data = t.format === 'jpeg' ? await generateJpeg(t.width, t.height, t.seed, t.noise) : await generatePng(t.width, t.height, t.seed);
      await writeFile(`${path}.tmp`, data);
      await rename(`${path}.tmp`, path);
    }
    const { size } = await stat(path);
    out.push({ name: t.name, path, format: t.format, width: t.width, height: t.height, bytes: size });
  }
  return out;
}

/** Loads the files of an image set into memory (the scenarios upload or decode them). */
export async function loadImages(images: readonly BenchImage[]): Promise<{ image: BenchImage; data: Buffer }[]> {
  return Promise.all(images.map(async (image) => ({ image, data: await readFile(image.path) })));
}
