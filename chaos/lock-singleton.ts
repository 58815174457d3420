/**
 * A LockTable singleton (one-at-a-time work) under the chaos run's network faults, with paused holders.
 * Several holders contend for one lease (@floodgate/runtime/lock LeaseLock) through a fault proxy that
 * holds some of their writes until a newer holder has the lease and drops some responses after the
 * write; some holders pause past their lease without heartbeating and then write as if they still held
 * it (a GC pause or a frozen process). The work write is fenced at the storage: an UpdateItem on the
 * lock record conditioned on the holder's fence being the current one.
 *
 * Checked: at most one live holder at any time (live = from the grant's arrival until the holder's own
 * clock says the lease ran out, it learns the lease was lost, or it releases), and no stale write
 * accepted; stale writes do happen (paused holders, held writes) and are rejected.
 */
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { LeaseLock, type Grant } from '@floodgate/runtime/lock';
import { LOCAL_CREDENTIALS } from '@floodgate/local';
import { dynamodbOperation, isConditionalRefusal, seededUnit, startFaultProxy, type FaultDecision, type FaultProxyStats, type WireRequest } from './network-faults';
import type { NetworkRates } from './network-plan';

export interface LockSingletonOptions {
  readonly seed: number;
  /** The stack's endpoint (the proxy forwards to it). */
  readonly endpoint: string;
  readonly region: string;
  /** Admin client on the endpoint (reads the lock record). */
  readonly admin: DynamoDBClient;
  readonly tableName: string;
  readonly rates?: NetworkRates;
  /** @default 4 */
  readonly holders?: number;
  /** @default 20000 */
  readonly durationMs?: number;
  /** @default 1500 */
  readonly leaseMs?: number;
  /** Share of grants whose holder pauses for 2 leases and then writes without checking. @default 0.25 */
  readonly pauseRate?: number;
  readonly log?: (line: string) => void;
}

export interface LockSingletonResult {
  readonly holders: number;
  readonly grants: number;
  readonly fencedWritesAccepted: number;
  readonly pausedHolders: number;
  /** Most holders live at one instant (must be <= 1). */
  readonly maxLiveHolders: number;
  readonly staleWritesRejected: number;
  /** Must be 0. */
  readonly staleWritesAccepted: number;
  readonly network: FaultProxyStats;
  readonly passed: boolean;
}

const KEY = 'chaos-singleton';

