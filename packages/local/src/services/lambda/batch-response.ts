/**
 * Lambda's SQS event source contract, as pure functions: how received messages become an SQSEvent, and
 * what a handler's outcome means for each message (delete it, or leave it to the visibility timeout).
 */
import type { SQSEvent, SQSRecord, SQSMessageAttributes } from 'aws-lambda';
import type { Message } from '@aws-sdk/client-sqs';

/** How the runner should settle a batch after the handler returned (or failed). */
export interface BatchSettlement {
  /** messageIds to delete (processed). */
  readonly succeeded: readonly string[];
  /** messageIds left to the visibility timeout (SQS redelivers them). */
  readonly failed: readonly string[];
  /** True when the whole batch counts as failed: error, timeout, crash or malformed response. */
  readonly wholeBatchFailed: boolean;
  /** Why the whole batch failed, or that some items were reported. */
  readonly reason?: string;
}

export type HandlerOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: { readonly errorType: string; readonly errorMessage: string } };

/**
 * The ReportBatchItemFailures rules (AWS docs, "Handling errors for an SQS event source"):
 * success = null/empty response or empty/null `batchItemFailures`; complete failure = a thrown error,
 * a response that is not a JSON object, a non-list `batchItemFailures`, or any entry whose
 * `itemIdentifier` is empty, not a string, or not a messageId of this batch. Without
 * ReportBatchItemFailures any successful return deletes the whole batch.
 */
export function settleBatch(messageIds: readonly string[], outcome: HandlerOutcome, reportBatchItemFailures: boolean): BatchSettlement {
  const all = [...messageIds];
  const failAll = (reason: string): BatchSettlement => ({ succeeded: [], failed: all, wholeBatchFailed: true, reason });
  if (!outcome.ok) return failAll(`${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  if (!reportBatchItemFailures) return { succeeded: all, failed: [], wholeBatchFailed: false };
  const v = outcome.value;
  if (v === null || v === undefined) return { succeeded: all, failed: [], wholeBatchFailed: false };
  if (typeof v !== 'object' || Array.isArray(v)) return failAll(`malformed response: expected an object, got ${JSON.stringify(v)?.slice(0, 100)}`);
  const items = (v as { batchItemFailures?: unknown }).batchItemFailures;
  if (items === null || items === undefined) return { succeeded: all, failed: [], wholeBatchFailed: false };
  if (!Array.isArray(items)) return failAll('malformed response: batchItemFailures is not a list');
  const known = new Set(all);
  const failed = new Set<string>();
  for (const item of items) {
    const id = typeof item === 'object' && item !== null ? (item as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '') return failAll(`malformed response: itemIdentifier ${JSON.stringify(id)} is not a non-empty string`);
    if (!known.has(id)) return failAll(`malformed response: itemIdentifier "${id}" is not a message of this batch`);
    failed.add(id);
  }
  return {
    succeeded: all.filter((id) => !failed.has(id)),
    failed: all.filter((id) => failed.has(id)),
    wholeBatchFailed: false,
    ...(failed.size > 0 ? { reason: `${failed.size} item failure(s) reported` } : {}),
  };
}

/** An SQS message (ReceiveMessage with all attributes) as the record Lambda would deliver. */
export function toSqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const attrs = m.Attributes ?? {};
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, a] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: a.DataType ?? 'String',
      ...(a.StringValue !== undefined ? { stringValue: a.StringValue } : {}),
      ...(a.BinaryValue !== undefined ? { binaryValue: Buffer.from(a.BinaryValue).toString('base64') } : {}),
      stringListValues: a.StringListValues ?? [],
      binaryListValues: (a.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    };
  }
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attrs.ApproximateReceiveCount ?? '1',
      SentTimestamp: attrs.SentTimestamp ?? String(Date.now()),
      SenderId: attrs.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attrs.MessageGroupId !== undefined ? { MessageGroupId: attrs.MessageGroupId } : {}),
      ...(attrs.MessageDeduplicationId !== undefined ? { MessageDeduplicationId: attrs.MessageDeduplicationId } : {}),
      ...(attrs.SequenceNumber !== undefined ? { SequenceNumber: attrs.SequenceNumber } : {}),
    },
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function toSqsEvent(messages: readonly Message[], queueArn: string, region: string): SQSEvent {
  return { Records: messages.map((m) => toSqsRecord(m, queueArn, region)) };
}
