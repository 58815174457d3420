/**
 * Lambda's SQS poller, locally: long-polls a queue, builds batches of BatchSize within
 * MaximumBatchingWindowInSeconds, and runs at most `concurrency` invocations at once. A poller takes an
 * execution slot BEFORE it receives, so at the cap nobody polls: messages stay in the queue (that is the
 * backpressure) instead of being received and left to expire in memory. Nothing is deleted before the
 * handler returns; what is deleted follows the ReportBatchItemFailures contract (batch-response.ts).
 */
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from './emulators.js';
import { settleBatch, toSqsEvent } from './batch-response.js';
import type { FunctionHost, InvokeFailureKind } from './lambda-host/index.js';

export interface EventSourceRunnerOptions {
  /** Name for stats and logs (the mapping's logical id). */
  readonly name: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly host: FunctionHost;
  readonly endpoints: LocalEndpoints;
  /** 1..10,000. @default 10 */
  readonly batchSize?: number;
  /** 0..300. @default 0 */
  readonly maximumBatchingWindowSeconds?: number;
  /** ScalingConfig.MaximumConcurrency. */
  readonly maximumConcurrency?: number;
  /** The function's ReservedConcurrentExecutions. */
  readonly reservedConcurrency?: number;
  /** Used when neither cap is set (Lambda would use the account's unreserved concurrency). @default 10 */
  readonly defaultConcurrency?: number;
  readonly reportBatchItemFailures?: boolean;
  /** Concurrent ReceiveMessage loops. @default min(concurrency, 5) (Lambda starts with 5 pollers) */
  readonly pollers?: number;
  /** Long-poll wait for an empty queue, seconds. @default 20 */
  readonly waitTimeSeconds?: number;
  /** Period of the in-flight / queue-depth samples, ms. @default 250 */
  readonly sampleIntervalMs?: number;
  /** Called after each invocation is settled. */
  readonly onInvocation?: (record: InvocationRecord) => void;
}

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
}

export interface RunnerSample {
  readonly t: number;
  readonly inFlight: number;
  /** ApproximateNumberOfMessages (visible) and ...NotVisible (received, not deleted). */
  readonly visible?: number;
  readonly notVisible?: number;
}

export interface RunnerStats {
  readonly name: string;
  readonly concurrencyCap: number;
  readonly startedAt: number;
  readonly invocations: number;
  readonly errors: number;
  readonly messagesReceived: number;
  readonly messagesDeleted: number;
  readonly messagesFailed: number;
  readonly inFlight: number;
  /** Exact maximum of concurrent invocations (counted at each start, not sampled). */
  readonly maxConcurrentExecutions: number;
  readonly samples: readonly RunnerSample[];
  readonly invocationLog: readonly InvocationRecord[];
  readonly receiveErrors: number;
}

export interface EventSourceRunner {
  readonly concurrencyCap: number;
  start(): void;
  /** Stops polling, waits for running invocations to be settled. */
  stop(): Promise<void>;
  stats(): RunnerStats;
}

/** min(MaximumConcurrency, ReservedConcurrentExecutions), whichever are set. */
export function concurrencyCap(maximumConcurrency: number | undefined, reservedConcurrency: number | undefined, fallback = 10): number {
  const caps = [maximumConcurrency, reservedConcurrency].filter((x): x is number => x !== undefined);
  const cap = caps.length ? Math.min(...caps) : fallback;
  if (cap < 1) throw new Error(`concurrency cap is ${cap}: the function cannot run (ReservedConcurrentExecutions 0 disables it)`);
  return cap;
}

