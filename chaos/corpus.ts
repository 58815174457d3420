/**
 * The bad-input corpus: files a user might upload and queue messages a buggy or hostile producer might
 * send, each with the classification the pipeline must end with. Generated at run time (nothing large is
 * committed): `npm run corpus -- --out DIR` writes it to disk, and the corpus test and the chaos run use
 * it directly.
 */
import type { PermanentErrorClass } from '@floodgate/runtime';
import { MAX_MESSAGE_BYTES } from '../lambda/shared/job-message';
import { DEFAULT_LIMITS } from '../lambda/image-worker/image/index';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { generateCorpus, inFormat, oriented, quadrants } from '../test/fixtures/images';

/** An uploaded file and what the worker must do with it. */
export interface CorpusImage {
  readonly kind: 'image';
  readonly name: string;
  readonly data: Buffer;
  /** `ok`: renders; otherwise the job fails with this class and goes to the DLQ with its reason. */
  readonly expect: 'ok' | PermanentErrorClass;
  /** What else the outcome must show (the corpus test checks it): a word the failure reason names, or how the output is made. */
  readonly pin?: { readonly reasonNames?: string; readonly firstFrameColour?: readonly [number, number, number]; readonly metadataDropped?: boolean };
}

/**
 * A queue message body and what the worker must do with it. `{SOURCE}` and `{JOB}` in the body are
 * replaced with a real uploaded key and a fresh job id at submission, so only the broken part is broken.
 */
export interface CorpusMessage {
  readonly kind: 'message';
  readonly name: string;
  readonly body: string;
  /** Accepted classes (key errors may be reported as InvalidKey or as InvalidMessage naming the field). */
  readonly expect: readonly PermanentErrorClass[];
  /**
   * Whether the job API must answer 400 to the same request (`apiRequestBody`: the message without the
   * queue-only fields v and jobId). False where the fault is in those fields, or only the worker can tell.
   */
  readonly apiRejects: boolean;
}

export type CorpusItem = CorpusImage | CorpusMessage;

export interface CorpusOptions {
  /** Include a file one byte over `maxBytes` (held in memory while it exists). @default true */
  readonly oversized?: boolean;
  /** The byte limit the oversized file exceeds. @default DEFAULT_LIMITS.maxBytes (50 MiB) */
  readonly maxBytes?: number;
}

/** Every bad (and a few good but awkward) input file. */
export async function corpusImages(options: CorpusOptions = {}): Promise<CorpusImage[]> {
  const base = await generateCorpus();
  const byName = new Map<string, CorpusImage>(base.map((e) => [e.name, { kind: 'image', ...e }]));
  // Every EXIF orientation, not only the one the fixtures pick.
  for (let n = 1; n <= 8; n++) byName.set(`orientation-${n}.jpg`, { kind: 'image', name: `orientation-${n}.jpg`, data: await oriented(n), expect: 'ok' });
  byName.set('rgb16.tiff', { kind: 'image', name: 'rgb16.tiff', data: await quadrants(60, 40).toColourspace('rgb16').tiff().toBuffer(), expect: 'ok' });
  byName.set('cmyk.tiff', { kind: 'image', name: 'cmyk.tiff', data: await quadrants(60, 40).toColourspace('cmyk').tiff().toBuffer(), expect: 'ok' });
  byName.set('truncated.webp', { kind: 'image', name: 'truncated.webp', data: (await inFormat('webp', 200, 150)).subarray(0, 60), expect: 'CorruptImage' });
  byName.set('gif-header-only.gif', { kind: 'image', name: 'gif-header-only.gif', data: Buffer.from('GIF89a\x10\x00\x10\x00', 'latin1'), expect: 'CorruptImage' });
  byName.set('html-named.png', { kind: 'image', name: 'html-named.png', data: Buffer.from('<!doctype html><html><body><img src=x onerror=alert(1)></body></html>'), expect: 'UnsupportedFormat' });
  // Odd inputs handled today, pinned so that a regression is caught (issue 15).
  const heic = byName.get('photo.heic');
  if (heic) byName.set('photo.heic', { ...heic, pin: { reasonNames: 'HEIC' } });
  byName.set('animated-150-frames-1000x1000.gif', { kind: 'image', name: 'animated-150-frames-1000x1000.gif', data: await manyFrameGif(150, 1000, 1000), expect: 'ok', pin: { firstFrameColour: FIRST_FRAME } });
  byName.set('app1-6MB.jpg', { kind: 'image', name: 'app1-6MB.jpg', data: await jpegWithApp1(6 * 1000 * 1000), expect: 'ok', pin: { metadataDropped: true } });
  byName.set('text-chunk-8MB.png', { kind: 'image', name: 'text-chunk-8MB.png', data: await pngWithTextChunk(8 * 1000 * 1000), expect: 'ok', pin: { metadataDropped: true } });
  if (options.oversized ?? true) {
    // A real JPEG head padded past the byte limit: must be refused from ContentLength, before reading it.
    const head = await inFormat('jpeg', 64, 64);
    const limit = options.maxBytes ?? DEFAULT_LIMITS.maxBytes;
    const data = Buffer.alloc(limit + 1);
    head.copy(data);
    const name = `oversized-${Math.round(limit / 1024 / 1024)}MiB-plus-1.jpg`;
    byName.set(name, { kind: 'image', name, data, expect: 'TooLarge' });
  }
  return [...byName.values()];
}

