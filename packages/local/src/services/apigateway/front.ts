/**
 * The local API Gateway (HTTP API) front: an HTTP server on loopback that serves the synthesized HTTP
 * API's routes by invoking the BUNDLED Lambda handlers from the cloud assembly (through the local Lambda
 * host), with API Gateway's door checks: SigV4 (IAM) authorization against the local credentials (403)
 * and the `$default` stage's throttle (429), both read from the template.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readRequestBody } from '../../core/request-body.js';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { functionAssetDir, type CfnTemplate } from '../../core/deployment/assembly.js';
import { modelOf, type DeploymentModel } from '../../core/deployment/model.js';
import type { LocalEndpoints } from '../../core/endpoints.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../core/identity.js';
import { createFunctionHost, type FunctionHost, type InvokeResult, type LogEntry } from '../../lambda-host/index.js';
import { verifySigV4, type Credentials } from './sigv4.js';
import { readApiDefinition, matchRoute, type ApiDefinition, type ApiRoute } from './template.js';
import { TokenBucket } from './throttle.js';

export { readApiDefinition, matchRoute } from './template.js';
export { verifySigV4 } from './sigv4.js';
export { TokenBucket } from './throttle.js';

/** What an invocation returns: the Lambda host's InvokeResult shape (ok + value, or a failure kind). */
export type InvokeOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: { readonly kind: string; readonly errorType?: string; readonly errorMessage?: string } };

/** Runs the function behind a route. */
export type RouteInvoker = (functionLogicalId: string, event: APIGatewayProxyEventV2WithIAMAuthorizer) => Promise<InvokeOutcome>;

export interface ApiFrontOptions {
  /** The stack: its deployment model (startLocalStack passes the deployment's), or the synthesized template. */
  readonly template: CfnTemplate | DeploymentModel;
  /** The cloud assembly directory (the functions' bundled code is found there). */
  readonly assemblyDir: string;
  /** Resolves intrinsics (Ref, GetAtt, Join...) in the functions' Environment against the local deployment. */
  readonly resolve: (value: unknown) => unknown;
  /** The emulators the functions talk to. */
  readonly endpoints: LocalEndpoints;
  /** Address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** Logical id of the HTTP API when the template has several. */
  readonly apiLogicalId?: string;
  /** Credentials requests must be signed with. @default test/test */
  readonly credentials?: Credentials;
  /** Region in the credential scope. @default endpoints.region */
  readonly region?: string;
  /**
   * Runs functions; by default each function behind a route gets a Lambda host (child-process
   * execution environments) built from the template.
   */
  readonly invoke?: RouteInvoker;
  /** Most execution environments per function for the default invoker. @default 4 */
  readonly maxEnvironments?: number;
  /** Receives the functions' log lines (default invoker). */
  readonly onLog?: (entry: LogEntry) => void;
  /** Receives one line per request (method, path, status, ms). */
  readonly onRequest?: (line: { method: string; path: string; routeKey?: string; status: number; ms: number }) => void;
  /** Clock for the throttle and the signature date check. @default Date.now */
  readonly now?: () => number;
}