class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly size: number) {}
  get inUse(): number {
    return this.used;
  }
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const w = (): void => {
        signal.removeEventListener('abort', onAbort);
        this.used++;
        resolve(true);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }
  release(): void {
    this.used--;
    this.waiters.shift()?.();
  }
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export function createEventSourceRunner(options: EventSourceRunnerOptions): EventSourceRunner {
  const {
    name,
    queueUrl,
    queueArn,
    host,
    endpoints,
    batchSize = 10,
    maximumBatchingWindowSeconds = 0,
    reportBatchItemFailures = false,
    waitTimeSeconds = 20,
    sampleIntervalMs = 250,
    onInvocation,
  } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new Error(`${name}: BatchSize must be 1..10000 (got ${batchSize})`);
  if (batchSize > 10 && maximumBatchingWindowSeconds < 1) throw new Error(`${name}: BatchSize > 10 needs MaximumBatchingWindowInSeconds >= 1 (as Lambda requires)`);
  const cap = concurrencyCap(options.maximumConcurrency, options.reservedConcurrency, options.defaultConcurrency ?? 10);
  const pollers = options.pollers ?? Math.min(cap, 5);
  const sqs = new SQSClient({ region: endpoints.region, credentials: LOCAL_CREDENTIALS, endpoint: endpoints.sqs });
  const slots = new Slots(cap);
  const abort = new AbortController();
  const startedAt = Date.now();
  const samples: RunnerSample[] = [];
  const log: InvocationRecord[] = [];
  const c = { invocations: 0, errors: 0, received: 0, deleted: 0, failed: 0, receiveErrors: 0 };
  let inFlight = 0;
  let maxInFlight = 0;
  let started = false;
  const running = new Set<Promise<void>>();
  const loops: Promise<void>[] = [];
  let sampler: NodeJS.Timeout | undefined;

  const receive = async (max: number, wait: number): Promise<Message[]> => {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, max), WaitTimeSeconds: wait, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
      { abortSignal: abort.signal },
    );
    return out.Messages ?? [];
  };

  /** One batch: wait for the first messages, then fill up to BatchSize within the batching window. */
  const collectBatch = async (): Promise<Message[]> => {
    const batch = await receive(batchSize, waitTimeSeconds);
    if (batch.length === 0) return batch;
    const windowEnds = Date.now() + maximumBatchingWindowSeconds * 1000;
    let lastFull = batch.length === Math.min(10, batchSize);
    while (batch.length < batchSize && !abort.signal.aborted) {
      const left = windowEnds - Date.now();
      if (left <= 0) {
        // Window over (or zero): only drain what is already there, without waiting.
        if (!lastFull) break;
        const more = await receive(batchSize - batch.length, 0);
        batch.push(...more);
        lastFull = more.length === 10;
        if (more.length === 0) break;
        continue;
      }
      const more = await receive(batchSize - batch.length, Math.min(20, Math.max(1, Math.floor(left / 1000))));
      batch.push(...more);
      lastFull = more.length === 10;
    }
    return batch;
  };

  const deleteMessages = async (messages: Message[]): Promise<number> => {
    let deleted = 0;
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      const res = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })) }));
      deleted += res.Successful?.length ?? 0;
    }
    return deleted;
  };

  const runBatch = async (batch: Message[]): Promise<void> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    c.invocations++;
    c.received += batch.length;
    try {
      const result = await host.invoke(toSqsEvent(batch, queueArn, endpoints.region));
      const settlement = settleBatch(
        batch.map((m) => m.MessageId ?? ''),
        result.ok ? { ok: true, value: result.value } : { ok: false, error: result.error },
        reportBatchItemFailures,
      );
      const okIds = new Set(settlement.succeeded);
      const deleted = await deleteMessages(batch.filter((m) => okIds.has(m.MessageId ?? '')));
      c.deleted += deleted;
      c.failed += settlement.failed.length;
      if (settlement.wholeBatchFailed) c.errors++;
      const rec: InvocationRecord = {
        t: Date.now() - startedAt,
        requestId: result.requestId,
        batchSize: batch.length,
        deleted,
        failed: settlement.failed.length,
        durationMs: result.durationMs,
        ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}),
        outcome: settlement.wholeBatchFailed ? 'failed' : settlement.failed.length > 0 ? 'partial' : 'success',
        ...(settlement.wholeBatchFailed ? { failureKind: result.ok ? 'malformed' : result.error.kind } : {}),
        ...(settlement.reason ? { reason: settlement.reason } : {}),
        maxReceiveCount: Math.max(...batch.map((m) => Number(m.Attributes?.ApproximateReceiveCount ?? 1))),
      };
      log.push(rec);
      onInvocation?.(rec);
    } catch (err) {
      // The host was stopped under us, or DeleteMessageBatch failed: messages go back after the timeout.
      c.errors++;
      if (!abort.signal.aborted) console.error(`[${name}] invocation failed: ${(err as Error).message}`);
    } finally {
      inFlight--;
      slots.release();
    }
  };

  const pollLoop = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      if (!(await slots.acquire(abort.signal))) return;
      let batch: Message[] = [];
      try {
        batch = await collectBatch();
      } catch {
        slots.release();
        if (abort.signal.aborted) return;
        c.receiveErrors++;
        await sleep(500, abort.signal);
        continue;
      }
      if (batch.length === 0) {
        slots.release();
        continue;
      }
      const p = runBatch(batch).finally(() => running.delete(p));
      running.add(p);
    }
  };

  const sample = async (): Promise<void> => {
    const s: { t: number; inFlight: number; visible?: number; notVisible?: number } = { t: Date.now() - startedAt, inFlight };
    try {
      const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      s.visible = Number(a.Attributes?.ApproximateNumberOfMessages ?? 0);
      s.notVisible = Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    } catch {
      // sampling is best effort
    }
    samples.push(s);
  };

  return {
    concurrencyCap: cap,
    start() {
      if (started) return;
      started = true;
      for (let i = 0; i < pollers; i++) loops.push(pollLoop());
      sampler = setInterval(() => void sample(), sampleIntervalMs);
      void sample();
    },
    async stop() {
      abort.abort();
      if (sampler) clearInterval(sampler);
      await Promise.allSettled(loops);
      await Promise.allSettled([...running]);
      sqs.destroy();
    },
    stats() {
      return {
        name,
        concurrencyCap: cap,
        startedAt,
        invocations: c.invocations,
        errors: c.errors,
        messagesReceived: c.received,
        messagesDeleted: c.deleted,
        messagesFailed: c.failed,
        inFlight,
        maxConcurrentExecutions: maxInFlight,
        samples: [...samples],
        invocationLog: [...log],
        receiveErrors: c.receiveErrors,
      };
    },
  };
}
