/**
 * The AWS side of per-message retry backoff: the delays planned by retry-backoff.ts are set with
 * ChangeMessageVisibilityBatch before the handler returns its batchItemFailures. One request per batch of
 * up to 10 failures (the API takes at most 10 entries, so a larger batch needs ceil(n / 10) requests,
 * sent together). If a request or an entry fails, nothing is lost: the message is still a batch item
 * failure and comes back after the queue's own visibility timeout; the failure is logged.
 */
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSRecord } from 'aws-lambda';
import type { RecordOutcome } from './batch.js';
import { receiveCount } from './dead-letter.js';
import { messageGroupOf } from './fifo-groups.js';
import type { RuntimeConfig } from './config.js';
import { planBatchBackoff, validateRetryBackoff, type BackoffEntry, type BackoffQueue, type RetryBackoff, type RetryBackoffOptions } from './retry-backoff.js';

/** Entries per ChangeMessageVisibilityBatch request (SQS's limit). */
export const MAX_VISIBILITY_BATCH_ENTRIES = 10;

export interface VisibilityChange {
  readonly id: string;
  readonly receiptHandle: string;
  readonly visibilityTimeoutSeconds: number;
}

export interface VisibilityChangeFailure {
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

export interface VisibilityChangeResult {
  /** Ids whose visibility was changed. */
  readonly changed: string[];
  readonly failed: VisibilityChangeFailure[];
  /** ChangeMessageVisibilityBatch requests sent (ceil(changes / 10)). */
  readonly requests: number;
}

/** Sets each message's visibility timeout: ChangeMessageVisibilityBatch in chunks of 10. Never throws. */
export async function changeVisibilities(sqs: SQSClient, queueUrl: string, changes: readonly VisibilityChange[], signal?: AbortSignal): Promise<VisibilityChangeResult> {
  const chunks: VisibilityChange[][] = [];
  for (let i = 0; i < changes.length; i += MAX_VISIBILITY_BATCH_ENTRIES) chunks.push(changes.slice(i, i + MAX_VISIBILITY_BATCH_ENTRIES));
  const changed: string[] = [];
  const failed: VisibilityChangeFailure[] = [];
  await Promise.all(
    chunks.map(async (chunk) => {
      try {
        // Entry ids must be short and plain ([A-Za-z0-9_-]{1,80}); message ids are mapped back by position.
        const out = await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((c, j) => ({ Id: String(j), ReceiptHandle: c.receiptHandle, VisibilityTimeout: c.visibilityTimeoutSeconds })),
          }),
          signal ? { abortSignal: signal } : {},
        );
        for (const s of out.Successful ?? []) changed.push(chunk[Number(s.Id)]!.id);
        for (const f of out.Failed ?? []) failed.push({ id: chunk[Number(f.Id)]!.id, code: f.Code ?? 'Unknown', message: f.Message ?? '' });
      } catch (err) {
        const e = err as { name?: string; message?: string };
        for (const c of chunk) failed.push({ id: c.id, code: e.name ?? 'Error', message: e.message ?? String(err) });
      }
    }),
  );
  return { changed, failed, requests: chunks.length };
}

/** The queue URL of an SQS ARN (arn:aws:sqs:region:account:name), in SQS's standard form. */
export function queueUrlFromArn(arn: string): string | undefined {
  const m = /^arn:(aws[\w-]*):sqs:([\w-]+):(\d+):(.+)$/.exec(arn);
  if (!m) return undefined;
  const [, partition, region, account, name] = m;
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}

export interface RetryBackoffRun {
  readonly sqs: SQSClient;
  /** @default derived from the records' eventSourceARN */
  readonly queueUrl?: string | undefined;
  readonly backoff: RetryBackoff;
  readonly queue: BackoffQueue;
  readonly records: readonly SQSRecord[];
  /** The batch's outcomes, in record order. */
  readonly outcomes: readonly RecordOutcome[];
  readonly fifo: boolean;
  readonly now: () => number;
  readonly random: () => number;
  /** Aborts the SQS call (the invocation must still return its response in time). */
  readonly signal?: AbortSignal;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
}

/** What the backoff did in one invocation. */
export interface RetryBackoffReport {
  /** The planned changes (one per delayed message). */
  readonly entries: readonly BackoffEntry[];
  /** Ids whose visibility was changed. */
  readonly changed: readonly string[];
  /** Ids left at the queue's visibility timeout because the change failed, with why. */
  readonly failed: readonly VisibilityChangeFailure[];
  readonly requests: number;
}

