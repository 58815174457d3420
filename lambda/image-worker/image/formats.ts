/**
 * Format detection from magic bytes (never from file names or declared content types).
 *
 * Accepted: JPEG, PNG, WebP, AVIF, TIFF, GIF. Rejected: SVG (scripts, external references, renderer
 * attack surface), PDF (a document renderer, not an image), HEIC (sharp's prebuilt libvips ships libheif
 * with the AV1 decoder only - no HEVC - so it cannot decode HEIC at all: `heifload: ... Unsupported feature:
 * Unsupported codec`), and everything else (JPEG XL, BMP, PSD, ...: not in the prebuilt binary or not
 * worth the attack surface).
 */
export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'tiff', 'gif'] as const;
export type AcceptedFormat = (typeof ACCEPTED_FORMATS)[number];

export type RejectedFormat = 'svg' | 'pdf' | 'heic' | 'jxl' | 'jp2' | 'bmp' | 'ico' | 'psd' | 'text' | 'empty' | 'unknown';
export type DetectedFormat = AcceptedFormat | RejectedFormat;

/** How many leading bytes detectFormat needs (a ranged GET of this many bytes is enough to decide). */
export const FORMAT_SNIFF_BYTES = 512;

const HUMAN_NAMES: Record<DetectedFormat, string> = {
  jpeg: 'JPEG', png: 'PNG', webp: 'WebP', avif: 'AVIF', tiff: 'TIFF', gif: 'GIF',
  svg: 'SVG', pdf: 'PDF', heic: 'HEIC/HEIF (HEVC)', jxl: 'JPEG XL', jp2: 'JPEG 2000', bmp: 'BMP', ico: 'ICO',
  psd: 'Photoshop PSD', text: 'text (not an image)', empty: 'an empty file', unknown: 'an unknown format',
};

export function describeFormat(format: DetectedFormat): string {
  return HUMAN_NAMES[format];
}

export function isAcceptedFormat(format: DetectedFormat): format is AcceptedFormat {
  return (ACCEPTED_FORMATS as readonly string[]).includes(format);
}

const startsWith = (b: Buffer, bytes: readonly number[], at = 0): boolean =>
  b.length >= at + bytes.length && bytes.every((v, i) => b[at + i] === v);
const ascii = (b: Buffer, start: number, end: number): string => b.subarray(start, Math.min(end, b.length)).toString('latin1');

const HEVC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

/** ISO base media file (HEIF family): decide AVIF vs HEIC from the ftyp box's major and compatible brands. */
function detectIsoBmff(b: Buffer): DetectedFormat | undefined {
  if (ascii(b, 4, 8) !== 'ftyp' || b.length < 12) return undefined;
  const boxSize = Math.min(b.readUInt32BE(0), b.length);
  const brands = [ascii(b, 8, 12)];
  for (let at = 16; at + 4 <= boxSize; at += 4) brands.push(ascii(b, at, at + 4));
  if (brands[0] !== undefined && AVIF_BRANDS.has(brands[0])) return 'avif';
  if (brands[0] !== undefined && HEVC_BRANDS.has(brands[0])) return 'heic';
  if (brands.some((x) => AVIF_BRANDS.has(x))) return 'avif';
  if (brands.some((x) => HEVC_BRANDS.has(x) || x === 'mif1' || x === 'msf1')) return 'heic';
  if (brands.some((x) => x === 'jp2 ' || x === 'jpx ')) return 'jp2';
  return 'unknown'; // MP4/MOV video and friends
}

function looksLikeText(b: Buffer): boolean {
  const sample = b.subarray(0, FORMAT_SNIFF_BYTES);
  if (sample.length === 0) return false;
  let printable = 0;
  for (const byte of sample) {
    if (byte === 9 || byte === 10 || byte === 13 || (byte >= 32 && byte < 127) || byte >= 0x80) printable++;
    else if (byte === 0) return false;
  }
  return printable === sample.length;
}

/** Detects an image format from the first bytes of a file (pass at least FORMAT_SNIFF_BYTES when you can). */
export function detectFormat(head: Buffer): DetectedFormat {
  if (head.length === 0) return 'empty';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'webp';
  // Classic TIFF (42) and BigTIFF (43), both byte orders.
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(head, [0x49, 0x49, 0x2b, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff';
  const iso = detectIsoBmff(head);
  if (iso) return iso;
  if (ascii(head, 0, 5) === '%PDF-') return 'pdf';
  if (startsWith(head, [0xff, 0x0a]) || startsWith(head, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return 'jxl';
  if (startsWith(head, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(head, [0xff, 0x4f, 0xff, 0x51])) return 'jp2';
  if (ascii(head, 0, 4) === '8BPS') return 'psd';
  if (startsWith(head, [0, 0, 1, 0])) return 'ico';
  if (ascii(head, 0, 2) === 'BM' && head.length >= 14) return 'bmp';
  if (looksLikeText(head)) {
    // SVG may start with a BOM, whitespace, an XML declaration, comments or a doctype before <svg.
    const text = head.subarray(0, FORMAT_SNIFF_BYTES).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE\s+svg|<svg[\s>])/i.test(text) || (/^<\?xml/i.test(text) && /<svg[\s>]/i.test(text))) {
      return 'svg';
    }
    return 'text';
  }
  return 'unknown';
}
