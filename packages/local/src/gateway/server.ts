/**
 * The single endpoint: one HTTP server that serves every AWS API of the local stack, routed by the
 * service in each request's SigV4 credential scope (the Authorization header, or X-Amz-Credential in a
 * presigned URL). Unsigned requests fall back to X-Amz-Target (DynamoDB / SQS JSON protocols), to
 * `Action=` (SQS query protocol), and finally to S3 path-style. Ready for `AWS_ENDPOINT_URL`.
 *
 * Every request passes the authorizers (the authentication / IAM hook) before its service sees it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readRequestBody } from '../core/request-body.js';
import type { AddressInfo, Socket } from 'node:net';
import { escapeXml } from './protocol-errors.js';
import { credentialScope, isFormEncoded, normalizeHeaders } from './route.js';
import { SERVICES } from '../services/handlers.js';
import type { DeliveryGate } from '../core/delivery-gate.js';
import type { AttachedStack, GatewayAuthorizer, GatewayContext, GatewayError, GatewayRequest, GatewayService, GatewayServiceFactory, UnsignedRequest, Upstreams } from './types.js';

export interface StartGatewayOptions {
  /** Where SQS, S3 and DynamoDB requests are forwarded. A service without an upstream is not served. */
  readonly upstreams: Upstreams;
  readonly region: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** Service factories. @default SERVICES (services/index.ts) */
  readonly services?: readonly GatewayServiceFactory[];
  /** The resource policies' gate for the services' own deliveries (SNS, S3 notifications). */
  readonly deliveries?: DeliveryGate;
  /** Run before every service, in order; the first refusal wins. */
  readonly authorizers?: readonly GatewayAuthorizer[];
  /**
   * The URL clients are given in answers (queue URLs) instead of this gateway's own: a stack's own
   * gateway behind the main endpoint tells the main endpoint's. @default this gateway's URL
   */
  readonly publicUrl?: string;
  /** One line per request, for debugging. */
  readonly onRequest?: (line: { method: string; path: string; service: string; operation?: string; status: number; ms: number }) => void;
}

export interface Gateway {
  /** Base URL, no trailing slash, e.g. `http://127.0.0.1:4566`: the value for AWS_ENDPOINT_URL. */
  readonly url: string;
  readonly port: number;
  readonly context: GatewayContext;
  /** Names of the services served. */
  services(): string[];
  /** Adds a service at run time (wins over a built-in one with the same signing name). */
  addService(factory: GatewayServiceFactory): void;
  /** Adds an authorizer, run after those given at start. */
  addAuthorizer(authorizer: GatewayAuthorizer): void;
  /** Attaches the local stack the Lambda / CloudFormation APIs answer from; returns a detach function. */
  attachStack(stack: AttachedStack): () => void;
  stop(): Promise<void>;
}

/** Errors for requests no service takes; rendered as XML like S3 and the query APIs. */
function plainError(res: ServerResponse, err: GatewayError): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message></Error>`;
  res.writeHead(err.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startGateway(options: StartGatewayOptions): Promise<Gateway> {
  let url = '';
  let attached: AttachedStack | undefined;
  const services: GatewayService[] = [];
  const context: GatewayContext = {
    region: options.region,
    upstreams: options.upstreams,
    url: () => options.publicUrl ?? url,
    stack: () => attached,
    signingNames: () => [...new Set(services.flatMap((s) => s.signingNames))],
    ...(options.deliveries ? { deliveries: options.deliveries } : {}),
  };
  const add = (factory: GatewayServiceFactory, first: boolean): void => {
    const s = factory(context);
    if (s) first ? services.unshift(s) : services.push(s);
  };
  for (const f of options.services ?? SERVICES) add(f, false);
  const authorizers = [...(options.authorizers ?? [])];

  const bySigningName = (name: string): GatewayService | undefined => services.find((s) => s.signingNames.includes(name));

  const handle = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const target = raw.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    const query = new URLSearchParams(rawQuery);
    const headers = normalizeHeaders(raw.headers);
    const scope = credentialScope(headers, query);

    let buffered: Promise<Buffer> | undefined;
    const body = (): Promise<Buffer> => (buffered ??= readRequestBody(raw));

    // Operation name for logs and the authorizers: JSON protocols name it in X-Amz-Target, query ones in Action.
    let action = query.get('Action') ?? undefined;
    let version = query.get('Version') ?? undefined;
    if (action === undefined && raw.method === 'POST' && isFormEncoded(headers)) {
      const form = new URLSearchParams((await body()).toString('utf8'));
      action = form.get('Action') ?? undefined;
      version ??= form.get('Version') ?? undefined;
    }
    const targetHeader = headers['x-amz-target'];
    const operation = targetHeader ?? action;

    let service: GatewayService | undefined;
    if (scope) service = bySigningName(scope.service);
    else {
      const unsigned: UnsignedRequest = { method: raw.method ?? 'GET', path, query, headers, ...(action ? { action } : {}), ...(version ? { version } : {}) };
      service = services.find((s) => s.claims?.(unsigned)) ?? bySigningName('s3');
    }
    const request: GatewayRequest = {
      method: raw.method ?? 'GET',
      path,
      rawQuery,
      query,
      headers,
      ...(scope ? { scope } : {}),
      service: service?.name ?? '',
      ...(operation ? { operation } : {}),
      body,
      get bodyRead() {
        return buffered !== undefined;
      },
      raw,
    };
    res.on('finish', () => options.onRequest?.({ method: request.method, path, service: request.service, ...(operation ? { operation } : {}), status: res.statusCode, ms: performance.now() - started }));
    if (!service) {
      const served = services.flatMap((s) => s.signingNames).join(', ');
      return plainError(res, { status: 400, code: 'UnknownService', message: `This endpoint does not serve "${scope?.service ?? '?'}" (it serves: ${served})` });
    }
    if (service.authorize) {
      const refusal = service.authorize(request);
      if (refusal) return service.error(request, res, refusal);
    } else {
      for (const authorize of authorizers) {
        const refusal = await authorize(request, context);
        if (refusal) return service.error(request, res, refusal);
      }
    }
    await service.handle(request, res);
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) plainError(res, { status: 502, code: 'BadGateway', message: `floodgate gateway: ${message}` });
      else res.destroy();
    });
  });
  // S3 clients send `Expect: 100-continue` for large bodies: accept and go on.
  server.on('checkContinue', (req, res) => {
    res.writeContinue();
    server.emit('request', req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;
  server.requestTimeout = 0; // long polls and large uploads
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    context,
    services: () => services.map((s) => s.name),
    addService: (factory) => add(factory, true),
    addAuthorizer: (a) => void authorizers.push(a),
    attachStack(stack) {
      attached = stack;
      return () => {
        if (attached === stack) attached = undefined;
      };
    },
    stop() {
      return (stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }));
    },
  };
}
