/**
 * The job message on the image queue, versioned. Producers (the job API, tools) build it with
 * `JobMessageSchema`; the worker validates every message on arrival with `parseJobMessage`.
 */
import { z } from 'zod';
import { PermanentError } from '@floodgate/runtime';
import { UPLOADS_PREFIX } from './contract';

export const RENDITION_NAMES = ['thumb', 'medium', 'large'] as const;
export type RenditionName = (typeof RENDITION_NAMES)[number];

/** S3 keys the pipeline may read: under the uploads prefix, no traversal, no control characters. */
export const SourceKeySchema = z
  .string()
  .min(UPLOADS_PREFIX.length + 1)
  .max(1024)
  .refine((k) => k.startsWith(UPLOADS_PREFIX), { message: `must start with "${UPLOADS_PREFIX}"` })
  .refine((k) => !k.split('/').some((seg) => seg === '..' || seg === '.'), { message: 'must not contain "." or ".." segments' })
  .refine((k) => !k.includes('//') && !/[\u0000-\u001f\u007f\\]/.test(k), { message: 'must not contain empty segments, backslashes or control characters' });

export const WatermarkSchema = z.strictObject({
  /** Text drawn on medium and large renditions. */
  text: z.string().min(1).max(100).optional(),
  /** An uploaded PNG/WebP logo (same prefix rules as sourceKey). */
  logoKey: SourceKeySchema.optional(),
  /** 0..1, default 0.5. */
  opacity: z.number().min(0).max(1).optional(),
  gravity: z.enum(['northwest', 'northeast', 'southwest', 'southeast', 'centre']).optional(),
}).refine((w) => w.text !== undefined || w.logoKey !== undefined, { message: 'needs text or logoKey' });
export type Watermark = z.infer<typeof WatermarkSchema>;

export const JobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

export const JobMessageSchema = z.strictObject({
  v: z.literal(1),
  jobId: JobIdSchema,
  sourceKey: SourceKeySchema,
  renditions: z.array(z.enum(RENDITION_NAMES)).min(1).max(RENDITION_NAMES.length).refine((r) => new Set(r).size === r.length, { message: 'must not repeat a rendition' }).optional(),
  watermark: WatermarkSchema.optional(),
});
export type JobMessage = z.infer<typeof JobMessageSchema>;

/** Largest message body the worker accepts (SQS allows 256 KiB; a job needs far less). */
export const MAX_MESSAGE_BYTES = 16 * 1024;

/** Parses and validates a queue message body; anything else is a permanent InvalidMessage error. */
export function parseJobMessage(body: string): JobMessage {
  if (Buffer.byteLength(body, 'utf8') > MAX_MESSAGE_BYTES) {
    throw new PermanentError('InvalidMessage', `message body is larger than ${MAX_MESSAGE_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PermanentError('InvalidMessage', 'message body is not valid JSON');
  }
  if (typeof json === 'object' && json !== null && 'v' in json && json.v !== 1) {
    throw new PermanentError('InvalidMessage', `unsupported message version ${JSON.stringify(json.v)} (this worker reads v1)`);
  }
  const parsed = JobMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : '(message)';
    throw new PermanentError('InvalidMessage', `${path}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
