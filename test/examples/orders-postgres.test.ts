/**
 * examples/orders-postgres against a real PostgreSQL: the pure core without I/O, then the store and the
 * handler (idempotent writes, the advisory-locked dispatch, "too many clients" classified retryable).
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '@floodgate/local';
import { classifyPgError, parseOrder } from '../../examples/orders-postgres/src/order';
import { applyOrder, dispatchPending, SCHEMA_SQL } from '../../examples/orders-postgres/src/store';
import { createOrdersHandler } from '../../examples/orders-postgres/src/handler';

const order = (n: number) => ({ v: 1, orderId: `o-${n}`, sku: `sku-${n % 3}`, quantity: 2, amountCents: 500 });

describe('orders core (pure)', () => {
  it('parses valid orders and rejects the rest as permanent InvalidMessage', () => {
    expect(parseOrder(JSON.stringify(order(1))).orderId).toBe('o-1');
    for (const body of ['nope', '{}', JSON.stringify({ ...order(1), quantity: 0 }), JSON.stringify({ ...order(1), v: 2 })]) {
      expect(() => parseOrder(body)).toThrow(expect.objectContaining({ kind: 'permanent', errorClass: 'InvalidMessage' }));
    }
  });
  it('classifies PostgreSQL errors', () => {
    const c = (code: string) => classifyPgError(Object.assign(new Error('x'), { code })) as { kind?: string; errorClass?: string };
    expect(c('53300')).toMatchObject({ kind: 'retryable', errorClass: 'TooManyConnections' });
    expect(c('57P01')).toMatchObject({ kind: 'retryable', errorClass: 'DatabaseUnavailable' });
    expect(c('ECONNREFUSED')).toMatchObject({ kind: 'retryable', errorClass: 'DatabaseUnavailable' });
    expect(c('40001')).toMatchObject({ kind: 'retryable', errorClass: 'Contention' });
    expect(c('23514')).toMatchObject({ kind: 'permanent', errorClass: 'OrderRejected' });
    expect(c('22P02')).toMatchObject({ kind: 'permanent', errorClass: 'InvalidMessage' });
    const unknown = Object.assign(new Error('?'), { code: 'XX000' });
    expect(classifyPgError(unknown)).toBe(unknown);
  });
});

describe('orders against PostgreSQL', () => {
  let server: RunningPostgres;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres({ maxConnections: 6, superuserReservedConnections: 0, handleSignals: false });
    pool = new pg.Pool({ connectionString: server.url, max: 2 });
    await pool.query(SCHEMA_SQL);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  it('applies an order once: a redelivery changes nothing', async () => {
    const o = parseOrder(JSON.stringify(order(10)));
    expect(await applyOrder(pool, o)).toBe('applied');
    expect(await applyOrder(pool, o)).toBe('duplicate');
    const { rows } = await pool.query<{ n: number; reserved: string }>("SELECT (SELECT count(*)::int FROM order_effects WHERE order_id = 'o-10') AS n, (SELECT reserved FROM stock WHERE sku = 'sku-1') AS reserved");
    expect(rows[0]).toEqual({ n: 1, reserved: '2' });
  });

  it('runs one dispatcher at a time and claims each shipment once', async () => {
    for (let i = 20; i < 30; i++) await applyOrder(pool, parseOrder(JSON.stringify(order(i))));
    // A second session holds the advisory lock: the dispatch is skipped, not waited for.
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [0x0f_1d_6a_7e]);
      expect(await dispatchPending(pool)).toEqual({ ran: false, claimed: 0 });
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    const first = await dispatchPending(pool);
    const second = await dispatchPending(pool);
    expect(first.ran).toBe(true);
    expect(first.claimed).toBe(11);
    expect(second).toEqual({ ran: true, claimed: 0 });
  });

  it('handler: "too many clients" is a retryable batch item failure, counted as RefusedConnections', async () => {
    const url = new URL(server.url);
    const env = { FLOODGATE_CONNECTIONS_PER_EXECUTION: '2', FLOODGATE_SOFT_MARGIN_MS: '1000', FLOODGATE_HARD_MARGIN_MS: '500', ORDERS_DATABASE_URL: url.toString(), AWS_REGION: 'us-east-1' };
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    // Fill the server: 6 slots, our test pool holds up to 2, these take the rest.
    const hogs: pg.Client[] = [];
    for (;;) {
      const c = new pg.Client({ connectionString: server.url });
      try {
        await c.connect();
        hogs.push(c);
      } catch {
        break;
      }
    }
    const handler = createOrdersHandler({ env });
    const records = [1, 2, 3].map((n) => ({ messageId: `m${n}`, body: JSON.stringify(order(100 + n)), attributes: { ApproximateReceiveCount: '1' } }) as unknown as SQSRecord);
    // Powertools Metrics writes its EMF line to stdout, where Lambda (and the local runner) collect it.
    process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(...String(chunk).split('\n').filter(Boolean)), true)) as typeof process.stdout.write;
    let res;
    try {
      res = await handler({ Records: records } as SQSEvent, { getRemainingTimeInMillis: () => 10_000 });
    } finally {
      process.stdout.write = write;
      await Promise.all(hogs.map((c) => c.end()));
    }
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(handler.lastReport()!.outcomes.every((o) => o.failure?.class === 'TooManyConnections')).toBe(true);
    const emf = lines.flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } }).find((j) => j._aws !== undefined);
    expect(emf?.RefusedConnections).toBeGreaterThanOrEqual(1);
    try {
      // With room again, the same messages complete.
      const again = await handler({ Records: records } as SQSEvent, { getRemainingTimeInMillis: () => 10_000 });
      expect(again.batchItemFailures).toEqual([]);
    } finally {
      await handler.pool.end();
    }
  });
});
