/** The idempotency store (on its own table and as an application's own record), the lease lock, against DynamoDB Local. */
import fc from 'fast-check';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyStore } from '../src/idempotency/store';
import { LeaseLock } from '../src/lock/lease-lock';
import { addRequestCounter, RequestCounter } from '../src/aws-clients';
import { RetryableError } from '../src/errors';
import { localClients } from '../../../test/support/local-env';
import { createTable } from '../../../test/lambda/support/tables';
import { DdbJobBackend, DdbLockBackend } from '../../../test/lambda/support/ddb-backends';
import { runJobSimulation } from '../../../test/lambda/support/job-sim';
import { runLockSimulation } from '../../../test/lambda/support/lock-sim';
import { jobCommands, LEASE, lockCommands } from '../../../test/lambda/support/sim-arbitraries';

const { dynamodb } = localClients();
let idemTable: string;
let jobsTable: string;
let lockTable: string;

beforeAll(async () => {
  [idemTable, jobsTable, lockTable] = await Promise.all([createTable(dynamodb, 'idempotency'), createTable(dynamodb, 'jobs'), createTable(dynamodb, 'locks')]);
});

const T0 = 1_700_000_000_000;

describe('IdempotencyStore', () => {
  it('claims with one request, bumps the fence, and recognises completed duplicates', async () => {
    const counter = new RequestCounter();
    let now = T0;
    const client = localClients().dynamodb;
    addRequestCounter(client, counter, 'ddb');
    const store = new IdempotencyStore({ client, tableName: idemTable, now: () => now });
    const id = randomUUID();
    const first = await store.claim(id, 'hash-a', now + 60_000);
    expect(first).toMatchObject({ type: 'claimed', claim: { fence: 1 } });
    expect(counter.get('ddb')).toBe(1);
    if (first.type !== 'claimed') throw new Error('unreachable');
    expect(await store.claim(id, 'hash-a', now + 60_000)).toMatchObject({ type: 'in-progress', leaseExpiresAt: now + 60_000 });
    expect(await store.claim(id, 'hash-b', now + 60_000)).toEqual({ type: 'payload-mismatch' });
    expect(await store.complete(first.claim)).toBe(true);
    // Happy path: claim + complete = 2 writes; the refused claims above cost 1 request each, no reads.
    expect(counter.get('ddb')).toBe(4);
    expect(await store.claim(id, 'hash-a', now + 60_000)).toMatchObject({ type: 'completed' });
    expect(await store.claim(id, 'hash-b', now + 60_000)).toEqual({ type: 'payload-mismatch' });
    now += 10 * 24 * 3600 * 1000;
    expect(await store.claim(id, 'hash-a', now + 60_000)).toMatchObject({ type: 'completed' });
  });

  it('lets a newer owner take an expired lease with a higher fence; the stale owner cannot complete, fail or release it', async () => {
    let now = T0;
    const store = new IdempotencyStore({ client: dynamodb, tableName: idemTable, now: () => now });
    const id = randomUUID();
    const a = await store.claim(id, 'h', now + 1_000);
    now += 1_001;
    const b = await store.claim(id, 'h', now + 1_000);
    if (a.type !== 'claimed' || b.type !== 'claimed') throw new Error(`claims: ${a.type} ${b.type}`);
    expect(b.claim.fence).toBe(2);
    expect(await store.complete(a.claim)).toBe(false);
    expect(await store.fail(a.claim, 'CorruptImage', 'x')).toBe(false);
    expect(await store.release(a.claim)).toBe(false);
    const item = await dynamodb.send(new GetItemCommand({ TableName: idemTable, Key: { id: { S: id } }, ConsistentRead: true }));
    expect(item.Item?.['owner']?.S).toBe(b.claim.owner);
    expect(item.Item?.['status']?.S).toBe('in_progress');
  });

  it('release keeps the fence counting; a failed job is a duplicate with its reason; TTL-expired records are free', async () => {
    let now = T0;
    const store = new IdempotencyStore({ client: dynamodb, tableName: idemTable, now: () => now, recordTtlSeconds: 60 });
    const id = randomUUID();
    const a = await store.claim(id, 'h', now + 5_000);
    if (a.type !== 'claimed') throw new Error(a.type);
    expect(await store.release(a.claim)).toBe(true);
    const b = await store.claim(id, 'h', now + 5_000);
    if (b.type !== 'claimed') throw new Error(b.type);
    expect(b.claim.fence).toBe(2);
    expect(await store.fail(b.claim, 'CorruptImage', 'truncated JPEG')).toBe(true);
    expect(await store.claim(id, 'h', now + 5_000)).toMatchObject({ type: 'failed', errorClass: 'CorruptImage', errorReason: 'truncated JPEG' });
    now += 3_600_000; // past the 60 s TTL: free even before DynamoDB deletes it, and the fence continues
    const c = await store.claim(id, 'other-payload', now + 5_000);
    expect(c).toMatchObject({ type: 'claimed', claim: { fence: 3 } });
  });
});

