/** Response building for the job API (pure). Bodies are JSON strings built once, so replays can be byte-exact. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { JobRecord, JobStatus } from '../shared/job-record';
import type { ErrorClass } from '@floodgate/runtime';

export type ApiResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string; headers: Record<string, string> };

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

export function jsonResponse(statusCode: number, body: string, headers: Record<string, string> = {}): ApiResult {
  return { statusCode, body, headers: { ...JSON_HEADERS, ...headers } };
}

/** Error body: `{ error: { code, message, field? } }`. */
export function errorResponse(statusCode: number, code: string, message: string, extra: { field?: string; headers?: Record<string, string> } = {}): ApiResult {
  const error = extra.field === undefined ? { code, message } : { code, message, field: extra.field };
  return jsonResponse(statusCode, JSON.stringify({ error }), extra.headers);
}

export function validationError(field: string, message: string): ApiResult {
  return errorResponse(400, 'ValidationError', `${field}: ${message}`, { field });
}

/** The body of a successful `POST /jobs`; deterministic in the job id, so a take-over returns the same bytes. */
export function jobAcceptedBody(jobId: string): string {
  return JSON.stringify({ jobId, status: 'queued' });
}

export interface RenditionView {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly format: string;
  readonly url: string;
}

export interface JobView {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly renditions: RenditionView[];
  readonly error?: { readonly class: ErrorClass; readonly reason: string };
}

/** `GET /jobs/{jobId}` body from a record and the presigned URL of each rendition key. */
export function jobView(record: JobRecord, urls: ReadonlyMap<string, string>): JobView {
  const renditions = (record.renditions ?? []).map((r) => ({
    name: r.name,
    width: r.width,
    height: r.height,
    bytes: r.bytes,
    format: r.format,
    url: urls.get(r.key) ?? '',
  }));
  const view: JobView = { jobId: record.jobId, status: record.status, renditions };
  return record.error === undefined ? view : { ...view, error: { class: record.error.class, reason: record.error.reason } };
}
