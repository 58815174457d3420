/**
 * The live console at `<endpoint>/_floodgate/` and LocalStack's health route, on the one endpoint.
 *
 *   GET  /_floodgate/                          the page (static HTML, script and style of this package)
 *   GET  /_floodgate/console/state             the state as JSON (state.ts)
 *   GET  /_floodgate/console/events            the same state every second, as server-sent events
 *   POST /_floodgate/console/queues/NAME/redrive     StartMessageMoveTask from the dead-letter queue NAME
 *   POST /_floodgate/console/mappings/UUID     {"enabled": bool} and/or {"maximumConcurrency": n | null}:
 *                                              UpdateEventSourceMapping on the endpoint's Lambda API
 *   GET  /_localstack/health                   health.ts
 *
 * Changes go through the endpoint's AWS APIs, signed as the local admin: the console does nothing the
 * AWS CLI could not do. Access: loopback only (access.ts says why), not SigV4.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS } from '../core/identity.js';
import type { GatewayContext, GatewayError, GatewayRequest, GatewayService } from '../gateway/types.js';
import { signedRequest } from '../services/events/deliver.js';
import { consoleAccess, healthAccess } from './access.js';
import { HEALTH_PATH, healthReport, packageVersion } from './health.js';
import { createConsoleReader, type ConsoleState } from './state.js';

export const CONSOLE_PATH = '/_floodgate/';
const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/_floodgate/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/_floodgate/console.mjs': { file: 'console.mjs', type: 'text/javascript; charset=utf-8' },
  '/_floodgate/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};
const TICK_MS = 1000;

/** The routes this service owns (others under /_floodgate/, such as schedule fires, are AWS-signed routes of their services). */
export function isConsoleRoute(path: string): boolean {
  return path === '/_floodgate' || path in PAGE_FILES || path.startsWith('/_floodgate/console/') || path === HEALTH_PATH;
}

class ConsoleError extends Error implements GatewayError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...SECURITY_HEADERS });
  res.end(text);
}

async function jsonBody(req: GatewayRequest): Promise<Record<string, unknown>> {
  const buf = await req.body();
  if (buf.length === 0) return {};
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ConsoleError(400, 'InvalidRequest', 'the body must be a JSON object');
}

/** Settings the page may change on a mapping, as UpdateEventSourceMapping's body. */
export function mappingChange(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if ('enabled' in body) {
    if (typeof body.enabled !== 'boolean') throw new ConsoleError(400, 'InvalidRequest', '"enabled" must be true or false');
    out.Enabled = body.enabled;
  }
  if ('maximumConcurrency' in body) {
    const n = body.maximumConcurrency;
    if (n !== null && (typeof n !== 'number' || !Number.isInteger(n))) throw new ConsoleError(400, 'InvalidRequest', '"maximumConcurrency" must be an integer (2-1000) or null to remove it');
    // Lambda removes MaximumConcurrency when ScalingConfig comes without it.
    out.ScalingConfig = n === null ? {} : { MaximumConcurrency: n };
  }
  if (Object.keys(out).length === 0) throw new ConsoleError(400, 'InvalidRequest', 'nothing to change: give "enabled" and/or "maximumConcurrency"');
  return out;
}

