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

/** Write units of a multi-item write request body (see DdbCounter.writeUnits). */
export function writeUnitsOf(op: 'TransactWriteItems' | 'BatchWriteItem', body: string): number {
  try {
    const json = JSON.parse(body) as { TransactItems?: unknown[]; RequestItems?: Record<string, unknown[]> };
    if (op === 'TransactWriteItems') return 2 * (json.TransactItems?.length ?? 0);
    return Object.values(json.RequestItems ?? {}).reduce((a, items) => a + items.length, 0);
  } catch {
    return 0;
  }
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
  /**
   * Write capacity units the counted writes would consume on DynamoDB, for items up to 1 KB: 1 per
   * PutItem/UpdateItem/DeleteItem (conditional failures included) and per BatchWriteItem item, 2 per item
   * of a TransactWriteItems (transactions bill every item twice).
   */
  writeUnits(): number;
  reset(): void;
  stop(): Promise<void>;
}

export async function startDdbCounter(upstream: string): Promise<DdbCounter> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let counts: Record<string, number> = {};
  let latencyMs: Record<string, number> = {};
  let units = 0;
  const server: Server = createServer((req, res) => {
    const op = operationFromTarget(req.headers['x-amz-target']);
    if (op !== null && DATA_PLANE_OPERATIONS.has(op)) {
      counts[op] = (counts[op] ?? 0) + 1;
      const t0 = performance.now();
      res.on('finish', () => (latencyMs[op] = (latencyMs[op] ?? 0) + performance.now() - t0));
      if (op === 'PutItem' || op === 'UpdateItem' || op === 'DeleteItem') units += 1;
      if (op === 'TransactWriteItems' || op === 'BatchWriteItem') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => (units += writeUnitsOf(op, Buffer.concat(chunks).toString('utf8'))));
      }
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
    writeUnits: () => units,
    reset: () => {
      counts = {};
      latencyMs = {};
      units = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
