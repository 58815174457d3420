import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { DEFAULT_RENDITIONS, renderImage, type RenderedImage } from '../../../lambda/image-worker/image/index';
import { FloodgateError, PermanentError, RetryableError } from '@floodgate/runtime';
import type { RenditionName } from '../../../lambda/shared/job-message';
import {
  GPS_MARKER, PDF_HEADER, edgeCases, QUADRANT_COLOURS, SVG_IMAGE, TEXT_FILE, alphaPng, animatedGif, cmykJpeg, generateCorpus, inFormat,
  isoBmffHeader, jpegExtraneousBytes, jpegLyingHeader, CMYK_SAFE_COLOURS, type QuadrantColours, oriented, photo, png16, pngBomb, pngLyingHeader, truncate, withGps, type Rgb,
} from '../../fixtures/images';

const ALL: RenditionName[] = ['thumb', 'medium', 'large'];

async function rejection(promise: Promise<unknown>): Promise<FloodgateError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(FloodgateError);
    return err as FloodgateError;
  }
  throw new Error('expected renderImage to reject');
}

async function pixel(image: Buffer, x: number, y: number): Promise<{ rgb: Rgb; alpha: number }> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  return { rgb: [data[i] ?? -1, data[i + 1] ?? -1, data[i + 2] ?? -1], alpha: data[i + 3] ?? -1 };
}

function expectColour(actual: Rgb, expected: Rgb, tolerance = 40): void {
  for (let c = 0; c < 3; c++) expect(Math.abs((actual[c] ?? 0) - (expected[c] ?? 0)), `channel ${c} of ${actual.join(',')} vs ${expected.join(',')}`).toBeLessThanOrEqual(tolerance);
}

async function expectQuadrants(image: Buffer, width: number, height: number, colours: QuadrantColours = QUADRANT_COLOURS): Promise<void> {
  const meta = await sharp(image).metadata();
  expect([meta.width, meta.height]).toEqual([width, height]);
  const qx = Math.round(width / 4);
  const qy = Math.round(height / 4);
  expectColour((await pixel(image, qx, qy)).rgb, colours.tl);
  expectColour((await pixel(image, width - qx, qy)).rgb, colours.tr);
  expectColour((await pixel(image, qx, height - qy)).rgb, colours.bl);
  expectColour((await pixel(image, width - qx, height - qy)).rgb, colours.br);
}

const byName = (out: RenderedImage[], name: RenditionName): RenderedImage => {
  const r = out.find((x) => x.name === name);
  if (!r) throw new Error(`no ${name}`);
  return r;
};

