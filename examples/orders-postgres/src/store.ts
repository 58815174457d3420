/**
 * The orders consumer's PostgreSQL adapter. Every statement is here; the decisions are in order.ts.
 *
 * - applyOrder: `INSERT INTO orders ... ON CONFLICT (order_id) DO NOTHING` and the order's effect (the
 *   stock reservation, its ledger row and a pending shipment) in ONE transaction, so a redelivered
 *   message finds its order row and changes nothing, and a failed attempt leaves nothing behind.
 * - dispatchPending: a one-at-a-time job behind a transaction-scoped advisory lock
 *   (`pg_try_advisory_xact_lock`): whoever holds it claims pending shipments with `UPDATE ... RETURNING`;
 *   everyone else skips the run instead of queueing for the lock and holding a connection.
 */
import type { Pool, PoolClient } from 'pg';
import type { Order } from './order.js';

/** Schema of the example (idempotent: safe to run on every deploy or test). */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS orders (
  order_id     text PRIMARY KEY,
  sku          text NOT NULL,
  quantity     integer NOT NULL CHECK (quantity > 0),
  amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
  applied_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS stock (
  sku       text PRIMARY KEY,
  reserved  bigint NOT NULL DEFAULT 0
);
-- One row per application of an order's effect: a second row for an order is a duplicate effect.
CREATE TABLE IF NOT EXISTS order_effects (
  id         bigserial PRIMARY KEY,
  order_id   text NOT NULL,
  sku        text NOT NULL,
  quantity   integer NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_effects_order_id ON order_effects (order_id);
CREATE TABLE IF NOT EXISTS shipments (
  order_id      text PRIMARY KEY,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dispatched')),
  dispatch_run  bigint,
  dispatched_at timestamptz
);
CREATE INDEX IF NOT EXISTS shipments_pending ON shipments (order_id) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS dispatch_runs (
  id         bigserial PRIMARY KEY,
  claimed    integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);
`;

/** Advisory lock key of the dispatch job (any constant bigint; one per one-at-a-time job). */
export const DISPATCH_LOCK_KEY = 0x0f_1d_6a_7e;

export type ApplyResult = 'applied' | 'duplicate';

async function inTransaction<T>(pool: Pool, work: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Applies an order once: its row, its effect and its shipment commit together or not at all. */
export async function applyOrder(pool: Pool, order: Order): Promise<ApplyResult> {
  return inTransaction(pool, async (c) => {
    const inserted = await c.query('INSERT INTO orders (order_id, sku, quantity, amount_cents) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING', [
      order.orderId,
      order.sku,
      order.quantity,
      order.amountCents,
    ]);
    if (inserted.rowCount === 0) return 'duplicate';
    await c.query('INSERT INTO order_effects (order_id, sku, quantity) VALUES ($1, $2, $3)', [order.orderId, order.sku, order.quantity]);
    await c.query('INSERT INTO shipments (order_id) VALUES ($1)', [order.orderId]);
    // The hot row last: its lock is held from here to COMMIT only, not through the rest of the work.
    await c.query('INSERT INTO stock (sku, reserved) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET reserved = stock.reserved + EXCLUDED.reserved', [order.sku, order.quantity]);
    return 'applied';
  });
}

export interface DispatchResult {
  /** False when another execution held the lock: the run was skipped, not waited for. */
  readonly ran: boolean;
  readonly claimed: number;
}

/** Claims up to `limit` pending shipments, one dispatcher at a time across all executions. */
export async function dispatchPending(pool: Pool, limit = 500): Promise<DispatchResult> {
  return inTransaction(pool, async (c) => {
    const lock = await c.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [DISPATCH_LOCK_KEY]);
    if (!lock.rows[0]?.locked) return { ran: false, claimed: 0 };
    const run = await c.query<{ id: string }>('INSERT INTO dispatch_runs (claimed) VALUES (0) RETURNING id');
    const runId = run.rows[0]!.id;
    const claimed = await c.query(
      `UPDATE shipments SET status = 'dispatched', dispatch_run = $1, dispatched_at = now()
        WHERE order_id IN (SELECT order_id FROM shipments WHERE status = 'pending' ORDER BY order_id LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING order_id`,
      [runId, limit],
    );
    await c.query('UPDATE dispatch_runs SET claimed = $2 WHERE id = $1', [runId, claimed.rowCount ?? 0]);
    return { ran: true, claimed: claimed.rowCount ?? 0 };
  });
}
