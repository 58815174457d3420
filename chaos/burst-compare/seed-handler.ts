/**
 * The consumer as the seed's article writes it, for the comparison runs only (not an example to copy):
 * every record of the batch at once (`Promise.all`), each with its own `pg.Client`, and no idempotency
 * (an upsert of the order row, then the effect applied again on every delivery). Any failure throws, so
 * the whole batch is retried, records that had committed included.
 *
 * Instrumented like the Floodgate handler: the server's "too many clients" refusals (SQLSTATE 53300) it
 * met are published as the EMF metric RefusedConnections, which the comparison run collects.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSEvent } from 'aws-lambda';
import pg from 'pg';

const metrics = new Metrics({ namespace: 'FloodgateCompare', serviceName: 'orders-seed' });

export const handler = async (event: SQSEvent): Promise<void> => {
  let refused = 0;
  let applied = 0;
  try {
    await Promise.all(
      event.Records.map(async (record) => {
        const order = JSON.parse(record.body) as { orderId: string; sku: string; quantity: number; amountCents: number };
        const client = new pg.Client({ connectionString: process.env.ORDERS_DATABASE_URL });
        try {
          await client.connect();
        } catch (err) {
          if ((err as { code?: string }).code === '53300') refused++;
          throw err;
        }
        try {
          await client.query('BEGIN');
          await client.query(
            'INSERT INTO orders (order_id, sku, quantity, amount_cents) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO UPDATE SET applied_at = now()',
            [order.orderId, order.sku, order.quantity, order.amountCents],
          );
          await client.query('INSERT INTO order_effects (order_id, sku, quantity) VALUES ($1, $2, $3)', [order.orderId, order.sku, order.quantity]);
          await client.query('INSERT INTO stock (sku, reserved) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET reserved = stock.reserved + EXCLUDED.reserved', [order.sku, order.quantity]);
          await client.query('COMMIT');
          applied++;
        } finally {
          await client.end().catch(() => undefined);
        }
      }),
    );
  } finally {
    metrics.addMetric('RefusedConnections', MetricUnit.Count, refused);
    metrics.addMetric('OrdersApplied', MetricUnit.Count, applied);
    metrics.publishStoredMetrics();
  }
};
