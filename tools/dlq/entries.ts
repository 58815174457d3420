/**
 * Pure core of the DLQ tool: turns dead-lettered SQS messages into classified entries, groups them by
 * error class, and decides what may be redriven. No I/O here; tools/dlq/dlq-client.ts does the SQS calls.
 */
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { ErrorClass, FailureKind, PermanentErrorClass } from '@floodgate/runtime';

/**
 * Message attributes the image worker sets when it dead-letters a permanent failure itself
 * (lambda/runtime; names fixed by issue 3). Messages that SQS moved after maxReceiveCount have none.
 */
export const DLQ_ATTRIBUTE_NAMES = {
  errorClass: 'ErrorClass',
  errorKind: 'ErrorKind',
  errorReason: 'ErrorReason',
  jobId: 'JobId',
  firstFailureAt: 'FirstFailureAt',
} as const;

/** Attributes the DLQ tool adds when it redrives a message (so a loop of redrives is visible). */
export const REDRIVE_COUNT_ATTRIBUTE = 'FloodgateRedriveCount';

/** Class shown for messages that reached the DLQ through the queue's redrive policy (no attributes). */
export const RETRIES_EXHAUSTED = 'RetriesExhausted';

const PERMANENT_CLASSES: ReadonlySet<string> = new Set<PermanentErrorClass>([
  'InvalidMessage',
  'InvalidKey',
  'SourceNotFound',
  'UnsupportedFormat',
  'CorruptImage',
  'TooLarge',
  'ImageTimeout',
  'PayloadMismatch',
  'AccessDenied', // the runtime's: a missing grant; redrive after fixing it
]);

/** How a message got to the DLQ: sent by the handler (permanent or retryable) or moved by SQS redrive. */
export type DlqEntryKind = FailureKind | 'exhausted';

export interface DlqEntry {
  readonly messageId: string;
  readonly body: string;
  /** `ErrorClass` attribute, or RETRIES_EXHAUSTED when SQS moved the message after maxReceiveCount. */
  readonly errorClass: ErrorClass | typeof RETRIES_EXHAUSTED | string;
  readonly kind: DlqEntryKind;
  readonly reason: string;
  /** From the JobId attribute, else from the body when it is a JSON object with a string jobId. */
  readonly jobId?: string;
  readonly firstFailureAt?: string;
  /** When the message was sent to the DLQ (SQS SentTimestamp), ISO 8601. */
  readonly sentAt?: string;
  readonly receiveCount?: number;
  readonly redriveCount: number;
  /** All message attributes, verbatim (what a redrive sends back). */
  readonly attributes: Record<string, MessageAttributeValue>;
  /** FIFO only. */
  readonly messageGroupId?: string;
  readonly messageDeduplicationId?: string;
}

function stringAttr(m: Message, name: string): string | undefined {
  const v = m.MessageAttributes?.[name];
  return v?.DataType === 'Number' || v?.DataType?.startsWith('String') ? v.StringValue : undefined;
}

function jobIdFromBody(body: string): string | undefined {
  try {
    const json: unknown = JSON.parse(body);
    if (typeof json === 'object' && json !== null && 'jobId' in json && typeof json.jobId === 'string') {
      return json.jobId;
    }
  } catch {
    // Not JSON: an invalid message; it has no job id to show.
  }
  return undefined;
}

function isoFromEpochMs(v: string | undefined): string | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return new Date(Number(v)).toISOString();
}

