/**
 * renderImage: one untrusted input buffer -> the requested renditions.
 *
 * Order of fences, cheapest first: byte size, magic bytes, header (sharp metadata: no pixel decode) against
 * pixel/channel/frame limits, then decode with limitInputPixels/limitInputChannels as a second fence,
 * failOn (see FAIL_ON: truncated or broken pixel data fails instead of producing grey garbage) and the
 * per-image deadline.
 *
 * Work: auto-orient from EXIF, convert to 8-bit sRGB (CMYK, 16-bit, grey, ICC profiles), resize inside
 * the rendition's box without enlarging, JPEG flattened on white, WebP keeps alpha, watermark on the
 * renditions that ask for it. Outputs carry no metadata at all: sharp strips EXIF (GPS), XMP, IPTC and
 * ICC unless told to keep them, and we never tell it to. Animated GIF/WebP and multi-page TIFF render
 * their first frame only (pages: 1): a still thumbnail is what a rendition is, and decoding one frame
 * bounds the work by one frame's pixels.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Metadata, type ResizeOptions, type Sharp, type SharpOptions } from 'sharp';
import type { RenditionName, Watermark } from '../../shared/job-message';
import { FloodgateError, PermanentError } from '@floodgate/runtime';
import { describeFormat, detectFormat, isAcceptedFormat, type AcceptedFormat } from './formats';
import { checkHeader, checkSize } from './header-check';
import { resolveLimits, type ImageLimits } from './limits';
import { OUTPUT_TYPES, resolveRenditions, type RenditionSpec } from './renditions';
import { classifySharpError } from './sharp-errors';
import { ImageDeadline } from './deadline';
import { prepareLogo, watermarkLayers, DEFAULT_WATERMARK_OPACITY, type PreparedLogo } from './watermark';

export interface RenderRequest {
  readonly renditions: RenditionName[];
  readonly watermark?: Watermark;
  /** The watermark's logo (watermark.logoKey, downloaded by the caller). */
  readonly logo?: Buffer;
}

export interface RenderOptions {
  readonly limits?: Partial<ImageLimits>;
  /** The caller's deadline: aborting rejects with a retryable Timeout (or the reason, if it is a FloodgateError). */
  readonly signal?: AbortSignal;
  /** How renditions are derived from the input; see bench/image-decode-strategies.ts. */
  readonly strategy?: DecodeStrategy;
  /** Where 'decode-once' keeps its decoded pixels. @default DEFAULT_INTERMEDIATE ('file') */
  readonly intermediate?: IntermediateStore;
}

/**
 * Where 'decode-once' keeps the decoded pixels that every rendition is derived from.
 * - 'file': libvips' own format (`.v`) in the temporary directory (Lambda's /tmp), written and read back
 *   by libvips itself, so the pixels (9 MB for a 12 MP photo at 2048 px) never become a V8
 *   external buffer. V8 counts external bytes allocated since its last mark-compact against the old
 *   generation's headroom, and in the worker one such buffer per image started about 0.8 extra major GCs
 *   per image, at the same libvips CPU (bench/profile/worker-cpu.ts; figures in this folder's README).
 *   If the file cannot be written (a full or read-only /tmp), the image falls back to 'memory'.
 * - 'memory': a raw pixel Buffer, no file system needed.
 */
export type IntermediateStore = 'file' | 'memory';

/** Chosen by measurement (bench/profile/worker-cpu.ts; figures in this folder's README). */
export const DEFAULT_INTERMEDIATE: IntermediateStore = 'file';

export interface RenderedImage {
  readonly name: RenditionName;
  /** sharp's output format name: 'jpeg' | 'webp'. */
  readonly format: string;
  /** File extension without the dot: 'jpg' | 'webp'. */
  readonly ext: string;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly data: Buffer;
}

/**
 * - 'per-rendition': one pipeline per rendition straight from the input buffer (decodes N times, but each
 *   decode can use JPEG/WebP shrink-on-load for its own reduction factor).
 * - 'decode-once': decode and resize once to the largest rendition (as raw 8-bit pixels), then derive
 *   every rendition from that buffer.
 * - 'cascade': decode once like 'decode-once', then each rendition from the next larger one's pixels
 *   (large -> medium -> thumb), so every resize reads the smallest possible source.
 */
export type DecodeStrategy = 'per-rendition' | 'decode-once' | 'cascade';

/** Chosen by measurement (bench/image-decode-strategies.ts; figures in the README). */
export const DEFAULT_DECODE_STRATEGY: DecodeStrategy = 'decode-once';

interface Job {
  readonly intermediate: IntermediateStore;
  readonly input: Buffer;
  readonly format: AcceptedFormat;
  readonly limits: ImageLimits;
  readonly deadline: ImageDeadline;
  readonly watermark: Watermark | undefined;
  readonly logo: PreparedLogo | undefined;
}

