/**
 * Watermarks for medium and large renditions: text drawn as an SVG overlay (escaped: the text comes from
 * the job message, i.e. from users) or a PNG/WebP logo, both with opacity and gravity.
 *
 * Text needs a font: librsvg finds fonts through fontconfig. The Lambda Node.js runtime image ships no fonts,
 * so the stack copies DejaVu Sans and a fonts.conf into the worker asset and fonts.ts points FONTCONFIG_FILE
 * at them at cold start; without a font, every glyph renders as the same box.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { Watermark } from '../../shared/job-message';
import { PermanentError } from '@floodgate/runtime';
import { detectFormat, describeFormat } from './formats';
import { checkHeader, checkSize } from './header-check';
import type { ImageLimits } from './limits';

export type Gravity = NonNullable<Watermark['gravity']>;
export const DEFAULT_WATERMARK_OPACITY = 0.5;
export const DEFAULT_WATERMARK_GRAVITY: Gravity = 'southeast';

/** Logos are small decorations: tighter fences than for photos. */
export const LOGO_LIMITS: ImageLimits = Object.freeze({
  maxBytes: 2 * 1024 * 1024,
  maxPixels: 4_000_000,
  maxChannels: 4,
  maxFrames: 1,
  timeoutMs: 5_000,
});

/** A logo is scaled to fit this fraction of the rendition's width and height. */
const LOGO_FRACTION = 0.2;

/** Escapes text for an XML text node / attribute and drops characters XML 1.0 forbids. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** An SVG as large as the rendition with the text placed by gravity (so no second positioning step). */
export function textWatermarkSvg(text: string, width: number, height: number, opacity: number, gravity: Gravity): string {
  const fontSize = Math.max(10, Math.round(Math.min(width, height) * 0.06));
  const margin = Math.round(fontSize * 0.8);
  const west = gravity === 'northwest' || gravity === 'southwest';
  const east = gravity === 'northeast' || gravity === 'southeast';
  const north = gravity === 'northwest' || gravity === 'northeast';
  const south = gravity === 'southwest' || gravity === 'southeast';
  const x = west ? margin : east ? width - margin : Math.round(width / 2);
  const anchor = west ? 'start' : east ? 'end' : 'middle';
  const y = north ? margin + fontSize : south ? height - margin : Math.round(height / 2 + fontSize / 3);
  const o = opacity.toFixed(3);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<text x="${x}" y="${y}" text-anchor="${anchor}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" ` +
    `font-size="${fontSize}" font-weight="bold" fill="#ffffff" fill-opacity="${o}" stroke="#000000" ` +
    `stroke-opacity="${o}" stroke-width="${Math.max(1, Math.round(fontSize / 24))}">${escapeXml(text)}</text></svg>`
  );
}

/** Validated logo, decoded once to RGBA with the opacity already applied to its alpha channel. */
export interface PreparedLogo {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** Validates and decodes a logo buffer (PNG or WebP). Errors name the logo so users know which input is bad. */
export async function prepareLogo(logo: Buffer, opacity: number): Promise<PreparedLogo> {
  try {
    checkSize(logo.length, LOGO_LIMITS);
    const format = detectFormat(logo);
    if (format !== 'png' && format !== 'webp') {
      throw new PermanentError('UnsupportedFormat', `is ${describeFormat(format)}; a logo must be PNG or WebP`);
    }
    const options = { failOn: 'warning', limitInputPixels: LOGO_LIMITS.maxPixels, limitInputChannels: LOGO_LIMITS.maxChannels } as const;
    const meta = await sharp(logo, options).metadata();
    checkHeader(format, meta, LOGO_LIMITS);
    const { data, info } = await sharp(logo, options)
      .timeout({ seconds: Math.ceil(LOGO_LIMITS.timeoutMs / 1000) })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    // Opacity multiplies the logo's own alpha: a semi-transparent logo stays proportionally so.
    for (let i = 3; i < data.length; i += 4) data[i] = Math.round((data[i] ?? 0) * opacity);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof PermanentError) throw new PermanentError(err.errorClass, `logo ${err.message}`, { cause: err });
    throw new PermanentError('CorruptImage', `logo cannot be decoded: ${(err as Error).message}`, { cause: err });
  }
}

/** The composite layer that puts a prepared logo on a width x height rendition. */
export async function logoOverlay(logo: PreparedLogo, width: number, height: number, gravity: Gravity): Promise<OverlayOptions> {
  const margin = Math.max(2, Math.round(Math.min(width, height) * 0.02));
  const boxW = Math.max(1, Math.floor(width * LOGO_FRACTION));
  const boxH = Math.max(1, Math.floor(height * LOGO_FRACTION));
  const { data, info } = await sharp(logo.data, { raw: { width: logo.width, height: logo.height, channels: 4 } })
    .resize(boxW, boxH, { fit: 'inside', withoutEnlargement: true })
    .extend({ top: margin, bottom: margin, left: margin, right: margin, background: { r: 0, g: 0, b: 0, alpha: 0 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width > width || info.height > height) {
    // Tiny renditions: no room for a logo plus margin; skipping beats failing the job.
    return { input: Buffer.alloc(4), raw: { width: 1, height: 1, channels: 4 }, gravity };
  }
  return { input: data, raw: { width: info.width, height: info.height, channels: 4 }, gravity };
}

const OPPOSITE_VERTICAL: Record<Gravity, Gravity> = {
  northwest: 'southwest', northeast: 'southeast', southwest: 'northwest', southeast: 'northeast', centre: 'southeast',
};

/** The composite layers for one rendition of size width x height. */
export async function watermarkLayers(
  watermark: Watermark,
  logo: PreparedLogo | undefined,
  width: number,
  height: number,
): Promise<OverlayOptions[]> {
  const opacity = watermark.opacity ?? DEFAULT_WATERMARK_OPACITY;
  const gravity = watermark.gravity ?? DEFAULT_WATERMARK_GRAVITY;
  const layers: OverlayOptions[] = [];
  if (logo) layers.push(await logoOverlay(logo, width, height, gravity));
  if (watermark.text !== undefined) {
    // With a logo too, the text goes to the vertically opposite edge so the two never overlap.
    const textGravity = logo ? OPPOSITE_VERTICAL[gravity] : gravity;
    layers.push({ input: Buffer.from(textWatermarkSvg(watermark.text, width, height, opacity, textGravity)), top: 0, left: 0 });
  }
  return layers;
}
