/**
 * The bad-input corpus: files a user might upload and queue messages a buggy or hostile producer might
 * send, each with the classification the pipeline must end with. Generated at run time (nothing large is
 * committed): `npm run corpus -- --out DIR` writes it to disk, and the corpus test and the chaos run use
 * it directly.
 */
import type { PermanentErrorClass } from '@floodgate/runtime';
import { MAX_MESSAGE_BYTES } from '../lambda/shared/job-message';
import { DEFAULT_LIMITS } from '../lambda/image-worker/image/index';
import { generateCorpus, inFormat, oriented, quadrants } from '../test/fixtures/images';

/** An uploaded file and what the worker must do with it. */
export interface CorpusImage {
  readonly kind: 'image';
  readonly name: string;
  readonly data: Buffer;
  /** `ok`: renders; otherwise the job fails with this class and goes to the DLQ with its reason. */
  readonly expect: 'ok' | PermanentErrorClass;
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
