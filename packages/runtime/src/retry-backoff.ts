/**
 * Per-message retry backoff, pure: how long a retryably failed message stays invisible before SQS delivers
 * it again. Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter":
 * sleep = random_between(0, min(cap, base * 2 ** attempt))), with the attempt taken from the message's
 * ApproximateReceiveCount, so that the backoff grows across invocations without any state of ours.
 *
 * Two more caps keep the delay legal and the message alive:
 * - SQS allows a visibility timeout of at most 12 hours counted from the receive. The message was received
 *   at most one visibility timeout ago (we still hold it), so the delay is at most 12 h minus that.
 * - Retention: the message must still reach its last receive (maxReceiveCount) before the queue's
 *   retention deletes it, or it is lost instead of dead-lettered. With R receives left, L seconds of
 *   retention left and each receive holding the message up to V (the visibility timeout), a delay is at
 *   most (L - (R - 1) * V) / R. If every decision stays within its share, the shares of later decisions
 *   do not shrink and all the delays together fit in L - (R - 1) * V: the last receive starts in time.
 *
 * No I/O here: the SQS call is retry-backoff-sqs.ts.
 */
import type { RecordOutcome } from './batch.js';

/** SQS's ceiling for a visibility timeout, counted from the receive (12 hours). */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/**
 * How long a receive may already hold the message when the visibility timeout is unknown: a whole Lambda
 * timeout (900 s) plus the longest batching window (300 s).
 */
export const DEFAULT_HELD_SECONDS = 1_200;

/** The bounds of the backoff, whole seconds. */
export interface RetryBackoff {
  /** Ceiling of the first retry's delay; doubles with each receive. An integer >= 1. */
  readonly baseSeconds: number;
  /** Ceiling of any delay. An integer from baseSeconds to 43,200 (12 h). */
  readonly maxSeconds: number;
}

/** The handler's `retryBackoff` option. */
export interface RetryBackoffOptions extends RetryBackoff {
  /** Source of the jitter, uniform in [0, 1) (tests). @default Math.random */
  readonly random?: () => number;
}

/** What the handler knows of its source queue (each undefined when not known: the cap it feeds is skipped). */
export interface BackoffQueue {
  /** The redrive policy's maxReceiveCount. */
  readonly maxReceiveCount?: number | undefined;
  /** The queue's MessageRetentionPeriod, seconds. */
  readonly retentionSeconds?: number | undefined;
  /** The queue's visibility timeout, seconds: the longest a receive holds the message. */
  readonly visibilityTimeoutSeconds?: number | undefined;
}

export interface BackoffInput {
  /** ApproximateReceiveCount of the receive that failed (1 on the first delivery). */
  readonly receiveCount: number;
  /** SentTimestamp of the message, epoch ms (the retention clock starts there). */
  readonly sentAtMs?: number | undefined;
  readonly nowMs: number;
  /** A uniform draw in [0, 1): the jitter. */
  readonly random: number;
}

/** Which bound made the ceiling lower than base * 2^(receiveCount - 1). */
export type BackoffCap = 'max' | 'visibility-limit' | 'retention';

export type BackoffDecision =
  | {
      readonly action: 'delay';
      /** The visibility timeout to set now: uniform in [0, ceilingSeconds]. */
      readonly visibilityTimeoutSeconds: number;
      /** min(base * 2^(receiveCount - 1), maxSeconds, the 12-hour limit, the retention share). */
      readonly ceilingSeconds: number;
      readonly cappedBy?: BackoffCap;
    }
  /** The message's last receive: the runtime dead-letters it (or the redrive policy does); no delay. */
  | { readonly action: 'none'; readonly reason: 'last-receive' };

/** Refuses bounds SQS could not honour; the message says what to change. */
export function validateRetryBackoff(b: RetryBackoff): void {
  const { baseSeconds: base, maxSeconds: max } = b;
  if (!Number.isInteger(base) || base < 1) throw new Error(`retryBackoff.baseSeconds must be an integer >= 1, got ${base}`);
  if (!Number.isInteger(max) || max < base || max > MAX_VISIBILITY_TIMEOUT_SECONDS) {
    throw new Error(`retryBackoff.maxSeconds must be an integer from baseSeconds (${base}) to ${MAX_VISIBILITY_TIMEOUT_SECONDS} (SQS's 12-hour visibility limit), got ${max}`);
  }
}

/**
 * The longest delay that still lets the message reach its last receive within retention, or undefined
 * when retention, maxReceiveCount or the send time is unknown. Never negative.
 */
export function retentionShareSeconds(queue: BackoffQueue, receiveCount: number, sentAtMs: number | undefined, nowMs: number): number | undefined {
  const { maxReceiveCount, retentionSeconds } = queue;
  if (maxReceiveCount === undefined || retentionSeconds === undefined || sentAtMs === undefined) return undefined;
  const receivesLeft = maxReceiveCount - receiveCount;
  if (receivesLeft <= 0) return 0;
  const held = queue.visibilityTimeoutSeconds ?? DEFAULT_HELD_SECONDS;
  const left = retentionSeconds - (nowMs - sentAtMs) / 1000;
  return Math.max(0, Math.floor((left - (receivesLeft - 1) * held) / receivesLeft));
}