describe('renderImage: accepted inputs', () => {
  it.each(['jpeg', 'png', 'webp', 'avif', 'tiff', 'gif'] as const)('renders %s into every rendition with the right type', async (format) => {
    const out = await renderImage(await inFormat(format), { renditions: ALL });
    expect(out.map((r) => r.name)).toEqual(ALL);
    for (const r of out) {
      const spec = DEFAULT_RENDITIONS[r.name];
      const meta = await sharp(r.data).metadata();
      expect(meta.format).toBe(spec.format);
      expect(r.format).toBe(spec.format);
      expect(r.ext).toBe(spec.format === 'jpeg' ? 'jpg' : 'webp');
      expect(r.contentType).toBe(`image/${spec.format}`);
      expect(r.bytes).toBe(r.data.length);
      await expectQuadrants(r.data, 60, 40);
    }
  });

  it('returns renditions in the order asked for', async () => {
    const out = await renderImage(await inFormat('png'), { renditions: ['medium', 'thumb'] });
    expect(out.map((r) => r.name)).toEqual(['medium', 'thumb']);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('applies EXIF orientation %i (pixels land where the viewer expects)', async (n) => {
    const input = await oriented(n);
    const stored = await sharp(input).metadata();
    expect(stored.orientation).toBe(n);
    expect([stored.width, stored.height]).toEqual(n >= 5 ? [40, 60] : [60, 40]);
    const [thumb] = await renderImage(input, { renditions: ['thumb'] });
    if (!thumb) throw new Error('no thumb');
    await expectQuadrants(thumb.data, 60, 40);
    expect((await sharp(thumb.data).metadata()).orientation).toBeUndefined();
  });

  it('resizes the longest edge, keeps the aspect ratio and never upscales', async () => {
    const portrait = await (await photo(1200, 1800)).jpeg().toBuffer();
    const out = await renderImage(portrait, { renditions: ALL });
    expect(byName(out, 'thumb')).toMatchObject({ width: 213, height: 320 });
    expect(byName(out, 'medium')).toMatchObject({ width: 683, height: 1024 });
    // 1800 < 2048: the large rendition stays at the input size.
    expect(byName(out, 'large')).toMatchObject({ width: 1200, height: 1800 });
    for (const r of out) {
      const meta = await sharp(r.data).metadata();
      expect([meta.width, meta.height]).toEqual([r.width, r.height]);
    }
  });

  it.each(['decode-once', 'cascade'] as const)('%s produces the same sizes and near-identical pixels as per-rendition', async (strategy) => {
    const input = await (await photo(2400, 1600)).jpeg().toBuffer();
    const a = await renderImage(input, { renditions: ALL }, { strategy: 'per-rendition' });
    const b = await renderImage(input, { renditions: ALL }, { strategy });
    for (const name of ALL) {
      expect([byName(a, name).width, byName(a, name).height]).toEqual([byName(b, name).width, byName(b, name).height]);
      const pa = await pixel(byName(a, name).data, 100, 100);
      const pb = await pixel(byName(b, name).data, 100, 100);
      expectColour(pa.rgb, pb.rgb, 16);
    }
    expect(byName(b, 'large')).toMatchObject({ width: 2048, height: 1365 });
  });

  it('renders grey, grey + alpha, palette, 1x1, 30000x1 strips and the first page of a multi-page TIFF', async () => {
    for (const e of await edgeCases()) {
      for (const strategy of ['decode-once', 'per-rendition'] as const) {
        const out = await renderImage(e.data, { renditions: ALL, watermark: { text: 'wm' } }, { strategy });
        for (const r of out) {
          const box = DEFAULT_RENDITIONS[r.name].maxEdge;
          const scale = Math.min(1, box / Math.max(e.width, e.height));
          expect([r.width, r.height], `${e.name} ${r.name} ${strategy}`).toEqual([Math.max(1, Math.round(e.width * scale)), Math.max(1, Math.round(e.height * scale))]);
          const meta = await sharp(r.data).metadata();
          expect(meta.space).toBe('srgb');
          expect(meta.channels).toBe(r.format === 'jpeg' ? 3 : meta.hasAlpha ? 4 : 3);
        }
      }
    }
  });

  it('converts CMYK to sRGB', async () => {
    const input = await cmykJpeg();
    expect((await sharp(input).metadata()).space).toBe('cmyk');
    for (const r of await renderImage(input, { renditions: ALL })) {
      const meta = await sharp(r.data).metadata();
      expect(meta.space).toBe('srgb');
      expect(meta.channels).toBe(3);
      await expectQuadrants(r.data, 60, 40, CMYK_SAFE_COLOURS);
    }
  });

  it('converts 16-bit PNG to 8-bit', async () => {
    const input = await png16();
    expect((await sharp(input).metadata()).depth).toBe('ushort');
    for (const r of await renderImage(input, { renditions: ALL })) {
      expect((await sharp(r.data).metadata()).depth).toBe('uchar');
      await expectQuadrants(r.data, 60, 40);
    }
  });

  it('flattens alpha on white for JPEG and keeps it for WebP', async () => {
    const out = await renderImage(await alphaPng(), { renditions: ALL });
    const thumb = byName(out, 'thumb');
    expect((await sharp(thumb.data).metadata()).hasAlpha).toBe(false);
    expectColour((await pixel(thumb.data, 50, 20)).rgb, [255, 255, 255]);
    expectColour((await pixel(thumb.data, 10, 20)).rgb, [255, 0, 0]);
    const medium = byName(out, 'medium');
    expect((await sharp(medium.data).metadata()).hasAlpha).toBe(true);
    expect((await pixel(medium.data, 50, 20)).alpha).toBe(0);
    expect((await pixel(medium.data, 10, 20)).alpha).toBe(255);
  });

  it('renders the first frame of an animated GIF with many frames', async () => {
    const input = await animatedGif(120);
    expect((await sharp(input).metadata()).pages).toBe(120);
    for (const r of await renderImage(input, { renditions: ALL })) {
      const meta = await sharp(r.data).metadata();
      expect([meta.width, meta.height, meta.pages ?? 1]).toEqual([40, 30, 1]);
      expectColour((await pixel(r.data, 20, 15)).rgb, [255, 0, 0]);
    }
  });

  it('strips EXIF (GPS), XMP and everything else from the outputs', async () => {
    const input = await withGps();
    const inMeta = await sharp(input).metadata();
    expect(inMeta.exif?.includes(GPS_MARKER)).toBe(true);
    expect(inMeta.xmpAsString).toContain(GPS_MARKER);
    for (const r of await renderImage(input, { renditions: ALL, watermark: { text: 'x' } })) {
      const meta = await sharp(r.data).metadata();
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(meta.iptc).toBeUndefined();
      expect(r.data.includes(GPS_MARKER)).toBe(false);
      expect(r.data.includes('GPS')).toBe(false);
    }
  });
});

describe('renderImage: watermark', () => {
  it('puts the text watermark on medium and large only, at the requested gravity', async () => {
    const input = await (await photo(2400, 1600)).jpeg().toBuffer();
    const plain = await renderImage(input, { renditions: ALL });
    const marked = await renderImage(input, { renditions: ALL, watermark: { text: 'FLOODGATE <&> "quoted"', opacity: 1, gravity: 'southeast' } });
    expect(byName(marked, 'thumb').data.equals(byName(plain, 'thumb').data)).toBe(true);
    for (const name of ['medium', 'large'] as const) {
      const a = await sharp(byName(plain, name).data).raw().toBuffer({ resolveWithObject: true });
      const b = await sharp(byName(marked, name).data).raw().toBuffer({ resolveWithObject: true });
      const { width, height } = a.info;
      // Count strongly changed pixels per quadrant: the watermark must be in the south-east one.
      const changed = { nw: 0, se: 0 };
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = (y * width + x) * 3;
          const d = Math.abs((a.data[i] ?? 0) - (b.data[i] ?? 0)) + Math.abs((a.data[i + 1] ?? 0) - (b.data[i + 1] ?? 0));
          if (d > 60) {
            if (x < width / 2 && y < height / 2) changed.nw++;
            if (x >= width / 2 && y >= height / 2) changed.se++;
          }
        }
      }
      expect(changed.se, name).toBeGreaterThan(width * height * 0.002);
      expect(changed.nw, name).toBe(0);
    }
  });

  it('composites a logo with opacity on medium and large only', async () => {
    const input = await (await photo(1600, 1200)).jpeg().toBuffer();
    const logo = await sharp({ create: { width: 200, height: 100, channels: 4, background: { r: 255, g: 0, b: 255, alpha: 1 } } }).png().toBuffer();
    const plain = await renderImage(input, { renditions: ALL });
    const marked = await renderImage(input, { renditions: ALL, watermark: { logoKey: 'uploads/logo.png', opacity: 0.5, gravity: 'northwest' }, logo });
    expect(byName(marked, 'thumb').data.equals(byName(plain, 'thumb').data)).toBe(true);
    const medium = byName(marked, 'medium');
    // Logo box is 20% of the width (204 px wide, 102 high), after a 2% margin (15 px) at the north-west.
    const at = await pixel(medium.data, 40, 40);
    const under = await pixel(byName(plain, 'medium').data, 40, 40);
    // 50% magenta over the photo: red and blue pulled half way to 255, green half way to 0.
    expectColour(at.rgb, [Math.round((under.rgb[0] + 255) / 2), Math.round(under.rgb[1] / 2), Math.round((under.rgb[2] + 255) / 2)], 24);
    const far = await pixel(medium.data, medium.width - 40, medium.height - 40);
    expectColour(far.rgb, (await pixel(byName(plain, 'medium').data, medium.width - 40, medium.height - 40)).rgb, 8);
  });

  it('with both logo and text, puts the text on the opposite vertical edge', async () => {
    const input = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    const logo = await sharp({ create: { width: 100, height: 100, channels: 4, background: { r: 255, g: 255, b: 0, alpha: 1 } } }).png().toBuffer();
    const [plain] = await renderImage(input, { renditions: ['medium'] });
    const [both] = await renderImage(input, { renditions: ['medium'], watermark: { text: 'FLOODGATE', logoKey: 'uploads/l.png', gravity: 'southeast', opacity: 1 }, logo });
    if (!plain || !both) throw new Error('no medium');
    const a = await sharp(plain.data).raw().toBuffer();
    const b = await sharp(both.data).raw().toBuffer();
    const { width, height } = both;
    const changedIn = (x0: number, y0: number, x1: number, y1: number) => {
      let n = 0;
      for (let y = Math.floor(y0); y < y1; y++) for (let x = Math.floor(x0); x < x1; x++) { const i = (y * width + x) * 3; if (Math.abs((a[i] ?? 0) - (b[i] ?? 0)) > 60) n++; }
      return n;
    };
    expect(changedIn(width / 2, height / 2, width, height)).toBeGreaterThan(1000); // logo, south-east
    expect(changedIn(width / 2, 0, width, height / 2)).toBeGreaterThan(100); // text, north-east
    expect(changedIn(0, 0, width / 2, height / 2)).toBe(0);
  });

  it('rejects a logo that is not PNG or WebP, naming the logo', async () => {
    const err = await rejection(renderImage(await inFormat('png'), { renditions: ['large'], watermark: { logoKey: 'uploads/l.jpg' }, logo: await inFormat('jpeg') }));
    expect(err.errorClass).toBe('UnsupportedFormat');
    expect(err.message).toMatch(/^logo is JPEG/);
  });
});