interface RawImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

export async function renderImage(input: Buffer, request: RenderRequest, options: RenderOptions = {}): Promise<RenderedImage[]> {
  const limits = resolveLimits(options.limits);
  const specs = resolveRenditions(request.renditions);
  const deadline = new ImageDeadline(limits.timeoutMs, options.signal);
  deadline.check();

  checkSize(input.length, limits);
  const detected = detectFormat(input);
  if (!isAcceptedFormat(detected)) {
    throw new PermanentError('UnsupportedFormat', `file is ${describeFormat(detected)}; accepted formats are JPEG, PNG, WebP, AVIF, TIFF and GIF`);
  }
  const format = detected;
  checkHeader(format, await readHeader(input, format, limits, deadline), limits);

  const watermark = request.watermark;
  if (watermark?.logoKey !== undefined && request.logo === undefined) {
    throw new TypeError('watermark.logoKey is set but no logo buffer was passed to renderImage');
  }
  const logo =
    request.logo && watermark && specs.some((s) => s.watermark)
      ? await deadline.race(prepareLogo(request.logo, watermark.opacity ?? DEFAULT_WATERMARK_OPACITY))
      : undefined;

  const job: Job = { intermediate: options.intermediate ?? DEFAULT_INTERMEDIATE, input, format, limits, deadline, watermark, logo };
  const strategy = options.strategy ?? DEFAULT_DECODE_STRATEGY;
  let rendered: RenderedImage[];
  try {
    rendered =
      strategy === 'decode-once' ? await renderDecodeOnce(job, specs)
      : strategy === 'cascade' ? await renderCascade(job, specs)
      : await renderPerRendition(job, specs);
  } catch (err) {
    throw classifySharpError(err, format, deadline.sharpSeconds());
  }
  // Back in the order the caller asked for (outside the try: a bug here is not a corrupt image).
  return request.renditions.filter((n, i, all) => all.indexOf(n) === i).map((n) => {
    const r = rendered.find((x) => x.name === n);
    if (!r) throw new Error(`rendition ${n} missing from the pipeline output`);
    return r;
  });
}

/**
 * Reads the header (sharp's metadata() parses headers, it does not decode pixels). sharp already refuses
 * headers over limitInputPixels here; then the header is read again without the limit, still without
 * decoding, only so checkHeader can say what the file declares ("30000x30000 = 900 megapixels").
 */
async function readHeader(input: Buffer, format: AcceptedFormat, limits: ImageLimits, deadline: ImageDeadline): Promise<Metadata> {
  try {
    return await deadline.race(sharp(input, inputOptions(limits)).metadata());
  } catch (err) {
    const classified = classifySharpError(err, format, deadline.sharpSeconds());
    if (classified.errorClass === 'TooLarge') {
      const declared = await sharp(input, { ...inputOptions(limits), limitInputPixels: false }).metadata().catch(() => undefined);
      if (declared) checkHeader(format, declared, limits);
    }
    throw classified;
  }
}

/**
 * failOn 'warning' (sharp's advice for untrusted input): a JPEG whose header claims more rows than its
 * data holds only makes libjpeg warn and fill grey; 'error' would publish that garbage. The cost: files
 * with harmless warnings (extraneous bytes between markers) are rejected as CorruptImage.
 */
export const FAIL_ON = 'warning' as const;

/** Options of every sharp() call on the untrusted input (exported so tests can pin the fences). */
export function inputOptions(limits: ImageLimits): SharpOptions {
  return {
    failOn: FAIL_ON,
    limitInputPixels: limits.maxPixels,
    limitInputChannels: limits.maxChannels,
    autoOrient: true,
    pages: 1,
  };
}

const rawInput = (img: RawImage): SharpOptions => ({
  raw: { width: img.width, height: img.height, channels: img.channels },
  limitInputPixels: false, // our own decoded buffer, already fenced
});

const fitBox = (spec: RenditionSpec): ResizeOptions => ({
  width: spec.maxEdge,
  height: spec.maxEdge,
  fit: 'inside',
  withoutEnlargement: true,
});

