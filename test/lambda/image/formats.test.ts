import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ACCEPTED_FORMATS, detectFormat, isAcceptedFormat } from '../../../lambda/image-worker/image/index';
import { PDF_HEADER, SVG_IMAGE, TEXT_FILE, inFormat, isoBmffHeader } from '../../fixtures/images';

describe('detectFormat', () => {
  it.each(ACCEPTED_FORMATS)('recognises a real %s file from its magic bytes', async (format) => {
    const file = await inFormat(format);
    expect(detectFormat(file)).toBe(format);
    expect(detectFormat(file.subarray(0, 64))).toBe(format);
  });

  it('tells AVIF from HEIC by the ftyp brands', () => {
    expect(detectFormat(isoBmffHeader('avif'))).toBe('avif');
    expect(detectFormat(isoBmffHeader('mif1', ['mif1', 'avif', 'miaf']))).toBe('avif');
    expect(detectFormat(isoBmffHeader('heic'))).toBe('heic');
    expect(detectFormat(isoBmffHeader('mif1', ['mif1', 'heic']))).toBe('heic');
    expect(detectFormat(isoBmffHeader('isom', ['isom', 'mp42']))).toBe('unknown');
  });

  it('rejects SVG (with or without XML declaration, BOM, comments), PDF, text and other formats', () => {
    expect(detectFormat(SVG_IMAGE)).toBe('svg');
    expect(detectFormat(Buffer.from('\uFEFF  <!-- drawn by hand -->\n<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('svg');
    expect(detectFormat(Buffer.from('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" ""><svg/>'))).toBe('svg');
    expect(detectFormat(PDF_HEADER)).toBe('pdf');
    expect(detectFormat(TEXT_FILE)).toBe('text');
    expect(detectFormat(Buffer.alloc(0))).toBe('empty');
    expect(detectFormat(Buffer.from([0xff, 0x0a, 1, 2]))).toBe('jxl');
    expect(detectFormat(Buffer.from('8BPS\0\x01', 'latin1'))).toBe('psd');
    expect(detectFormat(Buffer.from('BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0', 'latin1'))).toBe('bmp');
    for (const f of ['svg', 'pdf', 'text', 'empty', 'heic', 'jxl', 'unknown'] as const) expect(isAcceptedFormat(f)).toBe(false);
  });

  it('never throws, and only calls bytes an accepted format when they start with that magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        const b = Buffer.from(bytes);
        const f = detectFormat(b);
        if (f === 'jpeg') expect([...b.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
        if (f === 'png') expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
        if (f === 'webp') expect(b.subarray(8, 12).toString('latin1')).toBe('WEBP');
        if (f === 'gif') expect(b.subarray(0, 3).toString('latin1')).toBe('GIF');
        if (f === 'avif') expect(b.subarray(4, 8).toString('latin1')).toBe('ftyp');
      }),
      { numRuns: 2000 },
    );
  });
});