describe('renderImage: rejected inputs', () => {
  const cases: [string, () => Promise<Buffer> | Buffer, string, RegExp][] = [
    ['zero bytes', () => Buffer.alloc(0), 'CorruptImage', /empty/],
    ['a text file named .jpg', () => TEXT_FILE, 'UnsupportedFormat', /text/],
    ['SVG', () => SVG_IMAGE, 'UnsupportedFormat', /SVG/],
    ['a PDF header', () => PDF_HEADER, 'UnsupportedFormat', /PDF/],
    ['a HEIC header', () => isoBmffHeader('heic'), 'UnsupportedFormat', /HEIC/],
    ['a truncated JPEG', async () => truncate(await inFormat('jpeg', 200, 150), 0.6), 'CorruptImage', /truncated/],
    ['a truncated PNG', async () => truncate(await inFormat('png', 200, 150), 0.6), 'CorruptImage', /truncated/],
    ['a PNG decompression bomb', () => pngBomb(30_000, 30_000), 'TooLarge', /^PNG header declares 30000x30000 = 900 megapixels, limit is 100$/],
    ['a PNG header that claims more pixels than its data', () => pngLyingHeader(400, 400), 'CorruptImage', /PNG/],
    ['a JPEG header that claims 60000x60000', () => jpegLyingHeader(60_000, 60_000), 'TooLarge', /3600 megapixels/],
    ['a JPEG header that claims more rows than its data', () => jpegLyingHeader(3000, 3000), 'CorruptImage', /JPEG/],
    ['a JPEG with extraneous bytes between markers (failOn warning: a chosen cost)', () => jpegExtraneousBytes(), 'CorruptImage', /extraneous bytes/],
    ['an animated GIF with more frames than the limit', () => animatedGif(600, 8, 8), 'TooLarge', /600 frames, limit is 500/],
  ];
  it.each(cases)('%s -> %s', async (_label, make, errorClass, reason) => {
    const err = await rejection(renderImage(await make(), { renditions: ALL }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.errorClass).toBe(errorClass);
    expect(err.message).toMatch(reason);
  });

  it('rejects oversized files before looking inside them', async () => {
    const err = await rejection(renderImage(Buffer.alloc(2048, 0x41), { renditions: ALL }, { limits: { maxBytes: 1024 } }));
    expect(err.errorClass).toBe('TooLarge');
    expect(err.message).toBe('file is 2 KB, limit is 1 KB');
  });

  it('rejects by the configured pixel and channel limits', async () => {
    const input = await inFormat('png', 200, 100);
    expect((await rejection(renderImage(input, { renditions: ALL }, { limits: { maxPixels: 19_999 } }))).message).toBe(
      'PNG header declares 200x100 = 20000 pixels, limit is 19999',
    );
    const cmyk = await cmykJpeg();
    expect((await rejection(renderImage(cmyk, { renditions: ALL }, { limits: { maxChannels: 3 } }))).errorClass).toBe('TooLarge');
  });

  it('stops at the per-image timeout with a permanent ImageTimeout', async () => {
    const input = await (await photo(3000, 2000)).jpeg().toBuffer();
    const err = await rejection(renderImage(input, { renditions: ALL }, { limits: { timeoutMs: 5 } }));
    expect(err.errorClass).toBe('ImageTimeout');
    expect(err.kind).toBe('permanent');
  });

  it("treats the caller's abort as retryable (or as the caller's own reason)", async () => {
    const input = await inFormat('jpeg');
    const aborted = AbortSignal.abort();
    const err = await rejection(renderImage(input, { renditions: ALL }, { signal: aborted }));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.errorClass).toBe('Timeout');
    const reason = new RetryableError('Timeout', 'invocation hard deadline');
    const controller = new AbortController();
    const big = await (await photo(3000, 2000)).jpeg().toBuffer();
    const pending = renderImage(big, { renditions: ALL }, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 5);
    expect(await rejection(pending)).toBe(reason);
  });
});