/** Highest number of intervals covering one instant. */
export function maxOverlap(intervals: readonly { start: number; end: number }[]): number {
  const points = intervals.flatMap((i) => [{ t: i.start, d: 1 }, { t: i.end, d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (cur += p.d));
  return max;
}

export async function runLockSingleton(options: LockSingletonOptions): Promise<LockSingletonResult> {
  const holders = options.holders ?? 4;
  const durationMs = options.durationMs ?? 20_000;
  const leaseMs = options.leaseMs ?? 1500;
  const pauseRate = options.pauseRate ?? 0.25;
  const rates = options.rates ?? { holdRate: 0, dropRate: 0 };
  const readFence = async (): Promise<number> => Number((await options.admin.send(new GetItemCommand({ TableName: options.tableName, Key: { lockKey: { S: KEY } }, ConsistentRead: true }))).Item?.fence?.N ?? 0);

  const perOwner = new Map<string, number>();
  const decide = (req: WireRequest): FaultDecision => {
    if (dynamodbOperation(req) !== 'UpdateItem') return { fault: 'none' };
    let owner = '?';
    let fenced = false;
    try {
      const body = JSON.parse(req.body.toString('utf8')) as { ExpressionAttributeValues?: Record<string, { S?: string }>; UpdateExpression?: string; ConditionExpression?: string };
      owner = body.ExpressionAttributeValues?.[':owner']?.S ?? body.ExpressionAttributeValues?.[':who']?.S ?? '?';
      // Held: the fenced work write and renewals (writes a stale holder makes). An acquire is not held:
      // delivered late it can only take an expired lease, which harms no one.
      fenced = /workFence/.test(body.UpdateExpression ?? '') || /leaseExpiresAt > :now/.test(body.ConditionExpression ?? '');
    } catch {
      return { fault: 'none' };
    }
    const n = perOwner.get(owner) ?? 0;
    perOwner.set(owner, n + 1);
    if (fenced && seededUnit(options.seed, `lock-hold|${owner}|${n}`) < rates.holdRate * 4) {
      const before = readFence();
      let tookOver = false;
      return {
        fault: 'hold',
        release: async () => {
          const at = await before;
          const end = Date.now() + 4 * leaseMs;
          while (Date.now() < end) {
            if ((await readFence()) > at) {
              tookOver = true;
              // Let the newer holder do its work first, then deliver the old write.
              await new Promise((r) => setTimeout(r, leaseMs / 3));
              return;
            }
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        judge: (answer) => (!tookOver ? 'not-stale' : isConditionalRefusal(answer) ? 'stale-rejected' : answer.status === 200 ? 'stale-accepted' : 'not-stale'),
      };
    }
    return seededUnit(options.seed, `lock-drop|${owner}|${n}`) < rates.dropRate * 4 ? { fault: 'drop-response' } : { fault: 'none' };
  };
  const proxy = await startFaultProxy({ upstream: options.endpoint, decide, ...(options.log ? { log: options.log } : {}) });

  const intervals: { start: number; end: number }[] = [];
  const counts = { grants: 0, accepted: 0, paused: 0, staleRejected: 0, staleAccepted: 0 };
  const stopAt = Date.now() + durationMs;
  const clients: DynamoDBClient[] = [];

  /** The fenced work write: only the current grant's fence may write. */
  const work = async (client: DynamoDBClient, grant: Grant, signal?: AbortSignal): Promise<'accepted' | 'rejected'> => {
    try {
      const out = await client.send(
        new UpdateItemCommand({
          TableName: options.tableName,
          Key: { lockKey: { S: KEY } },
          ConditionExpression: 'fence = :f',
          UpdateExpression: 'SET workFence = :f, workBy = :who ADD workCount :one',
          ExpressionAttributeValues: { ':f': { N: String(grant.fence) }, ':who': { S: grant.owner }, ':one': { N: '1' } },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        signal ? { abortSignal: signal } : {},
      );
      const oldFence = Number(out.Attributes?.fence?.N ?? NaN);
      if (oldFence !== grant.fence) counts.staleAccepted++;
      counts.accepted++;
      return 'accepted';
    } catch (err) {
      const e = err as { name?: string; Item?: Record<string, { N?: string }> };
      if (e.name === 'ConditionalCheckFailedException') {
        if (Number(e.Item?.fence?.N ?? 0) > grant.fence) counts.staleRejected++;
        return 'rejected';
      }
      throw err;
    }
  };

  const holder = async (i: number): Promise<void> => {
    const client = new DynamoDBClient({ region: options.region, endpoint: proxy.url, credentials: LOCAL_CREDENTIALS });
    clients.push(client);
    const owner = `holder-${i}`;
    const lock = new LeaseLock({ client, tableName: options.tableName, owner, leaseMs, heartbeatMs: Math.floor(leaseMs / 3) });
    let round = 0;
    while (Date.now() < stopAt) {
      round++;
      let acquired: Grant | undefined;
      try {
        acquired = await lock.tryAcquire(KEY, AbortSignal.timeout(leaseMs));
      } catch {
        acquired = undefined; // aborted (dropped): the lease, if granted, expires unused
      }
      if (!acquired) {
        await new Promise((r) => setTimeout(r, 50 + Math.floor(seededUnit(options.seed, `backoff|${i}|${round}`) * 150)));
        continue;
      }
      let grant: Grant = acquired;
      const start = Date.now();
      if (start >= grant.leaseExpiresAt) continue; // arrived already expired: never live
      counts.grants++;
      let expiresAt = grant.leaseExpiresAt;
      let end = start;
      if (seededUnit(options.seed, `pause|${i}|${round}`) < pauseRate) {
        // Paused: no heartbeat; by its own clock the lease ends at expiresAt, whatever it believes on resuming.
        counts.paused++;
        intervals.push({ start, end: expiresAt });
        await new Promise((r) => setTimeout(r, 2 * leaseMs));
        await work(client, grant).catch(() => undefined);
        continue;
      }
      for (let step = 0; step < 3 && Date.now() < expiresAt; step++) {
        const signal = AbortSignal.timeout(Math.max(1, expiresAt - Date.now()));
        const r = await work(client, grant, signal).catch(() => 'lost' as const);
        if (r !== 'accepted') break;
        const renewed: Grant | undefined = await lock.renew(grant, AbortSignal.timeout(Math.max(1, expiresAt - Date.now()))).catch(() => undefined);
        if (!renewed) break;
        grant = renewed;
        expiresAt = renewed.leaseExpiresAt;
        await new Promise((r) => setTimeout(r, 100));
      }
      end = Math.min(Date.now(), expiresAt);
      intervals.push({ start, end });
      await lock.release(grant).catch(() => false);
    }
  };
  try {
    await Promise.all(Array.from({ length: holders }, (_, i) => holder(i)));
    await proxy.idle(8 * leaseMs);
  } finally {
    await proxy.stop();
    for (const c of clients) c.destroy();
  }
  const net = proxy.stats();
  const maxLiveHolders = maxOverlap(intervals);
  const staleWritesRejected = counts.staleRejected + net.staleRejected;
  const staleWritesAccepted = counts.staleAccepted + net.staleAccepted;
  return {
    holders,
    grants: counts.grants,
    fencedWritesAccepted: counts.accepted,
    pausedHolders: counts.paused,
    maxLiveHolders,
    staleWritesRejected,
    staleWritesAccepted,
    network: net,
    passed: maxLiveHolders <= 1 && staleWritesAccepted === 0 && staleWritesRejected > 0,
  };
}
