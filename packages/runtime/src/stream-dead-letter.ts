/**
 * Sending a stream record that failed permanently to the on-failure queue, with its class and reason.
 *
 * Lambda's own on-failure destination for a stream mapping receives only the batch's metadata (shard,
 * first and last sequence numbers) once retries are exhausted; the record itself must then be read back
 * from the stream before it expires. A permanent failure is sent by the handler at once, with the record
 * in the body, so nothing depends on the stream's retention and the shard is not held up by retries.
 */
import { createHash } from 'node:crypto';
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { ClassifiedFailure } from './errors.js';
import { isFifoQueue } from './dead-letter.js';
import { isKinesisRecord, partitionKeyOf, sequenceNumberOf, streamSourceOf, type StreamRecord } from './stream-records.js';

/** The attributes on every record the stream handler sends to its on-failure queue. */
export const STREAM_FAILURE_ATTRIBUTES = ['ErrorClass', 'ErrorKind', 'ErrorReason', 'FailedAt', 'EventSource', 'EventSourceARN', 'SequenceNumber', 'PartitionKey', 'BodyTruncated'] as const;

/**
 * Body size the handler sends at most (256 KiB: what every SQS queue accepts, whatever its
 * MaximumMessageSize). A larger record (a 1 MB Kinesis payload, two 400 KB DynamoDB images) is sent
 * without its payload (`kinesis.data`, `dynamodb.NewImage`/`OldImage`), with BodyTruncated=true: its
 * sequence number and key still say which record to read back.
 */
export const MAX_STREAM_FAILURE_BODY_BYTES = 256 * 1024;

export interface StreamFailureInput {
  QueueUrl: string;
  MessageBody: string;
  MessageAttributes: Record<string, MessageAttributeValue>;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

function withoutPayload(record: StreamRecord): StreamRecord {
  if (isKinesisRecord(record)) return { ...record, kinesis: { ...record.kinesis, data: '' } };
  const { NewImage: _n, OldImage: _o, ...rest } = record.dynamodb ?? {};
  return { ...record, dynamodb: rest };
}

/** Pure: the SendMessage input for a stream record that failed permanently. */
export function streamFailureMessage(record: StreamRecord, failure: ClassifiedFailure, options: { readonly queueUrl: string; readonly now: Date; readonly maxBodyBytes?: number }): StreamFailureInput {
  const max = options.maxBodyBytes ?? MAX_STREAM_FAILURE_BODY_BYTES;
  let body = JSON.stringify(record);
  let truncated = false;
  if (Buffer.byteLength(body) > max) {
    body = JSON.stringify(withoutPayload(record));
    truncated = true;
  }
  const str = (v: string): MessageAttributeValue => ({ DataType: 'String', StringValue: v.slice(0, 1024) || '(none)' });
  const sequenceNumber = sequenceNumberOf(record);
  const partitionKey = partitionKeyOf(record);
  const input: StreamFailureInput = {
    QueueUrl: options.queueUrl,
    MessageBody: body,
    MessageAttributes: {
      ErrorClass: str(failure.class),
      ErrorKind: str(failure.kind),
      ErrorReason: str(failure.reason),
      FailedAt: str(options.now.toISOString()),
      EventSource: str(streamSourceOf(record)),
      EventSourceARN: str(record.eventSourceARN ?? '(unknown)'),
      SequenceNumber: str(sequenceNumber),
      PartitionKey: str(partitionKey),
      BodyTruncated: str(String(truncated)),
    },
  };
  if (isFifoQueue(options.queueUrl)) {
    // One group per partition key keeps the key's order in the queue; the sequence number (unique in a
    // shard) makes a retried send a duplicate SQS drops.
    input.MessageGroupId = createHash('sha256').update(partitionKey).digest('hex').slice(0, 64);
    input.MessageDeduplicationId = createHash('sha256').update(`${record.eventSourceARN ?? ''} ${sequenceNumber}`).digest('hex');
  }
  return input;
}

export async function sendStreamFailure(sqs: SQSClient, input: StreamFailureInput, signal?: AbortSignal): Promise<void> {
  await sqs.send(new SendMessageCommand(input), { abortSignal: signal });
}
