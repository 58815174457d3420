/**
 * Network faults between the functions and the endpoint (DynamoDB and S3): an HTTP proxy the functions'
 * SDKs are pointed at (AWS_ENDPOINT_URL_DYNAMODB / _S3). It works on the wire only (it knows the
 * DynamoDB JSON protocol and S3 paths, nothing of the handlers) and can
 *  - HOLD a write past its sender's lease: the request is taken in whole, not forwarded, and delivered
 *    only once `release` says a newer owner has finished (or a bound passes); the sender meanwhile times
 *    out and its work is redone by a newer owner. What the storage answers the late write is recorded:
 *    a conditional refusal is a stale fenced write rejected, a 200 after a newer owner wrote is a stale
 *    write accepted;
 *  - DROP a response after the write was applied: forwarded, answered by the storage, then the client's
 *    connection is cut, so the sender retries a write that already happened.
 * Which request gets which fault is a pure function of the seed and the request's identity (the key it
 * writes and how many writes to that key came before), not of timing: the same seed faults the same
 * writes. Bounded by maxHolds / maxDrops.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readRequestBody, upstreamCall } from '@floodgate/local';
import type { AddressInfo, Socket } from 'node:net';

export interface WireRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export type FaultDecision =
  | { readonly fault: 'none' }
  | { readonly fault: 'drop-response' }
  /** `release` resolves when the write should be delivered; `judge` classifies the storage's answer. */
  | { readonly fault: 'hold'; readonly release: () => Promise<void>; readonly judge: (answer: UpstreamAnswer) => Promise<HeldOutcome> | HeldOutcome };

/** What became of a held write: refused as stale, accepted although stale, or delivered with no newer owner. */
export type HeldOutcome = 'stale-rejected' | 'stale-accepted' | 'not-stale';

export interface FaultProxyStats {
  readonly requests: number;
  readonly held: number;
  readonly heldDelivered: number;
  readonly staleRejected: number;
  readonly staleAccepted: number;
  readonly heldNotStale: number;
  readonly droppedResponses: number;
}

export interface FaultProxy {
  readonly url: string;
  stats(): FaultProxyStats;
  /** Waits until no write is held (or `timeoutMs` passes). */
  idle(timeoutMs: number): Promise<void>;
  /** Waits for every held write to be delivered (bounded by their release), then closes. */
  stop(): Promise<void>;
}

/** A number in [0, 1) from the seed and a label: the same inputs, the same number. */
export function seededUnit(seed: number, label: string): number {
  return createHash('sha256').update(`${seed}\u0000${label}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** The Host header is passed on unchanged by the gateway's upstream call: it is part of what the client signed. */
function forward(upstream: URL, req: WireRequest): Promise<UpstreamAnswer> {
  return upstreamCall(upstream.origin, req.method, req.path, req.headers, req.body);
}

export async function startFaultProxy(options: {
  /** Where requests go; a function when the upstream starts after the proxy (the functions need its URL first). */
  readonly upstream: string | (() => string);
  readonly decide: (req: WireRequest) => FaultDecision | Promise<FaultDecision>;
  readonly maxHolds?: number;
  readonly maxDrops?: number;
  readonly log?: (line: string) => void;
}): Promise<FaultProxy> {
  const upstreamUrl = (): URL => new URL(typeof options.upstream === 'string' ? options.upstream : options.upstream());
  const counters = { requests: 0, held: 0, heldDelivered: 0, staleRejected: 0, staleAccepted: 0, heldNotStale: 0, droppedResponses: 0 };
  const pendingHolds = new Set<Promise<void>>();
  const maxHolds = options.maxHolds ?? Infinity;
  const maxDrops = options.maxDrops ?? Infinity;

  const handle = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    counters.requests++;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
    const req: WireRequest = { method: raw.method ?? 'GET', path: raw.url ?? '/', headers, body: await readRequestBody(raw) };
    let decision = await options.decide(req);
    if (decision.fault === 'hold' && counters.held >= maxHolds) decision = { fault: 'none' };
    if (decision.fault === 'drop-response' && counters.droppedResponses >= maxDrops) decision = { fault: 'none' };

    if (decision.fault === 'hold') {
      counters.held++;
      const d = decision;
      const delivery = (async () => {
        await d.release();
        const answer = await forward(upstreamUrl(), req);
        counters.heldDelivered++;
        const outcome = await d.judge(answer);
        if (outcome === 'stale-rejected') counters.staleRejected++;
        else if (outcome === 'stale-accepted') counters.staleAccepted++;
        else counters.heldNotStale++;
        options.log?.(`network-faults: held write delivered late -> ${answer.status} (${outcome})`);
        // The sender gave up long ago (its invocation ended); answer if it is somehow still there.
        if (!res.writableEnded && !res.destroyed) {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        }
      })().catch((err: unknown) => {
        options.log?.(`network-faults: held write failed to deliver: ${String(err)}`);
        if (!res.destroyed) res.destroy();
      });
      pendingHolds.add(delivery);
      void delivery.finally(() => pendingHolds.delete(delivery));
      return;
    }
    const answer = await forward(upstreamUrl(), req);
    if (decision.fault === 'drop-response') {
      // The write was applied; the sender never hears so.
      counters.droppedResponses++;
      raw.socket.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(502);
        res.end();
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.requestTimeout = 0;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ ...counters }),
    async idle(timeoutMs) {
      await Promise.race([Promise.allSettled([...pendingHolds]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    },
    async stop() {
      await Promise.allSettled([...pendingHolds]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** Whether a DynamoDB answer is a conditional refusal (single write or transaction). */
export function isConditionalRefusal(answer: UpstreamAnswer): boolean {
  if (answer.status !== 400) return false;
  const text = answer.body.toString('utf8');
  return /ConditionalCheckFailed/.test(text);
}

/** The DynamoDB operation of a request (`UpdateItem`, ...), from X-Amz-Target. */
export function dynamodbOperation(req: WireRequest): string | undefined {
  return /^DynamoDB_\d+\.(\w+)$/.exec(req.headers['x-amz-target'] ?? '')?.[1];
}

/** The string partition key values a DynamoDB write names for `attribute` in `table` (or any table when omitted). */
export function writtenKeys(req: WireRequest, attribute: string, table?: string): string[] {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return [];
  }
  const out: string[] = [];
  const take = (t: unknown, key: unknown) => {
    if (table !== undefined && t !== table) return;
    const v = (key as Record<string, { S?: string }> | undefined)?.[attribute]?.S;
    if (typeof v === 'string') out.push(v);
  };
  take(body.TableName, body.Key ?? body.Item);
  for (const item of (body.TransactItems ?? []) as Record<string, { TableName?: string; Key?: unknown; Item?: unknown }>[]) {
    for (const op of Object.values(item)) take(op.TableName, op.Key ?? op.Item);
  }
  return out;
}
