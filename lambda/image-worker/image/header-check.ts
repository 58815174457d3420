/**
 * Decompression-bomb fence, pure: decides from header metadata alone (sharp's metadata() parses headers and
 * does not decode pixels) whether an image may be decoded. limitInputPixels on every sharp() call is the
 * second fence, for headers this check never sees (e.g. a lying header caught only by libvips).
 */
import { PermanentError } from '@floodgate/runtime';
import { describeFormat, type AcceptedFormat } from './formats';
import type { ImageLimits } from './limits';

/** The header facts the check needs (a subset of sharp's Metadata). */
export interface ImageHeader {
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  readonly channels?: number | undefined;
  readonly pages?: number | undefined;
  /** For multi-page images, the height of one page (sharp reports width x pageHeight per frame). */
  readonly pageHeight?: number | undefined;
  /** HEIF family: 'av1' (AVIF) or 'hevc' (HEIC). */
  readonly compression?: string | undefined;
}

const megapixels = (pixels: number): string => {
  const mp = pixels / 1_000_000;
  return mp >= 10 ? mp.toFixed(0) : mp.toFixed(1).replace(/\.0$/, '');
};

/** "900 megapixels, limit is 100" - or plain pixel counts when the limit is under a megapixel. */
const pixelsVsLimit = (pixels: number, limit: number): string =>
  limit < 1_000_000 ? `${pixels} pixels, limit is ${limit}` : `${megapixels(pixels)} megapixels, limit is ${megapixels(limit)}`;

/** Throws a PermanentError (TooLarge, CorruptImage or UnsupportedFormat) when the header must not be decoded. */
export function checkHeader(format: AcceptedFormat, header: ImageHeader, limits: ImageLimits): void {
  const name = describeFormat(format);
  const { width, height } = header;
  if (!width || !height || !Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new PermanentError('CorruptImage', `${name} header declares no usable dimensions (${String(width)}x${String(height)})`);
  }
  if (format === 'avif' && header.compression !== undefined && header.compression !== 'av1') {
    throw new PermanentError('UnsupportedFormat', `HEIF container with ${header.compression} compression is not supported (only AV1 = AVIF)`);
  }
  // One frame is what we decode; sharp reports the first frame's size for multi-page input.
  const frameHeight = header.pageHeight && header.pageHeight > 0 ? header.pageHeight : height;
  const pixels = width * frameHeight;
  if (pixels > limits.maxPixels) {
    throw new PermanentError(
      'TooLarge',
      `${name} header declares ${width}x${frameHeight} = ${pixelsVsLimit(pixels, limits.maxPixels)}`,
    );
  }
  if (header.channels !== undefined && header.channels > limits.maxChannels) {
    throw new PermanentError('TooLarge', `${name} header declares ${header.channels} channels, limit is ${limits.maxChannels}`);
  }
  if (header.pages !== undefined && header.pages > limits.maxFrames) {
    throw new PermanentError('TooLarge', `${name} has ${header.pages} frames, limit is ${limits.maxFrames}`);
  }
}

/** Byte-size fence, checked before anything else touches the input. */
export function checkSize(bytes: number, limits: ImageLimits): void {
  if (bytes === 0) throw new PermanentError('CorruptImage', 'file is empty (0 bytes)');
  if (bytes > limits.maxBytes) {
    throw new PermanentError('TooLarge', `file is ${formatBytes(bytes)}, limit is ${formatBytes(limits.maxBytes)}`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KB`;
  return `${bytes} bytes`;
}
