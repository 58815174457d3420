/**
 * A small SigV4-signing client for the job API (local front or API Gateway), as a well-behaved producer:
 * it retries 429 / 409 / 503 with the server's Retry-After (or jittered backoff) and the SAME
 * Idempotency-Key, which is what makes those retries safe.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@floodgate/local';

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
  readonly json: unknown;
  /** How many attempts it took (1 = no retry). */
  readonly attempts: number;
}

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Most attempts per request for 429/409/503 answers and network errors. @default 12 */
  readonly maxAttempts?: number;
  readonly random?: () => number;
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
    this.base = new URL(options.baseUrl);
    this.signer = new SignatureV4({
      credentials: options.credentials ?? LOCAL_CREDENTIALS,
      region: options.region ?? LOCAL_REGION,
      service: 'execute-api',
      sha256: Sha256,
    });
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
        if (attempt >= this.maxAttempts) throw new Error(`${method} ${new URL(path, this.base).href}: no answer after ${attempt} attempts`, { cause: err });
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

  private async send(method: string, path: string, payload: string | undefined, headers: Record<string, string>): Promise<Response> {
    const url = new URL(path, this.base);
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { host: url.host, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const h: Record<string, string> = { ...signed.headers };
    delete h.host;
    return fetch(url, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
  }
}
