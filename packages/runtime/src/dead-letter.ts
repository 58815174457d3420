/**
 * Dead-lettering permanent failures from the handler itself: retrying them cannot help, so the message
 * goes to the DLQ at once with the reason, instead of burning maxReceiveCount receives first.
 */
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { ClassifiedFailure } from './errors.js';

/** SQS allows at most 10 message attributes; ours come first, the original ones fill the rest. */
export const MAX_MESSAGE_ATTRIBUTES = 10;
export const DLQ_ATTRIBUTES = ['ErrorClass', 'ErrorKind', 'ErrorReason', 'JobId', 'FirstFailureAt', 'SourceMessageId', 'ReceiveCount'] as const;

/** Best effort jobId of an invalid message (for the JobId attribute). */
export function sniffJobId(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { jobId?: unknown };
    return typeof j.jobId === 'string' && j.jobId.length > 0 && j.jobId.length <= 256 ? j.jobId : undefined;
  } catch {
    return undefined;
  }
}

/** SQS's receive count of a record (1 on the first delivery). */
export function receiveCount(record: SQSRecord): number {
  return Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
}

/** Pure: the SendMessage input for a permanently failed (or, on its last receive, exhausted) record. */
export function deadLetterMessage(record: SQSRecord, failure: ClassifiedFailure, queueUrl: string, now: Date, jobId?: string, maxReceiveCount?: number): {
  QueueUrl: string;
  MessageBody: string;
  MessageAttributes: Record<string, MessageAttributeValue>;
} {
  const str = (v: string): MessageAttributeValue => ({ DataType: 'String', StringValue: v });
  const original = record.messageAttributes ?? {};
  // A redriven message keeps its first failure time.
  const firstFailureAt = original['FirstFailureAt']?.stringValue ?? now.toISOString();
  const attrs: Record<string, MessageAttributeValue> = {
    ErrorClass: str(failure.class),
    ErrorKind: str(failure.kind),
    ErrorReason: str(failure.reason.slice(0, 1024) || '(none)'),
    JobId: str(jobId ?? sniffJobId(record.body) ?? '(unknown)'),
    FirstFailureAt: str(firstFailureAt),
    SourceMessageId: str(record.messageId),
    // "receives/maxReceiveCount": how many attempts the message had when it was dead-lettered.
    ReceiveCount: str(`${record.attributes?.ApproximateReceiveCount ?? '?'}/${maxReceiveCount ?? '?'}`),
  };
  for (const [name, value] of Object.entries(original)) {
    if (Object.keys(attrs).length >= MAX_MESSAGE_ATTRIBUTES) break;
    if (name in attrs || !value.dataType) continue;
    if (value.stringValue !== undefined) attrs[name] = { DataType: value.dataType, StringValue: value.stringValue };
    else if (value.binaryValue !== undefined) attrs[name] = { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') };
  }
  // SQS rejects empty bodies; an empty message is dead-lettered as a single space.
  return { QueueUrl: queueUrl, MessageBody: record.body.length > 0 ? record.body : ' ', MessageAttributes: attrs };
}

export async function sendToDeadLetterQueue(sqs: SQSClient, input: ReturnType<typeof deadLetterMessage>, signal?: AbortSignal): Promise<void> {
  await sqs.send(new SendMessageCommand(input), { abortSignal: signal });
}