export function consoleService(ctx: GatewayContext): GatewayService {
  const reader = createConsoleReader(ctx);
  // One read per tick, shared by every open page.
  const streams = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  let reading = false;
  const broadcast = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      const state = await reader.read().catch((err: unknown): Partial<ConsoleState> => ({ at: new Date().toISOString(), notes: [`the state could not be read: ${err instanceof Error ? err.message : String(err)}`] }));
      const frame = `event: state\ndata: ${JSON.stringify(state)}\n\n`;
      for (const s of streams) s.write(frame);
    } finally {
      reading = false;
    }
  };
  const subscribe = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive', ...SECURITY_HEADERS });
    res.write('retry: 1000\n\n');
    streams.add(res);
    res.on('close', () => {
      streams.delete(res);
      if (streams.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
        reader.destroy();
      }
    });
    void broadcast();
    if (!timer) {
      timer = setInterval(() => void broadcast(), TICK_MS);
      timer.unref();
    }
  };

  const redrive = async (name: string): Promise<unknown> => {
    const state = await reader.read();
    const q = state.queues.find((x) => x.name === name);
    if (!q) throw new ConsoleError(404, 'QueueDoesNotExist', `no queue named ${name}`);
    if (q.sourceQueues.length === 0) throw new ConsoleError(400, 'InvalidRequest', `${name} is not a dead-letter queue of any queue: nothing to redrive to`);
    const out = await reader.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.arn }));
    return { taskHandle: out.TaskHandle, source: name, destination: q.sourceQueues.length === 1 ? q.sourceQueues[0] : undefined };
  };

  const updateMapping = async (uuid: string, body: Record<string, unknown>): Promise<unknown> => {
    const change = mappingChange(body);
    const res = await signedRequest(ctx.url(), ctx.region, LOCAL_CREDENTIALS, 'lambda', 'PUT', `/2015-03-31/event-source-mappings/${encodeURIComponent(uuid)}`, { 'content-type': 'application/json' }, JSON.stringify(change));
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw new ConsoleError(res.status, String(answer.Type ?? answer.__type ?? res.headers.get('x-amzn-errortype') ?? 'LambdaError').split(':')[0]!, String(answer.Message ?? answer.message ?? `UpdateEventSourceMapping answered ${res.status}`));
    return answer;
  };

  const page = async (res: ServerResponse, path: string): Promise<void> => {
    const f = PAGE_FILES[path]!;
    const body = await readFile(new URL(`./page/${f.file}`, import.meta.url));
    res.writeHead(200, { 'content-type': f.type, 'content-length': String(body.length), ...SECURITY_HEADERS });
    res.end(body);
  };

  return {
    name: 'console',
    // Not an AWS API: never chosen by a SigV4 credential scope.
    signingNames: [],
    claims: (r) => isConsoleRoute(r.path),
    authorize: (req) => (req.path === HEALTH_PATH ? healthAccess : consoleAccess)({ method: req.method, remoteAddress: req.raw.socket.remoteAddress, headers: req.headers }),
    error: (_req, res, err) => sendJson(res, err.status, { error: { code: err.code, message: err.message } }),
    async handle(req, res) {
      const { method, path } = req;
      try {
        if (path === HEALTH_PATH) {
          if (method !== 'GET' && method !== 'HEAD') throw new ConsoleError(405, 'MethodNotAllowed', `${HEALTH_PATH} answers GET only`);
          return sendJson(res, 200, healthReport(ctx.signingNames(), packageVersion()));
        }
        if (path === '/_floodgate') {
          res.writeHead(308, { location: CONSOLE_PATH, ...SECURITY_HEADERS });
          return void res.end();
        }
        if (method === 'GET' && path in PAGE_FILES) return await page(res, path);
        if (method === 'GET' && path === '/_floodgate/console/state') return sendJson(res, 200, await reader.read());
        if (method === 'GET' && path === '/_floodgate/console/events') return subscribe(res);
        let m = /^\/_floodgate\/console\/queues\/([^/]+)\/redrive$/.exec(path);
        if (m && method === 'POST') return sendJson(res, 200, await redrive(decodeURIComponent(m[1]!)));
        m = /^\/_floodgate\/console\/mappings\/([^/]+)$/.exec(path);
        if (m && method === 'POST') return sendJson(res, 200, await updateMapping(decodeURIComponent(m[1]!), await jsonBody(req)));
        throw new ConsoleError(404, 'NotFound', `no console route ${method} ${path}`);
      } catch (err) {
        if (err instanceof ConsoleError) return sendJson(res, err.status, { error: { code: err.code, message: err.message } });
        const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        return sendJson(res, e.$metadata?.httpStatusCode ?? 500, { error: { code: e.name ?? 'InternalError', message: e.message ?? String(err) } });
      }
    },
  };
}
