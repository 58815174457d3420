/**
 * examples/orders-postgres against a real PostgreSQL (and the SQS emulator for its DLQ): the pure core
 * without I/O, then the store and the handler (idempotent writes, the advisory-locked dispatch, invalid
 * orders dead-lettered, "too many clients" classified retryable and counted).
 */
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '@floodgate/postgres';
import { RequestCounter, validateBody } from '@floodgate/runtime';
import { classifyPgError, OrderMessage } from '../../examples/orders-postgres/src/order';
import { applyOrder, dispatchPending, SCHEMA_SQL } from '../../examples/orders-postgres/src/store';
import { createOrdersHandler } from '../../examples/orders-postgres/src/handler';
import { localClients } from '../support/local-env';

const order = (n: number) => ({ v: 1, orderId: `o-${n}`, sku: `sku-${n % 3}`, quantity: 2, amountCents: 500 });

describe('orders core (pure)', () => {
  // The handler validates bodies with this schema through the runtime's validateBody (Standard Schema).
  it('accepts valid orders and rejects the rest as permanent InvalidMessage naming the field', async () => {
    expect((await validateBody(OrderMessage, JSON.stringify(order(1)))).orderId).toBe('o-1');
    for (const [body, field] of [['nope', /JSON/], ['{}', /orderId/], [JSON.stringify({ ...order(1), quantity: 0 }), /quantity/], [JSON.stringify({ ...order(1), v: 2 }), /\bv\b/]] as const) {
      await expect(validateBody(OrderMessage, body)).rejects.toMatchObject({ kind: 'permanent', errorClass: 'InvalidMessage', message: expect.stringMatching(field) });
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
    const o = OrderMessage.parse(order(10));
    expect(await applyOrder(pool, o)).toBe('applied');
    expect(await applyOrder(pool, o)).toBe('duplicate');
    const { rows } = await pool.query<{ n: number; reserved: string }>("SELECT (SELECT count(*)::int FROM order_effects WHERE order_id = 'o-10') AS n, (SELECT reserved FROM stock WHERE sku = 'sku-1') AS reserved");
    expect(rows[0]).toEqual({ n: 1, reserved: '2' });
  });

  it('runs one dispatcher at a time and claims each shipment once', async () => {
    for (let i = 20; i < 30; i++) await applyOrder(pool, OrderMessage.parse(order(i)));
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

  const handlerEnv = (extra: Record<string, string> = {}) => ({ FLOODGATE_CONNECTIONS_PER_EXECUTION: '2', FLOODGATE_SOFT_MARGIN_MS: '1000', FLOODGATE_HARD_MARGIN_MS: '500', ORDERS_DATABASE_URL: server.url, AWS_REGION: 'us-east-1', ...extra });
  const recordOf = (messageId: string, body: string) => ({ messageId, body, attributes: { ApproximateReceiveCount: '1' } }) as unknown as SQSRecord;
  const lambdaContext = { getRemainingTimeInMillis: () => 10_000 };

  /** Runs `work` with stdout captured: Powertools Metrics writes its EMF lines there, where Lambda (and the local runner) collect them. */
  async function emfLinesDuring<T>(work: () => Promise<T>): Promise<{ out: T; emf: Record<string, unknown>[] }> {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(...String(chunk).split('\n').filter(Boolean)), true)) as typeof process.stdout.write;
    try {
      const out = await work();
      return { out, emf: lines.flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } }).filter((j) => j._aws !== undefined) };
    } finally {
      process.stdout.write = write;
    }
  }

  it('handler: applies valid orders, dead-letters invalid ones as InvalidMessage, then dispatches their shipments', async () => {
    const local = localClients();
    const dlqUrl = (await local.sqs.send(new CreateQueueCommand({ QueueName: `orders-dlq-${randomUUID().slice(0, 8)}` }))).QueueUrl!;
    const handler = createOrdersHandler({ env: handlerEnv({ FLOODGATE_DLQ_URL: dlqUrl }), clients: { ...local, requests: new RequestCounter() } });
    try {
      const records = [recordOf('a1', JSON.stringify(order(200))), recordOf('a2', JSON.stringify(order(201))), recordOf('bad', JSON.stringify({ ...order(202), quantity: -1 }))];
      const { out: first, emf } = await emfLinesDuring(() => handler.invoke({ Records: records } as SQSEvent, lambdaContext));
      expect(first.response.batchItemFailures).toEqual([]);
      expect(first.report.outcomes.find((o) => o.id === 'bad')?.failure).toMatchObject({ kind: 'permanent', class: 'InvalidMessage', reason: expect.stringMatching(/quantity/) });
      expect(first.metrics.counts).toMatchObject({ OrdersApplied: 2, DuplicatesSkipped: 0, RefusedConnections: 0 });
      // Earlier tests dispatched everything before: these two are all that is pending.
      expect(first.dispatch).toEqual({ ran: true, claimed: 2 });
      // The batch's EMF line, then the dispatch's.
      expect(emf.find((j) => j.OrdersApplied !== undefined)).toMatchObject({ OrdersApplied: 2, RefusedConnections: 0, PermanentFailures: 1 });
      expect(emf.find((j) => j.ShipmentsDispatched !== undefined)).toMatchObject({ ShipmentsDispatched: 2, RefusedConnections: 0 });
      const dead = await local.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
      expect(dead.Messages?.map((m) => [m.Body, m.MessageAttributes?.ErrorClass?.StringValue])).toEqual([[records[2]!.body, 'InvalidMessage']]);
      const { rows } = await pool.query<{ status: string }>("SELECT status FROM shipments WHERE order_id IN ('o-200', 'o-201')");
      expect(rows.map((r) => r.status)).toEqual(['dispatched', 'dispatched']);

      // A redelivery of the valid ones changes nothing and dispatches nothing.
      const again = await handler.invoke({ Records: records.slice(0, 2) } as SQSEvent, lambdaContext);
      expect(again.metrics.counts).toMatchObject({ OrdersApplied: 0, DuplicatesSkipped: 2 });
      expect(again.dispatch).toBeUndefined();
    } finally {
      await handler.pool.end();
    }
  });

  it('handler: "too many clients" is a retryable batch item failure, counted as RefusedConnections', async () => {
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
    const handler = createOrdersHandler({ env: handlerEnv() });
    const records = [1, 2, 3].map((n) => recordOf(`m${n}`, JSON.stringify(order(100 + n))));
    let captured;
    try {
      captured = await emfLinesDuring(() => handler.invoke({ Records: records } as SQSEvent, lambdaContext));
    } finally {
      await Promise.all(hogs.map((c) => c.end()));
    }
    const { out: first, emf } = captured;
    expect(first.response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(first.report.outcomes.every((o) => o.failure?.class === 'TooManyConnections')).toBe(true);
    expect(first.metrics.counts.RefusedConnections).toBeGreaterThanOrEqual(1);
    expect(emf.find((j) => j.RefusedConnections !== undefined)?.RefusedConnections).toBeGreaterThanOrEqual(1);
    try {
      // With room again, the same messages complete (through the plain Lambda entry).
      const again = await handler({ Records: records } as SQSEvent, lambdaContext);
      expect(again.batchItemFailures).toEqual([]);
    } finally {
      await handler.pool.end();
    }
  });
});
