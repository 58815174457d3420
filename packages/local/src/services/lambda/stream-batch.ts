/**
 * Lambda's DynamoDB Streams event source contract, as pure functions: a stream record as the function
 * receives it, which lane of a shard a record belongs to (ParallelizationFactor), what a handler's
 * outcome checkpoints (ReportBatchItemFailures), and the on-failure record Lambda sends
 * (AWS docs "Retaining discarded records for a DynamoDB event source").
 */
import { createHash } from 'node:crypto';
import type { AttributeValue as StreamAttributeValue, _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as EventAttributeValue, DynamoDBRecord } from 'aws-lambda';
import { settleBatch, type HandlerOutcome } from './batch-response.js';
import { compileEventPattern, parseFilterPatterns, type FilterCriteria } from './event-source-filter.js';

/** An SDK attribute value as the event carries it (binary as base64, as on the wire). */
function wireValue(v: StreamAttributeValue): EventAttributeValue {
  if (v.B !== undefined) return { B: Buffer.from(v.B).toString('base64') };
  if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (v.M !== undefined) return { M: wireImage(v.M) ?? {} };
  if (v.L !== undefined) return { L: v.L.map(wireValue) };
  return v as EventAttributeValue;
}

function wireImage(image: Record<string, StreamAttributeValue> | undefined): Record<string, EventAttributeValue> | undefined {
  if (image === undefined) return undefined;
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, wireValue(v)]));
}

/** A GetRecords record as Lambda delivers it (ApproximateCreationDateTime in epoch seconds, as on the wire). */
export function toStreamEventRecord(r: SdkStreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  const created = d.ApproximateCreationDateTime;
  const keys = wireImage(d.Keys);
  const newImage = wireImage(d.NewImage);
  const oldImage = wireImage(d.OldImage);
  return {
    eventID: r.eventID ?? '',
    eventName: r.eventName as DynamoDBRecord['eventName'],
    eventVersion: '1.1', // what Lambda delivers (moto's GetRecords says 1.0)
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb: {
      ...(created !== undefined ? { ApproximateCreationDateTime: Math.floor(new Date(created).getTime() / 1000) } : {}),
      ...(keys ? { Keys: keys } : {}),
      ...(newImage ? { NewImage: newImage } : {}),
      ...(oldImage ? { OldImage: oldImage } : {}),
      ...(d.SequenceNumber !== undefined ? { SequenceNumber: d.SequenceNumber } : {}),
      ...(d.SizeBytes !== undefined ? { SizeBytes: d.SizeBytes } : {}),
      ...(d.StreamViewType !== undefined ? { StreamViewType: d.StreamViewType } : {}),
    },
    eventSourceARN: streamArn,
    ...(r.userIdentity ? { userIdentity: r.userIdentity } : {}),
  } as DynamoDBRecord;
}

/**
 * The lane (0..factor-1) of a record's partition key: records of one key always share a lane, so their
 * order holds whatever runs in the other lanes. The key is the table's partition (HASH) key attribute
 * when known (so items sharing it, with different sort keys, keep their order too), else all of Keys.
 */
export function laneOf(keys: Readonly<Record<string, unknown>> | undefined, factor: number, hashKey?: string): number {
  if (factor <= 1) return 0;
  const k = keys ?? {};
  const names = hashKey !== undefined && hashKey in k ? [hashKey] : Object.keys(k).sort();
  const canonical = JSON.stringify(names.map((n) => [n, k[n]]));
  return createHash('sha1').update(canonical).digest().readUInt32BE(0) % factor;
}

/**
 * FilterCriteria for stream records: each Pattern (the one event-pattern matcher) applies to the record
 * as delivered (`eventName`, `dynamodb.NewImage.status.S`, ...). Undefined when there are no filters.
 */
export function compileStreamFilter(criteria: FilterCriteria | undefined, where = 'FilterCriteria'): ((record: DynamoDBRecord) => boolean) | undefined {
  const patterns = parseFilterPatterns(criteria, where);
  if (patterns === undefined) return undefined;
  const matchers = patterns.map(({ pattern, at }) => compileEventPattern(pattern, at));
  return (record) => matchers.some((m) => m(record));
}

/** What an invocation checkpoints in a batch of a shard's lane. */
export interface StreamSettlement {
  /** Records from the start of the batch that are done (the checkpoint moves past them). */
  readonly done: number;
  /** True when records from `done` on failed (to be retried, bisected or discarded). */
  readonly failed: boolean;
  /** True when the whole invocation failed (error, timeout, crash, malformed response). */
  readonly functionError: boolean;
  readonly reason?: string;
}

/**
 * ReportBatchItemFailures for streams: `itemIdentifier` is a SequenceNumber; the checkpoint is the lowest
 * failed one, and every record from there on is retried. A malformed response (not an object, a
 * non-list batchItemFailures, an empty or unknown itemIdentifier) fails the whole batch, as Lambda does.
 */
export function settleStreamBatch(sequenceNumbers: readonly string[], outcome: HandlerOutcome, reportBatchItemFailures: boolean): StreamSettlement {
  const s = settleBatch(sequenceNumbers, outcome, reportBatchItemFailures);
  if (s.wholeBatchFailed) return { done: 0, failed: true, functionError: true, ...(s.reason ? { reason: s.reason } : {}) };
  if (s.failed.length === 0) return { done: sequenceNumbers.length, failed: false, functionError: false };
  const failed = new Set(s.failed);
  const first = sequenceNumbers.findIndex((q) => failed.has(q));
  return { done: first, failed: true, functionError: false, reason: `checkpoint at ${sequenceNumbers[first]} (${failed.size} item failure(s) reported)` };
}

export type DiscardCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

export interface FailureRecordInput {
  readonly requestId: string;
  readonly functionArn: string;
  readonly condition: DiscardCondition;
  readonly approximateInvokeCount: number;
  /** The last invocation's error, when it failed as a whole (functionError "Unhandled"). */
  readonly functionError: boolean;
  readonly shardId: string;
  readonly streamArn: string;
  readonly records: readonly DynamoDBRecord[];
  readonly now?: Date;
}

const arrival = (r: DynamoDBRecord | undefined): string | undefined =>
  r?.dynamodb?.ApproximateCreationDateTime !== undefined ? new Date(r.dynamodb.ApproximateCreationDateTime * 1000).toISOString().replace(/\.000Z$/, 'Z') : undefined;

/** The record Lambda sends to a stream mapping's OnFailure destination (the records themselves are not in it). */
export function streamFailureRecord(i: FailureRecordInput): Record<string, unknown> {
  const first = i.records[0];
  const last = i.records[i.records.length - 1];
  return {
    requestContext: { requestId: i.requestId, functionArn: i.functionArn, condition: i.condition, approximateInvokeCount: i.approximateInvokeCount },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', ...(i.functionError ? { functionError: 'Unhandled' } : {}) },
    version: '1.0',
    timestamp: (i.now ?? new Date()).toISOString(),
    DDBStreamBatchInfo: {
      shardId: i.shardId,
      startSequenceNumber: first?.dynamodb?.SequenceNumber,
      endSequenceNumber: last?.dynamodb?.SequenceNumber,
      approximateArrivalOfFirstRecord: arrival(first),
      approximateArrivalOfLastRecord: arrival(last),
      batchSize: i.records.length,
      streamArn: i.streamArn,
    },
  };
}
