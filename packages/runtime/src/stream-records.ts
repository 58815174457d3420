/**
 * What the stream handler needs to know of a DynamoDB Streams or Kinesis record: its source, its
 * sequence number (the checkpoint Lambda is given back) and its partition key (the unit of order). Pure.
 *
 * Lambda delivers the records of one shard per batch, in sequence-number order; records with the same
 * partition key (Kinesis `partitionKey`, DynamoDB the item's `Keys`) are always in the same shard.
 */
import type { DynamoDBRecord, KinesisStreamRecord } from 'aws-lambda';

/** A record of a DynamoDB Streams or Kinesis Data Streams batch, as Lambda delivers it. */
export type StreamRecord = DynamoDBRecord | KinesisStreamRecord;

export type StreamSource = 'dynamodb' | 'kinesis';

export function isKinesisRecord(record: StreamRecord): record is KinesisStreamRecord {
  return (record as KinesisStreamRecord).kinesis !== undefined;
}

export function isDynamoDBRecord(record: StreamRecord): record is DynamoDBRecord {
  return (record as DynamoDBRecord).dynamodb !== undefined;
}

export function streamSourceOf(record: StreamRecord): StreamSource {
  if (isKinesisRecord(record)) return 'kinesis';
  if (isDynamoDBRecord(record)) return 'dynamodb';
  throw new Error(`not a DynamoDB Streams or Kinesis record (eventSource ${JSON.stringify((record as { eventSource?: unknown }).eventSource)})`);
}

/** The record's sequence number: what ReportBatchItemFailures takes as itemIdentifier. */
export function sequenceNumberOf(record: StreamRecord): string {
  const seq = isKinesisRecord(record) ? record.kinesis.sequenceNumber : record.dynamodb?.SequenceNumber;
  if (typeof seq !== 'string' || !/^\d+$/.test(seq)) {
    throw new Error(`stream record ${record.eventID ?? '(no eventID)'} has no decimal sequence number (got ${JSON.stringify(seq)})`);
  }
  return seq;
}

/** Orders decimal sequence numbers (they exceed 2^53: Kinesis's have 56 digits). */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The unit of order: Kinesis `partitionKey`; DynamoDB the item's primary key (`Keys`), the granularity at
 * which DynamoDB Streams keeps order. Key attributes are scalars (S, N or B); each becomes
 * `"name"T"value"` (JSON strings, so the pieces cannot run into each other), sorted by name, so equal keys
 * give equal strings whatever the attribute order in the record.
 */
export function partitionKeyOf(record: StreamRecord): string {
  if (isKinesisRecord(record)) return record.kinesis.partitionKey;
  const keys = record.dynamodb?.Keys;
  if (keys === undefined) throw new Error(`DynamoDB stream record ${record.eventID ?? '(no eventID)'} has no Keys`);
  const names = Object.keys(keys);
  if (names.length > 1) names.sort();
  let out = '';
  for (const name of names) {
    const v = keys[name]!;
    const [type, value] = v.S !== undefined ? ['S', v.S] : v.N !== undefined ? ['N', v.N] : v.B !== undefined ? ['B', v.B] : ['J', JSON.stringify(v)];
    out += `${JSON.stringify(name)}${type}${JSON.stringify(value)}`;
  }
  return out;
}

/** A Kinesis record's payload, decoded from base64. */
export function kinesisData(record: KinesisStreamRecord): Buffer {
  return Buffer.from(record.kinesis.data, 'base64');
}