describe('the application record as the claim (keyAttribute, statusValues)', () => {
  const jobStatus = { in_progress: 'processing', released: 'queued', completed: 'completed', failed: 'failed' } as const;
  const jobStore = (client = dynamodb, now = () => Date.now()) =>
    new IdempotencyStore({ client, tableName: jobsTable, keyAttribute: 'jobId', statusValues: jobStatus, recordTtlSeconds: null, now });

  it('happy path in 2 requests on one item; a replay returns what the completion wrote; the producer record is claimable', async () => {
    const counter = new RequestCounter();
    const client = localClients().dynamodb;
    addRequestCounter(client, counter, 'ddb');
    const store = jobStore(client);
    const id = randomUUID();
    // The producer wrote the record first (no payload hash, status = the released name).
    await dynamodb.send(new PutItemCommand({ TableName: jobsTable, Item: { jobId: { S: id }, status: { S: 'queued' }, sourceKey: { S: 'uploads/a.jpg' } } }));
    const a = await store.claim(id, 'h', Date.now() + 60_000, undefined, { set: { updatedAt: { S: 'now' } }, setIfAbsent: { sourceKey: { S: 'uploads/other.jpg' } } });
    if (a.type !== 'claimed') throw new Error(a.type);
    expect(a.claim.fence).toBe(1);
    expect(a.record['sourceKey']?.S).toBe('uploads/a.jpg'); // if_not_exists kept the producer's value
    expect((await jobItem(id))?.['status']?.S).toBe('processing');
    expect(await store.complete(a.claim, undefined, { set: { renditions: { L: [{ S: 'thumb' }] } } })).toBe(true);
    expect(counter.get('ddb')).toBe(2);
    const replay = await store.claim(id, 'h', Date.now() + 60_000);
    expect(replay.type).toBe('completed');
    if (replay.type === 'completed') expect(replay.record['renditions']?.L?.[0]?.S).toBe('thumb');
    const item = await jobItem(id);
    expect(item?.['status']?.S).toBe('completed');
    expect(item?.['completions']?.N).toBe('1');
    expect(item?.['expiresAt']).toBeUndefined(); // recordTtlSeconds: null
  });

  it('completion needs owner AND fence; release goes back to the released name and the fence keeps counting', async () => {
    let now = T0;
    const store = jobStore(dynamodb, () => now);
    const id = randomUUID();
    const a = await store.claim(id, 'h', now + 1_000);
    if (a.type !== 'claimed') throw new Error(a.type);
    expect(await store.complete({ ...a.claim, fence: a.claim.fence + 1 })).toBe(false); // right owner, wrong fence
    expect(await store.complete({ ...a.claim, owner: 'someone-else' })).toBe(false);
    expect(await store.release(a.claim)).toBe(true);
    expect((await jobItem(id))?.['status']?.S).toBe('queued');
    const b = await store.claim(id, 'h', now + 1_000);
    if (b.type !== 'claimed') throw new Error(b.type);
    expect(b.claim.fence).toBe(2);
    now += 1_001;
    const c = await store.claim(id, 'h', now + 1_000);
    if (c.type !== 'claimed') throw new Error(c.type);
    expect(c.claim.fence).toBe(3);
    expect(await store.complete(b.claim)).toBe(false); // the stale owner
    expect(await store.complete(c.claim)).toBe(true);
    expect(await store.claim(id, 'other', now + 1_000)).toEqual({ type: 'payload-mismatch' });
  });

  it('refuses the attributes it owns in `set`', async () => {
    await expect(jobStore().claim(randomUUID(), 'h', Date.now() + 1_000, undefined, { set: { fence: { N: '9' } } })).rejects.toThrow(/fence/);
  });
});

async function jobItem(jobId: string) {
  return (await dynamodb.send(new GetItemCommand({ TableName: jobsTable, Key: { jobId: { S: jobId } }, ConsistentRead: true }))).Item;
}