async function toRaw(pipeline: Sharp, deadline: ImageDeadline): Promise<RawImage> {
  const { data, info } = await deadline.race(pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Flattens (JPEG), watermarks and encodes a pipeline whose output size is already final. */
async function encode(job: Job, spec: RenditionSpec, sized: Sharp, size: { width: number; height: number }): Promise<RenderedImage> {
  let pipeline = sized;
  if (spec.format === 'jpeg') pipeline = pipeline.flatten({ background: '#ffffff' });
  if (spec.watermark && job.watermark) {
    pipeline = pipeline.composite(await job.deadline.race(watermarkLayers(job.watermark, job.logo, size.width, size.height)));
  }
  pipeline = spec.format === 'jpeg' ? pipeline.jpeg({ quality: spec.quality }) : pipeline.webp({ quality: spec.quality });
  const { data, info } = await job.deadline.race(pipeline.timeout({ seconds: job.deadline.sharpSeconds() }).toBuffer({ resolveWithObject: true }));
  const type = OUTPUT_TYPES[spec.format];
  return { name: spec.name, format: info.format, ext: type.ext, contentType: type.contentType, width: info.width, height: info.height, bytes: data.length, data };
}

/** Resizes `source` for `spec`; with a watermark, materialises the pixels first so the overlay size is exact. */
async function renditionFrom(job: Job, spec: RenditionSpec, source: () => Sharp): Promise<RenderedImage> {
  const resized = source().resize(fitBox(spec)).toColourspace('srgb').timeout({ seconds: job.deadline.sharpSeconds() });
  if (!(spec.watermark && job.watermark)) {
    // Size known only after encoding; encode() reads it from sharp's info.
    return encode(job, spec, resized, { width: 0, height: 0 });
  }
  const raw = await toRaw(resized, job.deadline);
  return encode(job, spec, sharp(raw.data, rawInput(raw)), raw);
}

async function renderPerRendition(job: Job, specs: RenditionSpec[]): Promise<RenderedImage[]> {
  const out: RenderedImage[] = [];
  for (const spec of specs) out.push(await renditionFrom(job, spec, () => sharp(job.input, inputOptions(job.limits))));
  return out;
}

/** Decoded pixels that renditions are derived from (see IntermediateStore). */
interface Intermediate {
  readonly width: number;
  readonly height: number;
  /** A new pipeline reading the pixels. */
  source(): Sharp;
  dispose(): Promise<void>;
}

async function decodeToIntermediate(job: Job, decode: () => Sharp): Promise<Intermediate> {
  if (job.intermediate === 'file') {
    const path = join(tmpdir(), `floodgate-render-${randomUUID()}.v`);
    const dispose = () => rm(path, { force: true });
    const writing = decode().toFile(path);
    try {
      const info = await job.deadline.race(writing);
      // Our own file of already fenced pixels: no input limits needed.
      return { width: info.width, height: info.height, source: () => sharp(path, { limitInputPixels: false }), dispose };
    } catch (err) {
      // Removed once libvips has let go of it (a lost race leaves the write running until sharp's timeout).
      void writing.then(dispose, dispose).catch(() => undefined);
      // The deadline is final. Anything else may be the file system (full or read-only), so the image is
      // decoded again into memory: a broken image then fails with its own error, a good one still renders.
      if (err instanceof FloodgateError) throw err;
      job.deadline.check();
    }
  }
  const raw = await toRaw(decode(), job.deadline);
  return { width: raw.width, height: raw.height, source: () => sharp(raw.data, rawInput(raw)), dispose: async () => undefined };
}

async function renderDecodeOnce(job: Job, specs: RenditionSpec[]): Promise<RenderedImage[]> {
  const [largest] = specs;
  if (!largest) return [];
  const base = await decodeToIntermediate(job, () =>
    sharp(job.input, inputOptions(job.limits)).resize(fitBox(largest)).toColourspace('srgb').timeout({ seconds: job.deadline.sharpSeconds() }),
  );
  try {
    const out: RenderedImage[] = [];
    for (const spec of specs) {
      if (spec.maxEdge >= Math.max(base.width, base.height) && spec.watermark && job.watermark) {
        out.push(await encode(job, spec, base.source(), base));
      } else {
        out.push(await renditionFrom(job, spec, () => base.source()));
      }
    }
    return out;
  } finally {
    await base.dispose();
  }
}

async function renderCascade(job: Job, specs: RenditionSpec[]): Promise<RenderedImage[]> {
  const [largest] = specs;
  if (!largest) return [];
  let source = await toRaw(
    sharp(job.input, inputOptions(job.limits)).resize(fitBox(largest)).toColourspace('srgb').timeout({ seconds: job.deadline.sharpSeconds() }),
    job.deadline,
  );
  const out: RenderedImage[] = [];
  for (const spec of specs) {
    // specs are largest first: each step shrinks the previous step's (unwatermarked) pixels.
    if (spec !== largest) {
      const from = source;
      source = await toRaw(sharp(from.data, rawInput(from)).resize(fitBox(spec)).timeout({ seconds: job.deadline.sharpSeconds() }), job.deadline);
    }
    out.push(await encode(job, spec, sharp(source.data, rawInput(source)), source));
  }
  return out;
}
