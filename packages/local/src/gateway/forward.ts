/**
 * Forwards a request to an upstream (an emulator or an external AWS-compatible endpoint) as received:
 * method, path, query, headers (Host included, so S3 virtual-hosted-style and signatures survive) and
 * body, streamed both ways unless a response rewrite needs the whole body.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { GatewayRequest } from './types.js';

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256 });

/** Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

export interface ForwardOptions {
  /** Rewrites the whole response body (it is then buffered); content-length is recomputed. */
  readonly rewriteBody?: (body: Buffer, headers: IncomingMessage['headers']) => Buffer;
  /** Replaces the request body (the original is then not sent). */
  readonly body?: Buffer;
  /** Extra or replacement request headers (lower-case names); undefined removes one. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** Replaces path + query. */
  readonly pathAndQuery?: string;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

function requestHeaders(req: GatewayRequest, extra: ForwardOptions['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  // rawHeaders keep the client's casing and order, which some servers are picky about.
  const raw = req.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (extra && lower in extra)) continue;
    const prev = out[name];
    out[name] = prev === undefined ? raw[i + 1]! : `${String(prev)},${raw[i + 1]!}`;
  }
  for (const [k, v] of Object.entries(extra ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

function send(upstream: string, method: string, pathAndQuery: string, headers: OutgoingHttpHeaders): ReturnType<typeof httpRequest> {
  const base = new URL(upstream);
  const basePath = base.pathname.replace(/\/$/, '');
  const options = {
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port || undefined,
    method,
    path: `${basePath}${pathAndQuery}`,
    headers,
  };
  return base.protocol === 'https:' ? httpsRequest({ ...options, agent: httpsAgent }) : httpRequest({ ...options, agent: httpAgent });
}

/** Sends one request upstream and returns the whole response (for the gateway's own multi-step calls). */
export function upstreamCall(upstream: string, method: string, pathAndQuery: string, headers: OutgoingHttpHeaders, body?: Buffer | Readable): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const out = send(upstream, method, pathAndQuery, headers);
    out.on('error', reject);
    out.on('response', (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('error', reject);
      up.on('end', () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(chunks) }));
    });
    if (body instanceof Readable) body.pipe(out);
    else out.end(body);
  });
}

/** Forwards `req` to `upstream` and writes the answer to `res`. Rejects only when the upstream is unreachable. */
export async function forward(req: GatewayRequest, res: ServerResponse, upstream: string, options: ForwardOptions = {}): Promise<void> {
  const pathAndQuery = options.pathAndQuery ?? `${req.path}${req.rawQuery ? `?${req.rawQuery}` : ''}`;
  const headers = requestHeaders(req, options.headers);
  const body = options.body ?? (req.bodyRead ? await req.body() : undefined);
  if (body !== undefined) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding') delete headers[k];
    headers['content-length'] = String(body.length);
  }
  await new Promise<void>((resolve, reject) => {
    const out = send(upstream, req.method, pathAndQuery, headers);
    out.on('error', reject);
    out.on('response', (up) => {
      const status = up.statusCode ?? 502;
      const upHeaders = { ...up.headers };
      for (const h of HOP_BY_HOP) delete upHeaders[h];
      if (options.rewriteBody) {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('error', reject);
        up.on('end', () => {
          const rewritten = options.rewriteBody!(Buffer.concat(chunks), up.headers);
          delete upHeaders['transfer-encoding'];
          upHeaders['content-length'] = String(rewritten.length);
          res.writeHead(status, upHeaders);
          res.end(rewritten);
          resolve();
        });
        return;
      }
      res.writeHead(status, upHeaders);
      up.pipe(res);
      up.on('error', reject);
      res.on('close', () => resolve());
      up.on('end', () => resolve());
    });
    if (body !== undefined) out.end(body);
    else req.raw.pipe(out);
  });
}
