/**
 * The job record IS the idempotency claim: one item in the jobs table (partition key `jobId`), claimed and
 * completed through the one generic persistence of @floodgate/runtime/idempotency. The claim moves the
 * record to `processing` and takes the fence (ADD fence 1) in ONE conditional UpdateItem; the completion,
 * conditioned on owner + fence, writes `completed` and the renditions in a second one. Happy path: 2
 * DynamoDB requests, 2 write units (the item stays under 1 KB: see test/lambda/jobs-table.test.ts).
 * A record the job API wrote `queued` (no payload hash yet) is claimable; a released claim goes back to
 * `queued`. Records never expire (GET /jobs/{id} keeps answering), so no TTL is written.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { N, S, type Item } from '@floodgate/runtime';
import { IdempotencyStore } from '@floodgate/runtime/idempotency';
import { TABLE_ATTRIBUTES } from '../shared/contract';
import type { JobStatus, RenditionRecord } from '../shared/job-record';

/** The claim states as the job record names them. */
export const JOB_CLAIM_STATUS = { in_progress: 'processing', released: 'queued', completed: 'completed', failed: 'failed' } as const satisfies Record<string, JobStatus>;

export function createJobsStore(client: DynamoDBClient, tableName: string, now: () => number = Date.now): IdempotencyStore {
  return new IdempotencyStore({ client, tableName, keyAttribute: TABLE_ATTRIBUTES.jobs.partitionKey, statusValues: JOB_CLAIM_STATUS, recordTtlSeconds: null, now });
}

export function renditionList(renditions: readonly RenditionRecord[]): AttributeValue {
  return { L: renditions.map((r) => ({ M: { name: S(r.name), key: S(r.key), width: N(r.width), height: N(r.height), bytes: N(r.bytes), format: S(r.format) } })) };
}

/** What the claim writes beside the claim itself: the record is created if the producer wrote none. */
export function claimAttributes(sourceKey: string, nowMs: number): { set: Item; setIfAbsent: Item } {
  const stamp = S(new Date(nowMs).toISOString());
  return { set: { updatedAt: stamp }, setIfAbsent: { sourceKey: S(sourceKey), createdAt: stamp } };
}

/** What the completion writes: the result every replay reads back. */
export function completionAttributes(renditions: readonly RenditionRecord[], nowMs: number): Item {
  return { renditions: renditionList(renditions), updatedAt: S(new Date(nowMs).toISOString()) };
}

/**
 * DynamoDB's item size (what write units are billed on): attribute name lengths plus value sizes, UTF-8;
 * numbers ~ 1 byte per 2 significant digits + 1; 3 bytes per list or map plus 1 per element.
 */
export function dynamoItemBytes(item: Item): number {
  const value = (v: AttributeValue): number => {
    if ('S' in v && v.S !== undefined) return Buffer.byteLength(v.S, 'utf8');
    if ('N' in v && v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
    if ('B' in v && v.B !== undefined) return v.B.byteLength;
    if ('BOOL' in v || 'NULL' in v) return 1;
    if ('L' in v && v.L !== undefined) return 3 + v.L.reduce((a, x) => a + 1 + value(x), 0);
    if ('M' in v && v.M !== undefined) return 3 + Object.entries(v.M).reduce((a, [k, x]) => a + 1 + Buffer.byteLength(k, 'utf8') + value(x), 0);
    if ('SS' in v && v.SS !== undefined) return v.SS.reduce((a, s) => a + Buffer.byteLength(s, 'utf8'), 0);
    return 0;
  };
  return Object.entries(item).reduce((a, [k, v]) => a + Buffer.byteLength(k, 'utf8') + value(v), 0);
}