/** Classifies one received DLQ message. */
export function toDlqEntry(m: Message): DlqEntry {
  if (m.MessageId === undefined) throw new Error('SQS returned a message without MessageId');
  const body = m.Body ?? '';
  const errorClass = stringAttr(m, DLQ_ATTRIBUTE_NAMES.errorClass);
  const errorKind = stringAttr(m, DLQ_ATTRIBUTE_NAMES.errorKind);
  const receiveCount = m.Attributes?.ApproximateReceiveCount;
  let kind: DlqEntryKind;
  if (errorClass === undefined) kind = 'exhausted';
  else if (errorKind === 'permanent' || errorKind === 'retryable') kind = errorKind;
  // A handler that set a class but no kind: trust the shared taxonomy.
  else kind = PERMANENT_CLASSES.has(errorClass) ? 'permanent' : 'retryable';
  const redrives = Number(stringAttr(m, REDRIVE_COUNT_ATTRIBUTE) ?? '0');
  return {
    messageId: m.MessageId,
    body,
    errorClass: errorClass ?? RETRIES_EXHAUSTED,
    kind,
    reason:
      stringAttr(m, DLQ_ATTRIBUTE_NAMES.errorReason) ??
      (errorClass === undefined
        ? 'retries exhausted: SQS moved the message after maxReceiveCount receives (crashes, timeouts or retryable errors)'
        : '(no reason given)'),
    jobId: stringAttr(m, DLQ_ATTRIBUTE_NAMES.jobId) ?? jobIdFromBody(body),
    firstFailureAt: stringAttr(m, DLQ_ATTRIBUTE_NAMES.firstFailureAt),
    sentAt: isoFromEpochMs(m.Attributes?.SentTimestamp),
    receiveCount: receiveCount === undefined ? undefined : Number(receiveCount),
    redriveCount: Number.isFinite(redrives) ? redrives : 0,
    attributes: { ...(m.MessageAttributes ?? {}) },
    messageGroupId: m.Attributes?.MessageGroupId,
    messageDeduplicationId: m.Attributes?.MessageDeduplicationId,
  };
}

export interface DlqGroup {
  readonly errorClass: string;
  readonly kind: DlqEntryKind;
  readonly count: number;
  /** Distinct reasons, most frequent first. */
  readonly reasons: readonly { readonly reason: string; readonly count: number }[];
  readonly messageIds: readonly string[];
}

/** Groups entries by error class (and kind), largest group first. */
export function groupByClass(entries: readonly DlqEntry[]): DlqGroup[] {
  const groups = new Map<string, { errorClass: string; kind: DlqEntryKind; reasons: Map<string, number>; ids: string[] }>();
  for (const e of entries) {
    const key = `${e.kind}\u0000${e.errorClass}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { errorClass: e.errorClass, kind: e.kind, reasons: new Map(), ids: [] };
      groups.set(key, g);
    }
    g.reasons.set(e.reason, (g.reasons.get(e.reason) ?? 0) + 1);
    g.ids.push(e.messageId);
  }
  return [...groups.values()]
    .map((g) => ({
      errorClass: g.errorClass,
      kind: g.kind,
      count: g.ids.length,
      reasons: [...g.reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      messageIds: g.ids,
    }))
    .sort((a, b) => b.count - a.count || a.errorClass.localeCompare(b.errorClass));
}

export type RedriveDecision =
  | { readonly redrive: true }
  | { readonly redrive: false; readonly why: string };

/**
 * Permanent failures fail again the same way (bad message, corrupt image...): redriving them only wastes
 * work and buries the real problem, so it takes --force (e.g. after a fix to the worker).
 */
export function decideRedrive(entry: DlqEntry, force: boolean): RedriveDecision {
  if (entry.kind === 'permanent' && !force) {
    return { redrive: false, why: `permanent failure (${entry.errorClass}): would fail again; use --force after fixing the cause` };
  }
  return { redrive: true };
}

/** The attributes a redriven message carries: all of the original ones, plus an incremented redrive count. */
export function redriveAttributes(entry: DlqEntry): Record<string, MessageAttributeValue> {
  const attrs: Record<string, MessageAttributeValue> = { ...entry.attributes };
  // SQS allows at most 10 message attributes; never drop one of the user's to add ours.
  if (REDRIVE_COUNT_ATTRIBUTE in attrs || Object.keys(attrs).length < 10) {
    attrs[REDRIVE_COUNT_ATTRIBUTE] = { DataType: 'Number', StringValue: String(entry.redriveCount + 1) };
  }
  return attrs;
}

/** Whether `id` names this entry: its message id or its job id. */
export function matchesId(entry: DlqEntry, id: string): boolean {
  return entry.messageId === id || (entry.jobId !== undefined && entry.jobId === id);
}
