/** The pure parts of the DynamoDB Streams poller (services/lambda/stream-batch.ts, stream-arn.ts). */
import { describe, expect, it } from 'vitest';
import { compileStreamFilter, laneOf, settleStreamBatch, streamFailureRecord, toStreamEventRecord } from '../src/services/lambda/stream-batch';
import { fromDdbLocal, toDdbLocal } from '../src/services/dynamodb/stream-arn';
import { FilterCriteriaError } from '../src/services/lambda/event-source-filter';
import { dynamodbAuthorizations } from '../src/gateway/iam/actions';
import { isStreamSource, streamMapping } from '../src/services/lambda/stream-mapping';

const seqs = ['100', '200', '300', '400'];

describe('settleStreamBatch (ReportBatchItemFailures on a stream)', () => {
  it('checkpoints at the lowest failed sequence number', () => {
    expect(settleStreamBatch(seqs, { ok: true, value: { batchItemFailures: [{ itemIdentifier: '400' }, { itemIdentifier: '200' }] } }, true)).toMatchObject({ done: 1, failed: true, functionError: false });
    expect(settleStreamBatch(seqs, { ok: true, value: { batchItemFailures: [] } }, true)).toEqual({ done: 4, failed: false, functionError: false });
    expect(settleStreamBatch(seqs, { ok: true, value: null }, true)).toEqual({ done: 4, failed: false, functionError: false });
  });
  it('a malformed response or an error fails the whole batch; without the setting any return succeeds', () => {
    for (const value of ['nope', { batchItemFailures: 'x' }, { batchItemFailures: [{ itemIdentifier: '' }] }, { batchItemFailures: [{ itemIdentifier: '999' }] }]) {
      expect(settleStreamBatch(seqs, { ok: true, value }, true)).toMatchObject({ done: 0, failed: true, functionError: true });
    }
    expect(settleStreamBatch(seqs, { ok: false, error: { errorType: 'Error', errorMessage: 'boom' } }, true)).toMatchObject({ done: 0, failed: true, functionError: true, reason: 'Error: boom' });
    expect(settleStreamBatch(seqs, { ok: true, value: { batchItemFailures: [{ itemIdentifier: '200' }] } }, false)).toMatchObject({ done: 4, failed: false });
  });
});

describe('laneOf', () => {
  it('puts one partition key in one lane, whatever the sort key, and spreads keys', () => {
    const lane = (pk: string, sk?: number) => laneOf({ pk: { S: pk }, ...(sk !== undefined ? { sk: { N: String(sk) } } : {}) }, 4, 'pk');
    for (const pk of ['a', 'b', 'c']) expect(new Set([1, 2, 3, 4, 5].map((sk) => lane(pk, sk))).size).toBe(1);
    expect(new Set(Array.from({ length: 40 }, (_, i) => lane(`k${i}`))).size).toBe(4);
    expect(laneOf({ pk: { S: 'a' } }, 1)).toBe(0);
  });
});