describe('generateCorpus', () => {
  it('every corpus entry gets the outcome it declares', async () => {
    const corpus = await generateCorpus();
    expect(corpus.length).toBeGreaterThan(20);
    for (const entry of corpus) {
      const outcome = await renderImage(entry.data, { renditions: ALL }).then(
        () => 'ok',
        (err: unknown) => (err instanceof PermanentError ? err.errorClass : `unexpected ${String(err)}`),
      );
      expect(outcome, entry.name).toBe(entry.expect);
    }
  });
});

describe('renderImage: where the decoded pixels live', () => {
  const renderFiles = () => readdirSync(tmpdir()).filter((f) => f.startsWith('floodgate-render-'));

  it("the 'file' intermediate gives the same renditions as 'memory' and leaves no file behind", async () => {
    const input = await (await photo(2400, 1600)).jpeg().toBuffer();
    const before = renderFiles().length;
    const file = await renderImage(input, { renditions: ALL, watermark: { text: 'wm' } }, { intermediate: 'file' });
    const memory = await renderImage(input, { renditions: ALL, watermark: { text: 'wm' } }, { intermediate: 'memory' });
    for (const name of ALL) expect(byName(file, name).data.equals(byName(memory, name).data), name).toBe(true);
    expect(renderFiles().length).toBe(before);
  });

  it('falls back to memory when the temporary directory cannot be written', async () => {
    const input = await (await photo(1200, 800)).jpeg().toBuffer();
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = join(tmpdir(), 'floodgate-no-such-dir');
    try {
      const out = await renderImage(input, { renditions: ALL }, { intermediate: 'file' });
      expect(out.map((r) => r.name)).toEqual(ALL);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    // A broken image still fails with its own class after the fallback.
    const err = await rejection(renderImage(truncate(input, 0.5), { renditions: ALL }, { intermediate: 'file' }));
    expect(err.errorClass).toBe('CorruptImage');
  });
});