describe('LeaseLock', () => {
  it('grants free or expired leases with increasing fences; renew and release need owner + token', async () => {
    let now = T0;
    const key = randomUUID();
    const a = new LeaseLock({ client: dynamodb, tableName: lockTable, owner: 'a', leaseMs: 1_000, now: () => now });
    const b = new LeaseLock({ client: dynamodb, tableName: lockTable, owner: 'b', leaseMs: 1_000, now: () => now });
    const ga = await a.tryAcquire(key);
    expect(ga).toMatchObject({ owner: 'a', fence: 1 });
    expect(await b.tryAcquire(key)).toBeUndefined();
    expect(b.contention).toBe(1);
    now += 500;
    const ra = await a.renew(ga!);
    expect(ra?.leaseExpiresAt).toBe(now + 1_000);
    now += 1_001;
    const gb = await b.tryAcquire(key);
    expect(gb).toMatchObject({ owner: 'b', fence: 2 });
    expect(await a.renew(ra!)).toBeUndefined();
    expect(await a.release(ra!)).toBe(false);
    expect(await b.release(gb!)).toBe(true);
    expect(await a.tryAcquire(key)).toMatchObject({ owner: 'a', fence: 3 });
  });

  it('acquire waits with jittered backoff, gives up with LockContention, and honours an AbortSignal', async () => {
    const key = randomUUID();
    const holder = new LeaseLock({ client: dynamodb, tableName: lockTable, leaseMs: 60_000 });
    const waiter = new LeaseLock({ client: dynamodb, tableName: lockTable, leaseMs: 60_000 });
    await holder.acquire(key);
    const t0 = Date.now();
    const err = await waiter.acquire(key, { waitMs: 300, baseDelayMs: 20, maxDelayMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).errorClass).toBe('LockContention');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(waiter.contention).toBeGreaterThan(1);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    await expect(waiter.acquire(key, { waitMs: 10_000, signal: ac.signal })).rejects.toThrow('shutting down');
  });

  it('heartbeats while held, and fires the lost signal when another owner takes the lease', async () => {
    const key = randomUUID();
    let now = Date.now();
    const a = new LeaseLock({ client: dynamodb, tableName: lockTable, owner: 'a', leaseMs: 600, heartbeatMs: 100, now: () => now });
    const held = a.hold((await a.tryAcquire(key))!);
    const firstExpiry = held.grant.leaseExpiresAt;
    await new Promise((r) => setTimeout(r, 50));
    now += 300;
    await new Promise((r) => setTimeout(r, 250));
    expect(held.grant.leaseExpiresAt).toBeGreaterThan(firstExpiry); // renewed by the heartbeat
    expect(held.signal.aborted).toBe(false);
    // Another owner whose clock is far ahead takes the lease over: the next heartbeat finds it lost.
    const b = new LeaseLock({ client: dynamodb, tableName: lockTable, owner: 'b', leaseMs: 600, now: () => now + 10_000 });
    const gb = await b.tryAcquire(key);
    expect(gb?.fence).toBe(held.grant.fence + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(held.signal.aborted).toBe(true);
    expect((held.signal.reason as RetryableError).errorClass).toBe('LockContention');
    expect(await held.release()).toBe(false);
  });

  it('when renewals keep failing (network), the lease is given up at its expiry by our own clock', async () => {
    const key = randomUUID();
    const client = localClients().dynamodb;
    let broken = false;
    client.middlewareStack.add((next) => async (args) => {
      if (broken) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return next(args);
    }, { step: 'finalizeRequest', name: 'breakNetwork' });
    const lock = new LeaseLock({ client, tableName: lockTable, leaseMs: 400, heartbeatMs: 100 });
    const held = lock.hold((await lock.tryAcquire(key))!);
    broken = true;
    const t0 = Date.now();
    await new Promise<void>((resolve) => held.signal.addEventListener('abort', () => resolve(), { once: true }));
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(String((held.signal.reason as Error).message)).toMatch(/expired/);
  });

  it('withLock runs the work under the lease and releases it', async () => {
    const key = randomUUID();
    const lock = new LeaseLock({ client: dynamodb, tableName: lockTable, leaseMs: 5_000 });
    const fence = await lock.withLock(key, async (lease) => lease.grant.fence);
    expect(fence).toBe(1);
    expect(await lock.tryAcquire(key)).toMatchObject({ fence: 2 });
  });
});

describe('simulations against DynamoDB Local (fewer runs than the model)', () => {
  it('job record as the claim: no two live owners, no stale write accepted, exactly one completion', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.boolean(), jobCommands(4, 50), async (actors, clockJumps, cmds) => {
        await runJobSimulation(new DdbJobBackend(dynamodb, jobsTable, randomUUID()), cmds, { actors, leaseMs: LEASE, clockJumps });
      }),
      { numRuns: 15 },
    );
  });
  it('lease lock: fences increase, stale holders are rejected, one live owner with agreeing clocks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.boolean(), lockCommands(4, 60), async (actors, jumps, cmds) => {
        await runLockSimulation(new DdbLockBackend(dynamodb, lockTable, actors, LEASE, randomUUID()), cmds, { actors, leaseMs: LEASE, clockJumps: jumps });
      }),
      { numRuns: 25 },
    );
  });
});
