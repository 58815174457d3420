import type { Construct } from 'constructs';
import { TABLE_ATTRIBUTES } from './table-attributes';
import { KeyedTtlTable, type KeyedTtlTableProps } from './keyed-ttl-table';

/** Properties of a {@link LockTable}. */
export interface LockTableProps extends KeyedTtlTableProps {}

/**
 * Lease locks: partition key `lockKey`, TTL attribute `expiresAt` (epoch seconds; TTL only garbage-collects
 * long-dead leases, expiry itself is decided by the lease time in the item), on-demand, point-in-time
 * recovery, encrypted. Names in `TABLE_ATTRIBUTES.locks`.
 */
export class LockTable extends KeyedTtlTable {
  constructor(scope: Construct, id: string, props: LockTableProps = {}) {
    super(scope, id, props, TABLE_ATTRIBUTES.locks);
  }
}