export interface ApiFront {
  /** Base URL, e.g. `http://127.0.0.1:43127`. */
  readonly url: string;
  readonly api: ApiDefinition;
  /** Counts by outcome (for tests and the start summary). */
  stats(): { requests: number; throttled: number; forbidden: number; invoked: number };
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway's payload limit

function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  return /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript)|[^;]*\+json|[^;]*\+xml)/i.test(contentType);
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** Builds the payload format 2.0 event API Gateway sends for an IAM-authorized request. */
export function buildEvent(args: {
  route: ApiRoute;
  pathParameters?: Record<string, string>;
  method: string;
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string>;
  body: Buffer;
  sourceIp: string;
  accessKeyId?: string;
  accountId: string;
  nowMs: number;
}): APIGatewayProxyEventV2WithIAMAuthorizer {
  const { headers, body } = args;
  const cookies = headers.cookie?.split(/;\s*/).filter((c) => c !== '');
  const eventHeaders = { ...headers };
  delete eventHeaders.cookie;
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(args.rawQueryString)) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const text = isTextual(headers['content-type']);
  const requestId = randomUUID();
  const time = new Date(args.nowMs);
  const iam = {
    accessKey: args.accessKeyId ?? '',
    accountId: args.accountId,
    callerId: args.accessKeyId ?? '',
    cognitoIdentity: null as never,
    principalOrgId: '',
    userArn: `arn:aws:iam::${args.accountId}:user/local`,
    userId: args.accessKeyId ?? '',
  };
  return {
    version: '2.0',
    routeKey: args.route.routeKey,
    rawPath: args.rawPath,
    rawQueryString: args.rawQueryString,
    ...(cookies && cookies.length ? { cookies } : {}),
    headers: eventHeaders,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(args.pathParameters ? { pathParameters: args.pathParameters } : {}),
    ...(body.length ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
    requestContext: {
      accountId: args.accountId,
      apiId: 'local',
      authorizer: { iam },
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: (headers.host ?? '127').split('.')[0] ?? '',
      http: { method: args.method, path: args.rawPath, protocol: 'HTTP/1.1', sourceIp: args.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey: args.route.routeKey,
      stage: '$default',
      time: time.toUTCString(),
      timeEpoch: args.nowMs,
    },
  } as APIGatewayProxyEventV2WithIAMAuthorizer;
}

interface HttpReply {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

const json = (status: number, message: string, extra: Record<string, string> = {}): HttpReply => ({
  status,
  headers: { 'content-type': 'application/json', ...extra },
  body: Buffer.from(JSON.stringify({ message })),
});

/** Maps a Lambda result to the HTTP response, with payload 2.0's rules for non-structured results. */
export function replyFromOutcome(outcome: InvokeOutcome): HttpReply {
  if (!outcome.ok) {
    return outcome.error.kind === 'timeout' ? json(503, 'Service Unavailable') : json(500, 'Internal Server Error');
  }
  const v = outcome.value;
  if (v !== null && typeof v === 'object' && 'statusCode' in v) {
    const r = v as { statusCode: number; headers?: Record<string, string | number | boolean>; body?: string; isBase64Encoded?: boolean; cookies?: string[] };
    const headers: Record<string, string | string[]> = {};
    for (const [k, hv] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(hv);
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    const body = r.body === undefined ? Buffer.alloc(0) : r.isBase64Encoded ? Buffer.from(r.body, 'base64') : Buffer.from(r.body, 'utf8');
    return { status: r.statusCode, headers, body };
  }
  // Payload 2.0: anything else is a 200 with the value as JSON (a string is passed through).
  const body = typeof v === 'string' ? v : JSON.stringify(v ?? null);
  return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
}

/** One Lambda host per function behind a route, configured from the template. */
function defaultInvoker(options: ApiFrontOptions, api: ApiDefinition): { invoke: RouteInvoker; stop: () => Promise<void> } {
  const hosts = new Map<string, FunctionHost>();
  for (const fnId of new Set(api.routes.map((r) => r.functionLogicalId))) {
    const resource = modelOf(options.template).get(fnId)?.resource;
    if (resource === undefined || resource.Type !== 'AWS::Lambda::Function') throw new Error(`Route target ${fnId} is not an AWS::Lambda::Function in the template`);
    const p = resource.Properties ?? {};
    const variables = (p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(variables)) environment[k] = String(options.resolve(v));
    const resolvedName = p.FunctionName === undefined ? undefined : options.resolve(p.FunctionName);
    hosts.set(
      fnId,
      createFunctionHost({
        functionName: typeof resolvedName === 'string' ? resolvedName : fnId,
        assetDir: functionAssetDir(options.assemblyDir, fnId, resource),
        handler: String(p.Handler ?? 'index.handler'),
        environment,
        timeoutSeconds: Number(p.Timeout ?? 3),
        memoryMb: Number(p.MemorySize ?? 128),
        maxEnvironments: options.maxEnvironments ?? 4,
        endpoints: options.endpoints,
        ...(options.onLog ? { onLog: options.onLog } : {}),
      }),
    );
  }
  return {
    invoke: async (fnId, event) => {
      const host = hosts.get(fnId);
      if (host === undefined) return { ok: false, error: { kind: 'init', errorMessage: `no host for ${fnId}` } };
      const r: InvokeResult = await host.invoke(event);
      return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.error };
    },
    stop: async () => {
      await Promise.all([...hosts.values()].map((h) => h.stop()));
    },
  };
}

export async function startApiFront(options: ApiFrontOptions): Promise<ApiFront> {
  const api = readApiDefinition(options.template, options.apiLogicalId);
  const now = options.now ?? Date.now;
  const credentials = options.credentials ?? LOCAL_CREDENTIALS;
  const region = options.region ?? options.endpoints.region ?? LOCAL_REGION;
  const accountId = '000000000000';
  const bucket = api.throttle ? new TokenBucket(api.throttle, now()) : undefined;
  const invoker = options.invoke ? { invoke: options.invoke, stop: async () => {} } : defaultInvoker(options, api);
  const counts = { requests: 0, throttled: 0, forbidden: 0, invoked: 0 };

  async function handle(req: IncomingMessage): Promise<{ reply: HttpReply; routeKey?: string }> {
    counts.requests++;
    const method = (req.method ?? 'GET').toUpperCase();
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    const rawQueryString = q < 0 ? '' : target.slice(q + 1);
    const headers = lowerCaseHeaders(req);
    const body = await readRequestBody(req, MAX_BODY_BYTES);
    if (body === null) return { reply: json(413, 'Request Entity Too Large') };

    // Stage throttle first: a refused request costs nothing downstream.
    if (bucket && !bucket.tryTake(now())) {
      counts.throttled++;
      return { reply: json(429, 'Too Many Requests') };
    }
    let match: ReturnType<typeof matchRoute>;
    try {
      match = matchRoute(api.routes, method, rawPath);
    } catch {
      return { reply: json(400, 'Bad Request') }; // undecodable percent-escapes in a path parameter
    }
    if (match === undefined) return { reply: json(404, 'Not Found') };
    let accessKeyId: string | undefined;
    if (match.route.authorizationType === 'AWS_IAM') {
      const verdict = await verifySigV4({ method, path: rawPath, query: rawQueryString, headers, body }, { credentials, region, service: 'execute-api' }, now());
      if (!verdict.ok) {
        counts.forbidden++;
        return { reply: json(403, verdict.message, { 'x-amzn-errortype': verdict.errorType }), routeKey: match.route.routeKey };
      }
      accessKeyId = verdict.accessKeyId;
    } else if (match.route.authorizationType !== 'NONE') {
      return { reply: json(500, `authorization type ${match.route.authorizationType} is not emulated locally`) };
    }
    const event = buildEvent({
      route: match.route,
      ...(match.pathParameters ? { pathParameters: match.pathParameters } : {}),
      method,
      rawPath,
      rawQueryString,
      headers,
      body,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      ...(accessKeyId ? { accessKeyId } : {}),
      accountId,
      nowMs: now(),
    });
    counts.invoked++;
    const outcome = await invoker.invoke(match.route.functionLogicalId, event);
    return { reply: replyFromOutcome(outcome), routeKey: match.route.routeKey };
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    handle(req)
      .catch((err: unknown) => ({ reply: json(500, `Internal Server Error: ${err instanceof Error ? err.message : String(err)}`), routeKey: undefined }))
      .then(({ reply, routeKey }) => {
        const requestId = randomUUID();
        res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length), 'apigw-requestid': requestId });
        res.end(reply.body);
        options.onRequest?.({ method: req.method ?? '', path: req.url ?? '', ...(routeKey ? { routeKey } : {}), status: reply.status, ms: Date.now() - started });
      });
  });
  const listenHost = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, listenHost, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  return {
    url: `http://${listenHost}:${port}`,
    api,
    stats: () => ({ ...counts }),
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await invoker.stop();
    },
  };
}