/** Plans the batch's delays and sets them; logs what it did and any failure. Never throws. */
export async function backOffRetries(run: RetryBackoffRun): Promise<RetryBackoffReport> {
  const records = run.records.map((r) => ({
    id: r.messageId,
    receiptHandle: r.receiptHandle,
    receiveCount: receiveCount(r),
    sentAtMs: Number(r.attributes?.SentTimestamp) || undefined,
    group: run.fifo ? messageGroupOf(r) : undefined,
  }));
  const entries = planBatchBackoff(run.backoff, run.queue, records, run.outcomes, { nowMs: run.now(), random: run.random, fifo: run.fifo });
  if (entries.length === 0) return { entries, changed: [], failed: [], requests: 0 };
  const queueUrl = run.queueUrl ?? queueUrlFromArn(run.records[0]?.eventSourceARN ?? '');
  const result: VisibilityChangeResult = queueUrl
    ? await changeVisibilities(run.sqs, queueUrl, entries, run.signal)
    : { changed: [], failed: entries.map((e) => ({ id: e.id, code: 'NoQueueUrl', message: 'the event source ARN is not an SQS queue ARN and FLOODGATE_QUEUE_URL is not set' })), requests: 0 };
  run.logger.info('retries delayed', {
    delayed: result.changed.length,
    requests: result.requests,
    delays: entries.map((e) => ({
      messageId: e.id,
      visibilityTimeoutSeconds: e.visibilityTimeoutSeconds,
      ceilingSeconds: e.decision.ceilingSeconds,
      ...(e.decision.cappedBy ? { cappedBy: e.decision.cappedBy } : {}),
      ...(e.follows ? { follows: e.follows } : {}),
    })),
  });
  if (result.failed.length > 0) {
    run.logger.warn('retry backoff not applied: these messages come back after the queue visibility timeout', {
      failed: result.failed,
      ...(result.failed.some((f) => /AccessDenied/i.test(f.code))
        ? { hint: 'grant sqs:ChangeMessageVisibility on the source queue (BoundedQueueConsumer does with its retryBackoff prop)' }
        : {}),
    });
  }
  return { entries, changed: result.changed, failed: result.failed, requests: result.requests };
}

/** One invocation's part of the backoff, for the handler. */
export interface RetryBackoffStep {
  readonly backoff: RetryBackoff;
  run(invocation: {
    readonly records: readonly SQSRecord[];
    readonly outcomes: readonly RecordOutcome[];
    readonly fifo: boolean;
    readonly logger: Pick<Logger, 'info' | 'warn'>;
    /** Epoch ms at which Lambda ends the invocation. */
    readonly deadlineAt: number;
  }): Promise<RetryBackoffReport>;
}

/**
 * The handler's backoff, built once per execution environment: the `retryBackoff` option, else the
 * construct's bounds from the environment, else none. The queue's maxReceiveCount, retention and
 * visibility timeout come from the environment too.
 */
export function createRetryBackoffStep(option: RetryBackoffOptions | undefined, config: RuntimeConfig, sqs: SQSClient, now: () => number): RetryBackoffStep | undefined {
  const backoff = option ? { baseSeconds: option.baseSeconds, maxSeconds: option.maxSeconds } : config.retryBackoff;
  if (!backoff) return undefined;
  validateRetryBackoff(backoff); // a bad option fails the cold start, not every batch
  const random = option?.random ?? Math.random;
  const queue: BackoffQueue = { maxReceiveCount: config.maxReceiveCount, retentionSeconds: config.queueRetentionSeconds, visibilityTimeoutSeconds: config.visibilityTimeoutSeconds };
  // The call must end in time for the response: an invocation that runs out fails its whole batch.
  const reserveMs = Math.min(1_000, Math.floor(config.hardMarginMs / 2));
  return {
    backoff,
    run: async ({ records, outcomes, fifo, logger, deadlineAt }) => {
      if (!outcomes.some((o) => o.status === 'retryable')) return { entries: [], changed: [], failed: [], requests: 0 };
      const signal = AbortSignal.timeout(Math.max(1, deadlineAt - reserveMs - now()));
      return backOffRetries({ sqs, queueUrl: config.queueUrl, backoff, queue, records, outcomes, fifo, now, random, signal, logger });
    },
  };
}