/** The delay for one retryably failed receive. */
export function decideBackoff(b: RetryBackoff, queue: BackoffQueue, input: BackoffInput): BackoffDecision {
  if (queue.maxReceiveCount !== undefined && input.receiveCount >= queue.maxReceiveCount) return { action: 'none', reason: 'last-receive' };
  const exponential = b.baseSeconds * 2 ** Math.max(0, Math.floor(input.receiveCount) - 1);
  const bounds: [BackoffCap, number][] = [
    ['max', b.maxSeconds],
    ['visibility-limit', Math.max(0, MAX_VISIBILITY_TIMEOUT_SECONDS - (queue.visibilityTimeoutSeconds ?? DEFAULT_HELD_SECONDS))],
  ];
  const share = retentionShareSeconds(queue, input.receiveCount, input.sentAtMs, input.nowMs);
  if (share !== undefined) bounds.push(['retention', share]);
  let ceiling = exponential;
  let cappedBy: BackoffCap | undefined;
  for (const [name, bound] of bounds) {
    if (bound < ceiling) {
      ceiling = bound;
      cappedBy = name;
    }
  }
  ceiling = Math.floor(ceiling);
  // Full jitter over whole seconds: uniform in [0, ceiling].
  const r = Math.min(Math.max(input.random, 0), 1 - Number.EPSILON);
  const delay = Math.min(ceiling, Math.floor(r * (ceiling + 1)));
  return { action: 'delay', visibilityTimeoutSeconds: delay, ceilingSeconds: ceiling, ...(cappedBy ? { cappedBy } : {}) };
}

/** A record of the batch as the planner needs it. */
export interface BackoffRecord {
  readonly id: string;
  readonly receiptHandle: string;
  readonly receiveCount: number;
  readonly sentAtMs?: number | undefined;
  /** FIFO: the record's message group. */
  readonly group?: string | undefined;
}

export interface BackoffEntry {
  readonly id: string;
  readonly receiptHandle: string;
  readonly visibilityTimeoutSeconds: number;
  /** The decision for a failed record; for a FIFO record skipped behind it, the id of that record. */
  readonly decision: Extract<BackoffDecision, { action: 'delay' }>;
  readonly follows?: string;
}

/**
 * The visibility changes for one batch, from its outcomes (same order as `records`).
 *
 * - A record that failed retryably (outcome `retryable`, failure kind `retryable`) gets a delay; one on
 *   its last receive does not.
 * - Records that did not fail (done, dead-lettered), records the deadline kept from starting, and
 *   permanent failures held in their group (`block-group`) keep the queue's visibility timeout.
 * - FIFO (`fifo`): the records of a group skipped behind the failure (GroupBlocked) get the SAME delay.
 *   SQS delivers nothing more of a group while one of its messages is invisible, so the whole group waits
 *   out the delay; giving the skipped records the same one makes the group come back together after it,
 *   instead of after max(delay, visibility timeout).
 */
export function planBatchBackoff(
  b: RetryBackoff,
  queue: BackoffQueue,
  records: readonly BackoffRecord[],
  outcomes: readonly RecordOutcome[],
  options: { readonly nowMs: number; readonly random: () => number; readonly fifo: boolean },
): BackoffEntry[] {
  const entries: BackoffEntry[] = [];
  const byGroup = new Map<string, { id: string; decision: Extract<BackoffDecision, { action: 'delay' }> }>();
  records.forEach((r, i) => {
    const o = outcomes[i];
    if (o?.status !== 'retryable' || o.failure?.kind !== 'retryable') return;
    const d = decideBackoff(b, queue, { receiveCount: r.receiveCount, sentAtMs: r.sentAtMs, nowMs: options.nowMs, random: options.random() });
    if (d.action !== 'delay') return;
    entries.push({ id: r.id, receiptHandle: r.receiptHandle, visibilityTimeoutSeconds: d.visibilityTimeoutSeconds, decision: d });
    if (options.fifo && r.group !== undefined && !byGroup.has(r.group)) byGroup.set(r.group, { id: r.id, decision: d });
  });
  if (options.fifo) {
    records.forEach((r, i) => {
      const o = outcomes[i];
      if (o?.status !== 'not-started' || o.failure?.class !== 'GroupBlocked' || r.group === undefined) return;
      const head = byGroup.get(r.group);
      if (!head) return;
      entries.push({ id: r.id, receiptHandle: r.receiptHandle, visibilityTimeoutSeconds: head.decision.visibilityTimeoutSeconds, decision: head.decision, follows: head.id });
    });
  }
  return entries;
}
