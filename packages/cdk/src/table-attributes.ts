/** Key and TTL attribute names of the tables; TTL attributes hold epoch SECONDS. */
export const TABLE_ATTRIBUTES = {
  idempotency: { partitionKey: 'id', ttl: 'expiresAt' },
  locks: { partitionKey: 'lockKey', ttl: 'expiresAt' },
} as const;
