import { describe, expect, it } from 'vitest';
import { checkHeader, checkSize, DEFAULT_LIMITS, resolveLimits } from '../../../lambda/image-worker/image/index';
import { PermanentError } from '@floodgate/runtime';
import { inputOptions } from '../../../lambda/image-worker/image/render';

function thrown(fn: () => void): PermanentError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PermanentError);
    return err as PermanentError;
  }
  throw new Error('expected a PermanentError');
}

describe('checkHeader (decompression-bomb fence, pure)', () => {
  it('says what the header declares and what the limit is', () => {
    const err = thrown(() => checkHeader('png', { width: 30_000, height: 30_000, channels: 3 }, DEFAULT_LIMITS));
    expect(err.errorClass).toBe('TooLarge');
    expect(err.message).toBe('PNG header declares 30000x30000 = 900 megapixels, limit is 100');
  });

  it('accepts exactly the pixel limit and rejects one pixel more', () => {
    const limits = resolveLimits({ maxPixels: 10_000 });
    expect(() => checkHeader('jpeg', { width: 100, height: 100, channels: 3 }, limits)).not.toThrow();
    expect(thrown(() => checkHeader('jpeg', { width: 10_001, height: 1, channels: 3 }, limits)).errorClass).toBe('TooLarge');
  });

  it('counts one frame of a multi-page image against the pixel limit, and frames against the frame limit', () => {
    const limits = resolveLimits({ maxPixels: 10_000, maxFrames: 10 });
    expect(() => checkHeader('gif', { width: 100, height: 1000, pageHeight: 100, pages: 10, channels: 4 }, limits)).not.toThrow();
    const err = thrown(() => checkHeader('gif', { width: 100, height: 1100, pageHeight: 100, pages: 11, channels: 4 }, limits));
    expect(err.message).toBe('GIF has 11 frames, limit is 10');
  });

  it('rejects too many channels and missing dimensions', () => {
    expect(thrown(() => checkHeader('tiff', { width: 10, height: 10, channels: 6 }, DEFAULT_LIMITS)).message).toBe('TIFF header declares 6 channels, limit is 5');
    expect(thrown(() => checkHeader('png', { width: 0, height: 10 }, DEFAULT_LIMITS)).errorClass).toBe('CorruptImage');
  });

  it('rejects a HEIF container with HEVC compression even if its brands said AVIF', () => {
    expect(thrown(() => checkHeader('avif', { width: 10, height: 10, channels: 3, compression: 'hevc' }, DEFAULT_LIMITS)).errorClass).toBe('UnsupportedFormat');
  });
});

describe('checkSize', () => {
  it('rejects empty and oversized files with readable sizes', () => {
    expect(thrown(() => checkSize(0, DEFAULT_LIMITS)).message).toBe('file is empty (0 bytes)');
    const err = thrown(() => checkSize(60 * 1024 * 1024, DEFAULT_LIMITS));
    expect(err.errorClass).toBe('TooLarge');
    expect(err.message).toBe('file is 60 MB, limit is 50 MB');
    expect(() => checkSize(DEFAULT_LIMITS.maxBytes, DEFAULT_LIMITS)).not.toThrow();
  });

  it('refuses limits that would disable a fence', () => {
    expect(() => resolveLimits({ maxPixels: 0 })).toThrow(/maxPixels/);
    expect(() => resolveLimits({ timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
  });
});

describe('decode options (the second fence on every sharp() call)', () => {
  it('carry the pixel and channel limits, fail on warnings, orient and read one frame', () => {
    const limits = resolveLimits({ maxPixels: 1234, maxChannels: 4 });
    expect(inputOptions(limits)).toEqual({ failOn: 'warning', limitInputPixels: 1234, limitInputChannels: 4, autoOrient: true, pages: 1 });
  });
});
