/**
 * What Lambda's SQS poller reports about itself, locally: counters, exact maxima, and the recent
 * invocations and in-flight samples in bounded ring buffers, so a `--keep` session of any length keeps
 * its memory flat (the oldest entries are let go and counted).
 */
import { RingBuffer } from '../../core/ring-buffer.js';
import type { InvokeFailureKind } from '../../lambda-host/index.js';

export interface InvocationRecord {
  /** ms since the runner started. */
  readonly t: number;
  readonly requestId: string;
  readonly batchSize: number;
  readonly deleted: number;
  readonly failed: number;
  readonly durationMs: number;
  readonly initDurationMs?: number;
  readonly outcome: 'success' | 'partial' | 'failed';
  readonly failureKind?: InvokeFailureKind | 'malformed';
  readonly reason?: string;
  /** Highest ApproximateReceiveCount in the batch (redeliveries show as > 1). */
  readonly maxReceiveCount: number;
  /** FIFO: the message groups of the batch. */
  readonly groups?: readonly string[];
}

export interface RunnerSample {
  readonly t: number;
  readonly inFlight: number;
  /** Concurrent invocations allowed at that moment (0 while disabled). */
  readonly limit: number;
  /** ApproximateNumberOfMessages (visible) and ...NotVisible (received, not deleted). */
  readonly visible?: number;
  readonly notVisible?: number;
  /** FIFO: message groups in flight. */
  readonly activeGroups?: number;
}

/** A ReceiveMessage the queue refused or that failed (e.g. AccessDenied when the role lacks sqs:ReceiveMessage). */
export interface ReceiveFailure {
  /** ms since the runner started. */
  readonly t: number;
  /** The AWS error code (the SDK error's name), e.g. `AccessDenied`. */
  readonly code: string;
  readonly message: string;
}

export interface TelemetryCapacity {
  /** In-flight / queue-depth samples kept. @default 2400 (10 minutes at the default 250 ms) */
  readonly samples?: number;
  /** Invocation records kept. @default 5000 */
  readonly invocations?: number;
}

export class RunnerTelemetry {
  readonly startedAt = Date.now();
  readonly counters = { invocations: 0, errors: 0, received: 0, deleted: 0, failed: 0, filteredOut: 0, returned: 0, receiveErrors: 0 };
  readonly samples: RingBuffer<RunnerSample>;
  readonly invocations: RingBuffer<InvocationRecord>;
  inFlight = 0;
  maxInFlight = 0;
  maxGroups = 0;
  /** The last failed receive (kept after receives succeed again; `receiveErrors` counts them all). */
  lastReceiveError: ReceiveFailure | undefined;
  private failing = false;

  constructor(capacity: TelemetryCapacity = {}) {
    this.samples = new RingBuffer(capacity.samples ?? 2400);
    this.invocations = new RingBuffer(capacity.invocations ?? 5000);
  }

  /** ms since the runner started. */
  elapsed(): number {
    return Date.now() - this.startedAt;
  }

  invocationStarted(records: number, groupsInFlight?: number): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (groupsInFlight !== undefined) this.maxGroups = Math.max(this.maxGroups, groupsInFlight);
    this.counters.invocations++;
    this.counters.received += records;
  }

  invocationSettled(record: InvocationRecord): void {
    this.counters.deleted += record.deleted;
    this.counters.failed += record.failed;
    if (record.outcome === 'failed') this.counters.errors++;
    this.invocations.push(record);
  }

  /** The host was stopped under the invocation, or DeleteMessageBatch failed. */
  invocationBroken(): void {
    this.counters.errors++;
  }

  invocationEnded(): void {
    this.inFlight--;
  }

  /** Records a failed receive; true when it is worth a log line (the first, or a different code than the last). */
  receiveFailed(err: unknown): boolean {
    this.counters.receiveErrors++;
    const e = err as { name?: unknown; Code?: unknown; message?: unknown };
    const code = typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' ? e.name : 'Error';
    const fresh = !this.failing || this.lastReceiveError?.code !== code;
    this.failing = true;
    this.lastReceiveError = { t: this.elapsed(), code, message: typeof e?.message === 'string' ? e.message : String(err) };
    return fresh;
  }

  receiveSucceeded(): void {
    this.failing = false;
  }
}