const INVALID: readonly PermanentErrorClass[] = ['InvalidMessage'];
const KEY: readonly PermanentErrorClass[] = ['InvalidKey', 'InvalidMessage'];

function msg(name: string, body: unknown, expect: readonly PermanentErrorClass[] = INVALID, apiRejects = true): CorpusMessage {
  return { kind: 'message', name, body: typeof body === 'string' ? body : JSON.stringify(body), expect, apiRejects };
}

/** Bad queue messages. `{JOB}` / `{SOURCE}` are placeholders (see CorpusMessage). */
export function corpusMessages(): CorpusMessage[] {
  const ok = { v: 1, jobId: '{JOB}', sourceKey: '{SOURCE}' };
  return [
    msg('invalid-json', '{"v":1,"jobId":"{JOB}","sourceKey":'),
    msg('not-json-text', 'please resize my photo'),
    msg('json-array', '[1,2,3]'),
    msg('json-null', 'null'),
    msg('json-string', '"{JOB}"'),
    msg('blank', ' '),
    msg('missing-v', { jobId: '{JOB}', sourceKey: '{SOURCE}' }, INVALID, false),
    msg('missing-jobId', { v: 1, sourceKey: '{SOURCE}' }, INVALID, false),
    msg('missing-sourceKey', { v: 1, jobId: '{JOB}' }),
    msg('jobId-number', { ...ok, jobId: 12345 }, INVALID, false),
    msg('jobId-traversal', { ...ok, jobId: '../{JOB}' }, INVALID, false),
    msg('sourceKey-array', { ...ok, sourceKey: ['{SOURCE}'] }),
    msg('v-string', { ...ok, v: '1' }, INVALID, false),
    msg('version-2', { ...ok, v: 2 }, INVALID, false),
    msg('version-0', { ...ok, v: 0 }, INVALID, false),
    msg('unknown-field', { ...ok, priority: 'urgent' }),
    msg('renditions-string', { ...ok, renditions: 'thumb' }),
    msg('renditions-unknown', { ...ok, renditions: ['thumb', 'poster'] }),
    msg('renditions-repeated', { ...ok, renditions: ['thumb', 'thumb'] }),
    msg('renditions-empty', { ...ok, renditions: [] }),
    msg('watermark-opacity', { ...ok, watermark: { text: 'x', opacity: 2 } }),
    msg('watermark-empty', { ...ok, watermark: {} }),
    msg('watermark-logo-traversal', { ...ok, watermark: { logoKey: 'uploads/../secret.png' } }, KEY),
    msg('key-traversal', { ...ok, sourceKey: 'uploads/../private/passwd.jpg' }, KEY),
    msg('key-dot-segment', { ...ok, sourceKey: 'uploads/./x.jpg' }, KEY),
    msg('key-outside-prefix', { ...ok, sourceKey: 'renditions/someone-else/large.jpg' }, KEY),
    msg('key-absolute', { ...ok, sourceKey: '/etc/passwd' }, KEY),
    msg('key-prefix-only', { ...ok, sourceKey: 'uploads/' }, KEY),
    msg('key-backslash', { ...ok, sourceKey: 'uploads\\..\\x.jpg' }, KEY),
    msg('key-control-char', { ...ok, sourceKey: 'uploads/a\u0000.jpg' }, KEY),
    msg('key-double-slash', { ...ok, sourceKey: 'uploads//x.jpg' }, KEY),
    // Valid shape, the object just is not there: only the worker can tell.
    msg('key-does-not-exist', { ...ok, sourceKey: 'uploads/does-not-exist/{JOB}.jpg' }, ['SourceNotFound'], false),
    msg('oversize-payload', { ...ok, watermark: { text: 'x' }, padding: 'p'.repeat(MAX_MESSAGE_BYTES + 1) }),
  ];
}

/** The job API request for a corpus message: the body without the queue-only fields `v` and `jobId`. */
export function apiRequestBody(filledBody: string): string {
  try {
    const json: unknown = JSON.parse(filledBody);
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
      const { v: _v, jobId: _jobId, ...rest } = json as Record<string, unknown>;
      return JSON.stringify(rest);
    }
  } catch {
    // Not JSON: sent as it is.
  }
  return filledBody;
}

/** Replaces the placeholders of a corpus message body. */
export function fillMessage(body: string, jobId: string, sourceKey: string): string {
  return body.replaceAll('{JOB}', jobId).replaceAll('{SOURCE}', sourceKey);
}

