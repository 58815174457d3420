/**
 * Counts DynamoDB requests at the wire: a tiny HTTP proxy in front of DynamoDB Local. Both workers
 * (Floodgate's and the Powertools-based one) are pointed at it, so "requests per record" is measured the
 * same way for both, outside the code under test, including SDK retries (each retry is a request the
 * table is billed for).
 */
import { performance } from 'node:perf_hooks';
import { createServer, request as httpRequest, Agent, type IncomingMessage, type Server } from 'node:http';

/** Operations that read or write items (the ones billed per request); control-plane calls are not counted. */
export const DATA_PLANE_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
  'ExecuteStatement',
  'BatchExecuteStatement',
  'ExecuteTransaction',
]);

/** `DynamoDB_20120810.PutItem` -> `PutItem`; null for anything else. */
export function operationFromTarget(target: string | string[] | undefined): string | null {
  const t = Array.isArray(target) ? target[0] : target;
  if (!t) return null;
  const m = /^DynamoDB_\d+\.(\w+)$/.exec(t);
  return m ? m[1]! : null;
}

export interface DdbCounter {
  /** The proxy's endpoint, to use instead of DynamoDB Local's. */
  readonly endpoint: string;
  /** Data-plane requests by operation since the last reset. */
  snapshot(): Record<string, number>;
  /** Sum of data-plane requests since the last reset. */
  total(): number;
  /** Mean wire latency (request in -> response end) per operation since the last reset, ms. */
  latencies(): Record<string, number>;
  reset(): void;
  stop(): Promise<void>;
}

export async function startDdbCounter(upstream: string): Promise<DdbCounter> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let counts: Record<string, number> = {};
  let latencyMs: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const op = operationFromTarget(req.headers['x-amz-target']);
    if (op !== null && DATA_PLANE_OPERATIONS.has(op)) {
      counts[op] = (counts[op] ?? 0) + 1;
      const t0 = performance.now();
      res.on('finish', () => (latencyMs[op] = (latencyMs[op] ?? 0) + performance.now() - t0));
    }
    const up = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (upRes: IncomingMessage) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('counter proxy has no port');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    snapshot: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    latencies: () => Object.fromEntries(Object.entries(latencyMs).map(([op, ms]) => [op, ms / (counts[op] ?? 1)])),
    reset: () => {
      counts = {};
      latencyMs = {};
    },
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
