/**
 * Dead-lettering permanent failures from the handler itself: retrying them cannot help, so the message
 * goes to the DLQ at once with the reason, instead of burning maxReceiveCount receives first.
 *
 * The runtime's attributes (DLQ_ATTRIBUTES) say why and when; an application adds its own (a job id, a
 * tenant) through `extraAttributes`; the message's original attributes fill what is left of SQS's 10.
 */
import { createHash } from 'node:crypto';
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { DLQ_ATTRIBUTES } from '@floodgate/contract';
import type { ClassifiedFailure } from './errors.js';

/** SQS allows at most 10 message attributes; ours come first, the app's next, the original ones fill the rest. */
export const MAX_MESSAGE_ATTRIBUTES = 10;
/** The attributes the runtime writes on every dead-lettered message (defined once in @floodgate/contract). */
export { DLQ_ATTRIBUTES };
/** How many attributes an application may add (`extraAttributes`) next to the runtime's. */
export const MAX_EXTRA_DLQ_ATTRIBUTES = MAX_MESSAGE_ATTRIBUTES - DLQ_ATTRIBUTES.length;

/** SQS's receive count of a record (1 on the first delivery). */
export function receiveCount(record: SQSRecord): number {
  return Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
}

/**
 * The id of the message a redriven record is a copy of, or undefined for any other record.
 *
 * A message the runtime dead-lettered carries ErrorClass, ErrorKind and SourceMessageId (deadLetterMessage).
 * SQS keeps message attributes when a message is moved back from the DLQ (StartMessageMoveTask, or the
 * console's "start DLQ redrive"), and `npm run dlq -- redrive <id>` sends them back too; so a record
 * carrying them is a redrive of the message SourceMessageId names. The idempotency record of a key that
 * failed permanently stores that same id (`deadLetteredMessageId`), and only a copy of that message may
 * claim the failed key again: a plain duplicate (no attributes) and a second delivery of an already
 * redriven copy (its id is not the stored one once it was tried again) are still skipped.
 */
export function redrivenFrom(record: SQSRecord): string | undefined {
  const attrs = record.messageAttributes ?? {};
  const source = attrs['SourceMessageId']?.stringValue;
  if (!source || attrs['ErrorClass']?.stringValue === undefined || attrs['ErrorKind']?.stringValue === undefined) return undefined;
  return source;
}

/** A FIFO queue's URL (and ARN) ends with `.fifo`. */
export function isFifoQueue(urlOrArn: string): boolean {
  return urlOrArn.endsWith('.fifo');
}

export interface DeadLetterOptions {
  readonly queueUrl: string;
  readonly now: Date;
  /** The source queue's maxReceiveCount, reported in ReceiveCount. */
  readonly maxReceiveCount?: number;
  /** Application attributes (String), at most MAX_EXTRA_DLQ_ATTRIBUTES; names of the runtime's own are refused. */
  readonly extraAttributes?: Readonly<Record<string, string>>;
}

export interface DeadLetterInput {
  QueueUrl: string;
  MessageBody: string;
  MessageAttributes: Record<string, MessageAttributeValue>;
  /** FIFO DLQ only: the source message's group, so the DLQ keeps the group's order. */
  MessageGroupId?: string;
  /** FIFO DLQ only: derived from the source message id, so a retried send is not duplicated. */
  MessageDeduplicationId?: string;
}

/** Pure: the SendMessage input for a permanently failed (or, on its last receive, exhausted) record. */
export function deadLetterMessage(record: SQSRecord, failure: ClassifiedFailure, options: DeadLetterOptions): DeadLetterInput {
  const str = (v: string): MessageAttributeValue => ({ DataType: 'String', StringValue: v });
  const original = record.messageAttributes ?? {};
  // A redriven message keeps its first failure time.
  const firstFailureAt = original['FirstFailureAt']?.stringValue ?? options.now.toISOString();
  const attrs: Record<string, MessageAttributeValue> = {
    ErrorClass: str(failure.class),
    ErrorKind: str(failure.kind),
    ErrorReason: str(failure.reason.slice(0, 1024) || '(none)'),
    FirstFailureAt: str(firstFailureAt),
    SourceMessageId: str(record.messageId),
    // "receives/maxReceiveCount": how many attempts the message had when it was dead-lettered.
    ReceiveCount: str(`${record.attributes?.ApproximateReceiveCount ?? '?'}/${options.maxReceiveCount ?? '?'}`),
  };
  const extra = Object.entries(options.extraAttributes ?? {});
  if (extra.length > MAX_EXTRA_DLQ_ATTRIBUTES) {
    throw new Error(`at most ${MAX_EXTRA_DLQ_ATTRIBUTES} extra dead-letter attributes fit next to the runtime's ${DLQ_ATTRIBUTES.length}; got ${extra.length}`);
  }
  for (const [name, value] of extra) {
    if (name in attrs) throw new Error(`dead-letter attribute ${name} is the runtime's own; choose another name`);
    // SQS rejects empty attribute values.
    attrs[name] = str(value === '' ? '(empty)' : value.slice(0, 1024));
  }
  for (const [name, value] of Object.entries(original)) {
    if (Object.keys(attrs).length >= MAX_MESSAGE_ATTRIBUTES) break;
    if (name in attrs || !value.dataType) continue;
    if (value.stringValue !== undefined) attrs[name] = { DataType: value.dataType, StringValue: value.stringValue };
    else if (value.binaryValue !== undefined) attrs[name] = { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') };
  }
  // SQS rejects empty bodies; an empty message is dead-lettered as a single space.
  const input: DeadLetterInput = { QueueUrl: options.queueUrl, MessageBody: record.body.length > 0 ? record.body : ' ', MessageAttributes: attrs };
  if (isFifoQueue(options.queueUrl)) {
    // A FIFO queue requires a group id on every message; without a content-based dedup setting also a
    // dedup id. The source's message id is unique per message and stable across retries of this send.
    input.MessageGroupId = record.attributes?.MessageGroupId ?? record.messageId;
    input.MessageDeduplicationId = record.messageId.length <= 128 && /^[\x21-\x7e]+$/.test(record.messageId)
      ? record.messageId
      : createHash('sha256').update(record.messageId).digest('hex');
  }
  return input;
}

export async function sendToDeadLetterQueue(sqs: SQSClient, input: DeadLetterInput, signal?: AbortSignal): Promise<void> {
  await sqs.send(new SendMessageCommand(input), { abortSignal: signal });
}
