/**
 * The orders consumer's pure core: what a message must look like, and how a PostgreSQL failure is
 * classified. No I/O here; store.ts runs the SQL, handler.ts wires both to @floodgate/runtime.
 */
import { PermanentError, RetryableError, type FloodgateError } from '@floodgate/runtime';
import { z } from 'zod';

/**
 * What an order message must look like. zod 4 implements Standard Schema: the handler passes it as
 * `schema` and the runtime turns a body that is not JSON, or not an order, into the permanent
 * `InvalidMessage` with a reason naming each failing field.
 */
export const OrderMessage = z.object({
  v: z.literal(1),
  /** The idempotency key: one order is applied once, however often its message is delivered. */
  orderId: z.string().min(1).max(128),
  sku: z.string().min(1).max(64),
  quantity: z.number().int().positive().max(10_000),
  amountCents: z.number().int().nonnegative(),
});
export type Order = z.infer<typeof OrderMessage>;

/** SQLSTATE too_many_connections: "sorry, too many clients already" and its reserved-slots variants. */
export const TOO_MANY_CONNECTIONS = '53300';

/** Node network errors that mean the server did not answer or dropped us. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/** True for the server refusing a connection because it has no slot left. */
export function isTooManyConnections(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === TOO_MANY_CONNECTIONS;
}

/**
 * A PostgreSQL (or network) error as a classified Floodgate error:
 * - 53300 too many connections -> retryable `TooManyConnections` (the database is full, not broken);
 * - 08xxx connection exceptions, 57P0x shutdown/crash recovery, network errors, connection timeouts ->
 *   retryable `DatabaseUnavailable`;
 * - 40001 serialization failure, 40P01 deadlock, 55P03 lock not available -> retryable `Contention`;
 * - 23xxx integrity violations -> permanent `OrderRejected` (e.g. the stock check): the same order fails the same way;
 * - 22xxx data exceptions -> permanent `InvalidMessage`;
 * - anything else is returned unchanged (the runtime retries unknown errors; redrive ends them).
 */
export function classifyPgError(err: unknown): FloodgateError | unknown {
  if (typeof err !== 'object' || err === null) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const message = (err as { message?: unknown }).message;
  const reason = `${code ? `${code} ` : ''}${typeof message === 'string' ? message : String(err)}`;
  if (code === TOO_MANY_CONNECTIONS) return new RetryableError('TooManyConnections', reason, { cause: err });
  if (code.startsWith('08') || code.startsWith('57P') || NETWORK_CODES.has(code) || /timeout exceeded when trying to connect|Connection terminated/i.test(reason)) {
    return new RetryableError('DatabaseUnavailable', reason, { cause: err });
  }
  if (code === '40001' || code === '40P01' || code === '55P03') return new RetryableError('Contention', reason, { cause: err });
  if (code.startsWith('23')) return new PermanentError('OrderRejected', reason, { cause: err });
  if (code.startsWith('22')) return new PermanentError('InvalidMessage', reason, { cause: err });
  return err;
}