/** The first frame's colour in the many-frame GIF; later frames paint another colour. */
const FIRST_FRAME = [220, 30, 30] as const;

/**
 * A `frames`-frame width x height GIF: sharp encodes the full first frame; the other frames are appended
 * as small patches (as optimising encoders write animations), so the file is built in milliseconds
 * while a decoder still sees `frames` pages of width x height.
 */
export async function manyFrameGif(frames: number, width: number, height: number): Promise<Buffer> {
  const first = await sharp({ create: { width, height, channels: 3, background: { r: FIRST_FRAME[0], g: FIRST_FRAME[1], b: FIRST_FRAME[2] } } })
    .composite([{ input: { create: { width: 8, height: 8, channels: 3, background: { r: 20, g: 20, b: 220 } } }, left: 0, top: 0 }])
    .gif({ colours: 4 })
    .toBuffer();
  const packed = first[10]!;
  if ((packed & 0x80) === 0) throw new Error('expected a global colour table from sharp');
  const tableBits = (packed & 0x07) + 1;
  const minCode = Math.max(2, tableBits);
  // The index of the blue corner in the global table (so later frames are visibly another colour).
  const table = first.subarray(13, 13 + 3 * 2 ** tableBits);
  let blue = 0;
  for (let i = 0; i < table.length / 3; i++) if (table[i * 3 + 2]! > 150 && table[i * 3]! < 100) blue = i;
  // LZW for a run of one index: CLEAR, the pixel codes, END; codes of (minCode + 1) bits with a CLEAR
  // before the table would grow, so the code size never changes.
  const patch = 16;
  const clear = 1 << minCode;
  const codes: number[] = [clear];
  let sinceClear = 0;
  for (let i = 0; i < patch * patch; i++) {
    if (sinceClear === (1 << (minCode + 1)) - clear - 3) {
      codes.push(clear);
      sinceClear = 0;
    }
    codes.push(blue);
    sinceClear++;
  }
  codes.push(clear + 1);
  const bits = minCode + 1;
  const bytes: number[] = [];
  let acc = 0;
  let n = 0;
  for (const c of codes) {
    acc |= c << n;
    n += bits;
    while (n >= 8) {
      bytes.push(acc & 0xff);
      acc >>= 8;
      n -= 8;
    }
  }
  if (n > 0) bytes.push(acc & 0xff);
  const blocks: number[] = [];
  for (let i = 0; i < bytes.length; i += 255) blocks.push(Math.min(255, bytes.length - i), ...bytes.slice(i, i + 255));
  blocks.push(0);
  const frame = (k: number): Buffer => {
    const x = (k * 37) % (width - patch);
    const y = (k * 53) % (height - patch);
    return Buffer.from([
      0x21, 0xf9, 0x04, 0x00, 0x0a, 0x00, 0x00, 0x00, // graphic control: delay 10 cs
      0x2c, x & 0xff, x >> 8, y & 0xff, y >> 8, patch, 0, patch, 0, 0x00, // image descriptor, no local table
      minCode,
      ...blocks,
    ]);
  };
  const body = first.subarray(0, first.length - 1); // without the trailer
  if (first[first.length - 1] !== 0x3b) throw new Error('unexpected GIF trailer');
  return Buffer.concat([body, ...Array.from({ length: frames - 1 }, (_, k) => frame(k + 1)), Buffer.from([0x3b])]);
}

/** A JPEG carrying about `bytes` of APP1 (EXIF/XMP-like) segments after SOI; each segment holds at most 65,533 bytes. */
export async function jpegWithApp1(bytes: number): Promise<Buffer> {
  const jpeg = await quadrants(640, 480).jpeg({ quality: 85 }).toBuffer();
  const segments: Buffer[] = [];
  for (let left = bytes; left > 0; ) {
    const payload = Math.min(65_533, left);
    const seg = Buffer.alloc(4 + payload, 0x20);
    seg[0] = 0xff;
    seg[1] = 0xe1;
    seg.writeUInt16BE(payload + 2, 2);
    Buffer.from('http://ns.adobe.com/xap/1.0/\0').copy(seg, 4); // reads as XMP to a parser; the rest is padding
    segments.push(seg);
    left -= payload;
  }
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** A PNG with one `tEXt` chunk of about `bytes` bytes after IHDR. */
export async function pngWithTextChunk(bytes: number): Promise<Buffer> {
  const png = await quadrants(640, 480).png().toBuffer();
  const ihdrEnd = 8 + 8 + 13 + 4;
  const data = Buffer.alloc(bytes, 0x61);
  Buffer.from('Comment\0').copy(data);
  const type = Buffer.from('tEXt');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])) >>> 0);
  return Buffer.concat([png.subarray(0, ihdrEnd), len, type, data, crc, png.subarray(ihdrEnd)]);
}
