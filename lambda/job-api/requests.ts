/**
 * Request validation for the job API (pure, no I/O). Every rejection names the field, so a client can
 * fix its request without reading our code. The job fields reuse the queue message's zod pieces, so the
 * API cannot accept a job that the worker would reject as InvalidMessage.
 */
import { z } from 'zod';
import { JobIdSchema, RENDITION_NAMES, SourceKeySchema, WatermarkSchema } from '../shared/job-message';

/** Content types an upload may declare; the worker detects the real format from magic bytes anyway. */
export const UPLOAD_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif', 'image/tiff'] as const;
export type UploadContentType = (typeof UPLOAD_CONTENT_TYPES)[number];

/** File extension for each accepted content type (used in the generated source key). */
export const CONTENT_TYPE_EXTENSION: Record<UploadContentType, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/gif': 'gif',
  'image/tiff': 'tiff',
};

/** Largest request body the API reads; a job request is a few hundred bytes. */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024;

export function uploadRequestSchema(maxUploadBytes: number) {
  return z.strictObject({
    contentType: z.enum(UPLOAD_CONTENT_TYPES),
    /**
     * Optional exact size of the file in bytes. When given, it is signed into the presigned URL
     * (Content-Length is a signed header), so S3 rejects a PUT of any other size: the only way a presigned
     * PUT can enforce the limit at upload time. Without it the URL binds the content type only and the
     * worker refuses a source above the limit (TooLarge, from the object's ContentLength, before reading).
     */
    contentLength: z.number().int().min(1).max(maxUploadBytes).optional(),
  });
}
export type UploadRequest = z.infer<ReturnType<typeof uploadRequestSchema>>;

export const JobRequestSchema = z.strictObject({
  sourceKey: SourceKeySchema,
  renditions: z
    .array(z.enum(RENDITION_NAMES))
    .min(1)
    .max(RENDITION_NAMES.length)
    .refine((r) => new Set(r).size === r.length, { message: 'must not repeat a rendition' })
    .optional(),
  watermark: WatermarkSchema.optional(),
});
export type JobRequest = z.infer<typeof JobRequestSchema>;

/** Stripe allows up to 255 characters; we also refuse control characters (they end up in logs and keys). */
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be 1-255 printable ASCII characters without spaces');

export interface ValidationFailure {
  readonly ok: false;
  /** Dotted path of the offending field (`body` for the whole body, `Idempotency-Key` for the header). */
  readonly field: string;
  readonly message: string;
}
export type Validated<T> = { readonly ok: true; readonly value: T } | ValidationFailure;

/** Decodes an API Gateway body (maybe base64) and parses JSON; anything else is a `body` failure. */
export function parseJsonBody(body: string | undefined, isBase64Encoded: boolean | undefined): Validated<unknown> {
  if (body === undefined || body === '') return { ok: false, field: 'body', message: 'a JSON body is required' };
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  if (Buffer.byteLength(text, 'utf8') > MAX_REQUEST_BODY_BYTES) {
    return { ok: false, field: 'body', message: `must be at most ${MAX_REQUEST_BODY_BYTES} bytes` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, field: 'body', message: 'is not valid JSON' };
  }
}

/** Runs a zod schema and turns its first issue into a failure naming the field. */
export function validate<T>(schema: z.ZodType<T>, input: unknown, root = ''): Validated<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  if (issue === undefined) return { ok: false, field: root || 'body', message: 'is invalid' };
  // Unknown keys: zod reports them on the parent object with the names in `keys`.
  if (issue.code === 'unrecognized_keys') {
    const parent = issue.path.map(String);
    const field = [root, ...parent, issue.keys[0] ?? ''].filter((s) => s !== '').join('.');
    return { ok: false, field, message: 'is not a known field' };
  }
  const field = [root, ...issue.path.map(String)].filter((s) => s !== '').join('.') || root || 'body';
  return { ok: false, field, message: issue.message };
}

export function validateUploadRequest(input: unknown, maxUploadBytes: number): Validated<UploadRequest> {
  return validate(uploadRequestSchema(maxUploadBytes), input);
}

export function validateJobRequest(input: unknown): Validated<JobRequest> {
  return validate(JobRequestSchema, input);
}

export function validateIdempotencyKey(value: string | undefined): Validated<string> {
  if (value === undefined) return { ok: false, field: 'Idempotency-Key', message: 'header is required' };
  return validate(IdempotencyKeySchema, value, 'Idempotency-Key');
}

export function validateJobId(value: string | undefined): Validated<string> {
  return validate(JobIdSchema, value ?? '', 'jobId');
}
