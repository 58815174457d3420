/**
 * DynamoDB Streams and Kinesis events shaped exactly as Lambda delivers them (see fixtures/*.json, the
 * shapes of AWS's documented sample events), for any keys: one shard, ascending sequence numbers of the
 * real lengths (DynamoDB 21+ digits, Kinesis 56), so they exceed Number's exact range as the real ones do.
 */
import type { DynamoDBRecord, DynamoDBStreamEvent, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

const DDB_STREAM_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-12-01T00:00:00.000';
const KINESIS_ARN = 'arn:aws:kinesis:us-east-2:123456789012:stream/telemetry';

/** Sequence number `i` of a shard: decimal, `digits` long, ascending in i. */
export function sequenceNumber(i: number, digits: number, base = '44215845'): string {
  return base + String(1_000_000 + i).padStart(digits - base.length, '0');
}

export function ddbRecord(key: string, i: number, eventName: 'INSERT' | 'MODIFY' | 'REMOVE' = 'MODIFY'): DynamoDBRecord {
  const keys = { pk: { S: key }, sk: { N: '1' } };
  const image = { ...keys, version: { N: String(i) }, status: { S: 'paid' } };
  return {
    eventID: `e${i.toString(16).padStart(31, '0')}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: 1_764_997_200 + i,
      Keys: keys,
      ...(eventName !== 'REMOVE' ? { NewImage: image } : {}),
      ...(eventName !== 'INSERT' ? { OldImage: { ...image, version: { N: String(i - 1) } } } : {}),
      SequenceNumber: sequenceNumber(i, 28),
      SizeBytes: 120,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: DDB_STREAM_ARN,
  };
}

export function ddbEvent(keys: readonly string[], from = 0): DynamoDBStreamEvent {
  return { Records: keys.map((k, j) => ddbRecord(k, from + j)) };
}

export function kinesisRecord(key: string, i: number): KinesisStreamRecord {
  const seq = sequenceNumber(i, 56, '4959033827149025660855969253');
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: key,
      sequenceNumber: seq,
      data: Buffer.from(JSON.stringify({ key, i })).toString('base64'),
      approximateArrivalTimestamp: 1_764_997_200 + i / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000006:${seq}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'us-east-2',
    eventSourceARN: KINESIS_ARN,
  };
}

export function kinesisEvent(keys: readonly string[], from = 0): KinesisStreamEvent {
  return { Records: keys.map((k, j) => kinesisRecord(k, from + j)) };
}
