/**
 * The job API as a client uses it: SigV4-signed (IAM auth, service execute-api) requests to
 * `POST /uploads` (presigned PUT), the PUT itself, then `POST /jobs` with an Idempotency-Key.
 * Used by `npm start` when the stack has the HTTP API (the local front or a deployed one).
 */
import { randomUUID } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

const MAX_ATTEMPTS = 6;

export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface ApiClient {
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: unknown }>;
  /** Upload then create the job; returns the job id. Throws ApiRequestError on a 4xx/5xx. */
  submit(bytes: Uint8Array, contentType: string): Promise<{ jobId: string; sourceKey: string }>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const signer = new SignatureV4({ service: 'execute-api', region: options.region, credentials: options.credentials, sha256: Sha256 });
  const base = new URL(options.baseUrl);

  async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
    const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base.href : `${base.href}/`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const res = await fetch(url, { method, headers: signed.headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, json };
  }

  const fail = (status: number, json: unknown, what: string): never => {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiRequestError(status, err?.code ?? `HTTP${status}`, `${what}: ${err?.message ?? (typeof json === 'string' ? json : JSON.stringify(json))}`);
  };

  /** 429 and 5xx are retried with capped exponential backoff and full jitter, like the AWS SDKs do. */
  async function requestWithRetry(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
    for (let attempt = 1; ; attempt++) {
      let res: { status: number; json: unknown } | undefined;
      try {
        res = await request(method, path, body, headers);
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS) throw err; // network error
      }
      if (res && !(res.status === 429 || res.status >= 500)) return res;
      if (res && attempt >= MAX_ATTEMPTS) return res;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(8000, 200 * 2 ** attempt)));
    }
  }

  return {
    request,
    async submit(bytes, contentType) {
      const up = await requestWithRetry('POST', '/uploads', { contentType, contentLength: bytes.length });
      if (up.status !== 201 && up.status !== 200) fail(up.status, up.json, 'POST /uploads');
      const u = up.json as { sourceKey: string; uploadUrl: string; headers?: Record<string, string> };
      const put = await fetch(u.uploadUrl, { method: 'PUT', headers: u.headers ?? { 'content-type': contentType }, body: bytes });
      if (!put.ok) throw new ApiRequestError(put.status, `Upload${put.status}`, `presigned PUT: ${(await put.text()).slice(0, 300)}`);
      // One key for all attempts: a retried POST whose first try did get through returns the same job.
      const job = await requestWithRetry('POST', '/jobs', { sourceKey: u.sourceKey }, { 'idempotency-key': randomUUID() });
      if (job.status !== 202 && job.status !== 201 && job.status !== 200) fail(job.status, job.json, 'POST /jobs');
      return { jobId: (job.json as { jobId: string }).jobId, sourceKey: u.sourceKey };
    },
  };
}

/** Declared content type from the file name (the worker trusts only the magic bytes anyway). */
export function contentTypeFor(fileName: string): string {
  const ext = fileName.toLowerCase().split('.').pop() ?? '';
  const map: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif', tif: 'image/tiff', tiff: 'image/tiff' };
  return map[ext] ?? 'image/jpeg';
}