describe('records, filters and failure records', () => {
  const sdkRecord = {
    eventID: 'e1',
    eventName: 'MODIFY' as const,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'ddblocal',
    dynamodb: {
      ApproximateCreationDateTime: new Date('2026-01-02T03:04:00Z'),
      Keys: { pk: { S: 'a' } },
      NewImage: { pk: { S: 'a' }, status: { S: 'done' }, blob: { B: new Uint8Array([1, 2, 3]) }, nested: { M: { bs: { BS: [new Uint8Array([255])] } } } },
      OldImage: { pk: { S: 'a' }, status: { S: 'open' } },
      SequenceNumber: '300',
      SizeBytes: 42,
      StreamViewType: 'NEW_AND_OLD_IMAGES' as const,
    },
  };
  const arn = 'arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2026-01-01T00:00:00.000';

  it('delivers the record as Lambda does (epoch seconds, base64 binaries, the stack region and stream ARN)', () => {
    const r = toStreamEventRecord(sdkRecord as never, arn, 'us-east-1');
    expect(r).toMatchObject({ eventID: 'e1', eventName: 'MODIFY', eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'us-east-1', eventSourceARN: arn });
    expect(r.dynamodb!.ApproximateCreationDateTime).toBe(Date.parse('2026-01-02T03:04:00Z') / 1000);
    expect(r.dynamodb!.NewImage!.blob).toEqual({ B: 'AQID' });
    expect(r.dynamodb!.NewImage!.nested).toEqual({ M: { bs: { BS: ['/w=='] } } });
  });

  it('FilterCriteria match the delivered record with the one event-pattern matcher', () => {
    const r = toStreamEventRecord(sdkRecord as never, arn, 'us-east-1');
    expect(compileStreamFilter({ Filters: [{ Pattern: JSON.stringify({ eventName: ['MODIFY'], dynamodb: { NewImage: { status: { S: [{ prefix: 'do' }] } } } }) }] })!(r)).toBe(true);
    expect(compileStreamFilter({ Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'] }) }, { Pattern: JSON.stringify({ dynamodb: { OldImage: { status: { S: ['closed'] } } } }) }] })!(r)).toBe(false);
    expect(compileStreamFilter(undefined)).toBeUndefined();
    expect(() => compileStreamFilter({ Filters: [{ Pattern: '{' }] })).toThrow(FilterCriteriaError);
  });

  it('builds the OnFailure record AWS sends for a DynamoDB stream', () => {
    const r = toStreamEventRecord(sdkRecord as never, arn, 'us-east-1');
    const f = streamFailureRecord({ requestId: 'req', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3, functionError: true, shardId: 'shardId-1', streamArn: arn, records: [r, r], now: new Date('2026-01-02T03:05:00Z') });
    expect(f).toEqual({
      requestContext: { requestId: 'req', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-01-02T03:05:00.000Z',
      DDBStreamBatchInfo: { shardId: 'shardId-1', startSequenceNumber: '300', endSequenceNumber: '300', approximateArrivalOfFirstRecord: '2026-01-02T03:04:00Z', approximateArrivalOfLastRecord: '2026-01-02T03:04:00Z', batchSize: 2, streamArn: arn },
    });
  });

  it('maps stream ARNs and iterators between DynamoDB Local and the stack', () => {
    const local = 'arn:aws:dynamodb:ddblocal:000000000000:table/T/stream/L|001|abc';
    const mapped = fromDdbLocal(`{"StreamArn":"${local}","awsRegion":"ddblocal"}`, 'eu-west-1', '000000000000');
    expect(mapped).toBe('{"StreamArn":"arn:aws:dynamodb:eu-west-1:000000000000:table/T/stream/L|001|abc","awsRegion":"eu-west-1"}');
    expect(toDdbLocal(mapped, 'eu-west-1', '000000000000')).toBe(`{"StreamArn":"${local}","awsRegion":"eu-west-1"}`);
    expect(toDdbLocal('arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/L', 'us-east-1', '000000000000')).toBe('arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/L'); // moto's: untouched
  });
});

describe('IAM for the DynamoDB Streams API', () => {
  const req = (op: string, body: unknown) => ({ service: 'dynamodb' as const, method: 'POST', path: '/', query: '', headers: { 'x-amz-target': `DynamoDBStreams_20120810.${op}` }, body: Buffer.from(JSON.stringify(body)) });
  const ctx = { region: 'us-east-1', accountId: '000000000000' };
  const arn = 'arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/L';
  it('maps ListStreams to *, the others to the stream ARN (GetRecords through its iterator)', () => {
    expect(dynamodbAuthorizations(req('ListStreams', {}), ctx)).toEqual([{ action: 'dynamodb:ListStreams', resource: '*' }]);
    expect(dynamodbAuthorizations(req('DescribeStream', { StreamArn: arn }), ctx)).toEqual([{ action: 'dynamodb:DescribeStream', resource: arn }]);
    expect(dynamodbAuthorizations(req('GetShardIterator', { StreamArn: arn, ShardId: 's', ShardIteratorType: 'LATEST' }), ctx)).toEqual([{ action: 'dynamodb:GetShardIterator', resource: arn }]);
    expect(dynamodbAuthorizations(req('GetRecords', { ShardIterator: `${arn}|001|xyz` }), ctx)).toEqual([{ action: 'dynamodb:GetRecords', resource: arn }]);
    expect(() => dynamodbAuthorizations(req('DescribeStream', {}), ctx)).toThrow(/without StreamArn/);
  });
});

describe('stream mapping settings (as CreateEventSourceMapping checks them)', () => {
  const streamArn = 'arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/L';
  const resources = new Map<string, any>([
    ['T', { type: 'AWS::DynamoDB::Table', ref: 'T', attributes: { Arn: 'arn:aws:dynamodb:us-east-1:000000000000:table/T', StreamArn: streamArn } }],
    ['F', { type: 'AWS::Lambda::Function', ref: 'fn', attributes: { Arn: 'arn:aws:lambda:us-east-1:000000000000:function:fn' } }],
    ['Q', { type: 'AWS::SQS::Queue', ref: 'http://q/url', attributes: { Arn: 'arn:aws:sqs:us-east-1:000000000000:q' } }],
  ]);
  const base = { EventSourceArn: streamArn, FunctionName: 'fn', StartingPosition: 'TRIM_HORIZON' };
  it('reads the settings with AWS defaults', () => {
    expect(isStreamSource(streamArn, resources)).toBe(true);
    expect(isStreamSource('arn:aws:sqs:us-east-1:000000000000:q', resources)).toBe(false);
    expect(streamMapping('M', { ...base, DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:000000000000:q' } } }, resources)).toMatchObject({
      batchSize: 100, maximumBatchingWindowSeconds: 0, parallelizationFactor: 1, maximumRetryAttempts: -1, maximumRecordAgeSeconds: -1, bisectBatchOnFunctionError: false, reportBatchItemFailures: false,
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn', onFailure: { kind: 'sqs', queueUrl: 'http://q/url' },
    });
  });
  it('refuses what Lambda or the local stack cannot run, by name', () => {
    expect(() => streamMapping('M', { ...base, StartingPosition: 'AT_TIMESTAMP' }, resources)).toThrow(/StartingPosition/);
    expect(() => streamMapping('M', { ...base, ParallelizationFactor: 11 }, resources)).toThrow(/ParallelizationFactor must be 1..10/);
    expect(() => streamMapping('M', { ...base, MaximumRecordAgeInSeconds: 30 }, resources)).toThrow(/MaximumRecordAgeInSeconds/);
    expect(() => streamMapping('M', { ...base, TumblingWindowInSeconds: 60 }, resources)).toThrow(/tumbling windows/);
    expect(() => streamMapping('M', { ...base, DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:000000000000:other' } } }, resources)).toThrow(/not a queue or topic of this stack/);
  });
});
