import type { Construct } from 'constructs';
import { TABLE_ATTRIBUTES } from './table-attributes';
import { KeyedTtlTable, type KeyedTtlTableProps } from './keyed-ttl-table';

/** Properties of an {@link IdempotencyTable}. */
export interface IdempotencyTableProps extends KeyedTtlTableProps {}

/**
 * Idempotency records: partition key `id`, TTL attribute `expiresAt` (epoch seconds), on-demand,
 * point-in-time recovery, encrypted. Names in `TABLE_ATTRIBUTES.idempotency`.
 */
export class IdempotencyTable extends KeyedTtlTable {
  constructor(scope: Construct, id: string, props: IdempotencyTableProps = {}) {
    super(scope, id, props, TABLE_ATTRIBUTES.idempotency);
  }
}
