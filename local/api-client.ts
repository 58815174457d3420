/**
 * The one SigV4-signing client of the job API (local front or API Gateway; IAM auth, service execute-api),
 * as a well-behaved producer: it retries 429 / 409 / 5xx with the server's Retry-After (or jittered
 * backoff) and the SAME Idempotency-Key, which is what makes those retries safe. `submit` is the whole
 * client flow: `POST /uploads` (presigned PUT), the PUT itself, then `POST /jobs`. Used by `npm start`,
 * the chaos run and the reliability tests.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { randomUUID } from 'node:crypto';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@floodgate/local';

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
  /** The body parsed as JSON; undefined when it is empty or not JSON. */
  readonly json: unknown;
  /** How many attempts it took (1 = no retry). */
  readonly attempts: number;
}

export interface ApiClientOptions {
  readonly baseUrl: string;
  /** @default the local region */
  readonly region?: string;
  /** @default the local stack's credentials */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Most attempts per request for 409/429/5xx answers and network errors. @default 12 */
  readonly maxAttempts?: number;
  readonly random?: () => number;
}

export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const RETRY_STATUSES = new Set([409, 429, 500, 502, 503, 504]);

export class ApiClient {
  private readonly signer: SignatureV4;
  private readonly base: URL;
  private readonly maxAttempts: number;
  private readonly random: () => number;
  /** Answers that were retried, by status (429 = the stage throttle pushing back). */
  readonly retriedStatuses = new Map<number, number>();

  constructor(options: ApiClientOptions) {
    // A trailing slash, so a stage path in the base URL (API Gateway) is kept by relative resolution.
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.signer = new SignatureV4({ credentials: options.credentials ?? LOCAL_CREDENTIALS, region: options.region ?? LOCAL_REGION, service: 'execute-api', sha256: Sha256 });
    this.maxAttempts = options.maxAttempts ?? 12;
    this.random = options.random ?? Math.random;
  }

  /** Sends `body` as JSON. */
  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    return this.requestText(method, path, body === undefined ? undefined : JSON.stringify(body), headers);
  }

  /** Sends `payload` as it is (malformed JSON included), content type application/json. */
  async requestText(method: string, path: string, payload: string | undefined, headers: Record<string, string> = {}): Promise<ApiResponse> {
    for (let attempt = 1; ; attempt++) {
      let res: Response | undefined;
      let text = '';
      try {
        res = await this.send(method, path, payload, headers);
        text = await res.text();
      } catch (err) {
        if (attempt >= this.maxAttempts) throw new Error(`${method} ${this.url(path).href}: no answer after ${attempt} attempts`, { cause: err });
      }
      if (res !== undefined && (!RETRY_STATUSES.has(res.status) || attempt >= this.maxAttempts)) {
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        return { status: res.status, body: text, json, attempts: attempt };
      }
      if (res !== undefined) this.retriedStatuses.set(res.status, (this.retriedStatuses.get(res.status) ?? 0) + 1);
      const retryAfter = Number(res?.headers.get('retry-after') ?? '');
      // Full jitter on an exponential base, at least the server's Retry-After.
      const backoff = this.random() * Math.min(2000, 50 * 2 ** attempt);
      await new Promise((r) => setTimeout(r, Math.max(Number.isFinite(retryAfter) ? retryAfter * 1000 : 0, backoff)));
    }
  }

  /** Upload then create the job (one Idempotency-Key for all attempts); throws ApiRequestError on a 4xx/5xx. */
  async submit(bytes: Uint8Array, contentType: string): Promise<{ jobId: string; sourceKey: string }> {
    const up = await this.request('POST', '/uploads', { contentType, contentLength: bytes.length });
    if (up.status !== 201 && up.status !== 200) throw failure(up, 'POST /uploads');
    const u = up.json as { sourceKey: string; uploadUrl: string; headers?: Record<string, string> };
    const put = await fetch(u.uploadUrl, { method: 'PUT', headers: u.headers ?? { 'content-type': contentType }, body: bytes });
    if (!put.ok) throw new ApiRequestError(put.status, `Upload${put.status}`, `presigned PUT: ${(await put.text()).slice(0, 300)}`);
    // A retried POST whose first try did get through returns the same job.
    const job = await this.request('POST', '/jobs', { sourceKey: u.sourceKey }, { 'idempotency-key': randomUUID() });
    if (job.status !== 202 && job.status !== 201 && job.status !== 200) throw failure(job, 'POST /jobs');
    return { jobId: (job.json as { jobId: string }).jobId, sourceKey: u.sourceKey };
  }

  private url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.base);
  }

  private async send(method: string, path: string, payload: string | undefined, headers: Record<string, string>): Promise<Response> {
    const url = this.url(path);
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const h: Record<string, string> = { ...signed.headers };
    delete h.host; // fetch sets it
    return fetch(url, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
  }
}

function failure(res: ApiResponse, what: string): ApiRequestError {
  const err = (res.json as { error?: { code?: string; message?: string } } | undefined)?.error;
  return new ApiRequestError(res.status, err?.code ?? `HTTP${res.status}`, `${what}: ${err?.message ?? res.body.slice(0, 300)}`);
}

/** Declared content type from the file name (the worker trusts only the magic bytes anyway). */
export function contentTypeFor(fileName: string): string {
  const ext = fileName.toLowerCase().split('.').pop() ?? '';
  const map: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif', tif: 'image/tiff', tiff: 'image/tiff' };
  return map[ext] ?? 'image/jpeg';
}
