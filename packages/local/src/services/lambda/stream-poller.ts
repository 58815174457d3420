/**
 * Lambda's DynamoDB Streams poller, locally. Shards are DynamoDB Local's (DescribeStream, rediscovered
 * every second; a child shard starts once its parent is read and settled). Each shard is read with
 * GetRecords every `pollIntervalMs` (AWS polls a shard about 4 times a second) from StartingPosition, and
 * its records go to `ParallelizationFactor` lanes by a hash of their partition key (the table's HASH key attribute): one lane runs one batch at a
 * time in sequence order, so one key's records keep their order while up to N batches of the shard run
 * at once. A failing batch blocks its lane (a whole shard when the factor is 1) until it succeeds, is
 * discarded after MaximumRetryAttempts or MaximumRecordAgeInSeconds (to DestinationConfig.OnFailure),
 * or is bisected (BisectBatchOnFunctionError; a bisection does not count as a retry). With
 * ReportBatchItemFailures the checkpoint moves to the first failed sequence number.
 * Invocations take a slot of a ConcurrencyGate (the function's reserved concurrency; 0 = nothing runs).
 * Polls are signed with the stack's admin credentials (as the SQS poller's are), through the endpoint.
 * Checkpoints live in memory: a restarted stack starts again from StartingPosition.
 */
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type Shard } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import type { LocalEndpoints } from '../../core/endpoints.js';
import { LOCAL_CREDENTIALS } from '../../core/identity.js';
import type { DeployedStreamEventSourceMapping } from '../../core/deployment/provisioner.js';
import type { FunctionHost } from '../../lambda-host/index.js';
import { ConcurrencyGate } from './event-source-gate.js';
import { compileStreamFilter, laneOf, settleStreamBatch, streamFailureRecord, toStreamEventRecord, type DiscardCondition } from './stream-batch.js';

export interface StreamPollerOptions {
  readonly mapping: DeployedStreamEventSourceMapping;
  readonly host: FunctionHost;
  readonly endpoints: LocalEndpoints;
  /** The function's ReservedConcurrentExecutions (0 = throttled: nothing is invoked). */
  readonly reservedConcurrency?: number;
  /** Sends an on-failure record (JSON) to the mapping's destination; rejects if it was not sent. */
  readonly sendOnFailure?: (body: string) => Promise<void>;
  /** GetRecords period of an idle shard, ms. @default 250 */
  readonly pollIntervalMs?: number;
  /** DescribeStream period (new shards), ms. @default 1000 */
  readonly discoverIntervalMs?: number;
  /** Records read ahead per shard before reading pauses. @default max(1000, 2 × BatchSize × ParallelizationFactor) */
  readonly maxBufferedPerShard?: number;
  readonly log?: (line: string) => void;
  readonly onInvocation?: (r: StreamInvocationRecord) => void;
}

export interface StreamInvocationRecord {
  readonly requestId: string;
  readonly shardId: string;
  readonly lane: number;
  readonly batchSize: number;
  readonly firstSequenceNumber: string;
  readonly outcome: 'success' | 'partial' | 'failed';
  /** Records checkpointed by this invocation. */
  readonly done: number;
  readonly reason?: string;
}

export interface StreamPollerStats {
  readonly name: string;
  readonly shards: number;
  readonly invocations: number;
  readonly recordsRead: number;
  readonly recordsFilteredOut: number;
  readonly recordsProcessed: number;
  readonly recordsDiscarded: number;
  readonly bisections: number;
  readonly onFailureSent: number;
  readonly inFlight: number;
  readonly maxConcurrentExecutions: number;
  readonly invocationLog: readonly StreamInvocationRecord[];
}

export interface StreamPoller {
  start(): void;
  /**
   * Runs `during` (the reset emptying the table) with the mapping held: records read but not yet
   * delivered are dropped, and every shard is read again from LATEST once `during` has settled, so the
   * records `during` wrote (its deletes) are never delivered. Invocations already running finish.
   */
  skip<T>(during: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
  stats(): StreamPollerStats;
}

interface Held {
  readonly record: DynamoDBRecord;
  readonly seq: string;
  readonly readAt: number;
}

interface Lane {
  readonly index: number;
  readonly queue: Held[];
  /** Batch size cap after bisections (reset on success). */
  cap?: number;
  /** Head record the retry count belongs to, and its count. */
  headSeq?: string;
  attempts: number;
  invokes: number;
  wake?: () => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export function createStreamPoller(options: StreamPollerOptions): StreamPoller {
  const { mapping: m, host, endpoints, pollIntervalMs = 250, discoverIntervalMs = 1000, log = () => undefined } = options;
  const name = m.logicalId;
  const filter = compileStreamFilter(m.filterCriteria, `${name}.FilterCriteria`);
  const maxBuffered = options.maxBufferedPerShard ?? Math.max(1000, 2 * m.batchSize * m.parallelizationFactor);
  const client = new DynamoDBStreamsClient({ region: endpoints.region, credentials: LOCAL_CREDENTIALS, endpoint: endpoints.dynamodb });
  const gate = new ConcurrencyGate(options.reservedConcurrency ?? 1_000_000);
  const abort = new AbortController();
  const c = { invocations: 0, read: 0, filteredOut: 0, processed: 0, discarded: 0, bisections: 0, sent: 0 };
  const log2: StreamInvocationRecord[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const tasks = new Set<Promise<void>>();
  /** shardId → state. */
  const shards = new Map<string, { lanes: Lane[]; readDone: boolean; started: boolean; position: 'TRIM_HORIZON' | 'LATEST'; resumeAt?: { generation: number; iterator: string } }>();
  /** Bumped by skip(): what was read or batched in an earlier generation is dropped. */
  let generation = 0;
  let holding = 0;
  let initial = true;
  /** The table's HASH key (from DescribeStream's KeySchema): the unit of order across lanes. */
  let hashKey: string | undefined;

  const track = (p: Promise<void>): void => {
    tasks.add(p);
    void p.finally(() => tasks.delete(p));
  };

  const settled = (shardId: string): boolean => {
    const s = shards.get(shardId);
    return s !== undefined && s.readDone && s.lanes.every((l) => l.queue.length === 0);
  };

  const discard = async (shardId: string, lane: Lane, batch: readonly Held[], condition: DiscardCondition, requestId: string, functionError: boolean): Promise<void> => {
    c.discarded += batch.length;
    const body = JSON.stringify(
      streamFailureRecord({ requestId, functionArn: m.functionArn, condition, approximateInvokeCount: lane.invokes, functionError, shardId, streamArn: m.streamArn, records: batch.map((h) => h.record) }),
    );
    if (!options.sendOnFailure) {
      log(`[${name}] ${condition}: ${batch.length} record(s) of ${shardId} from ${batch[0]!.seq} discarded (no OnFailure destination)`);
      return;
    }
    // The shard stays blocked until the record is sent: nothing is lost to a destination that is down.
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      try {
        await options.sendOnFailure(body);
        c.sent++;
        return;
      } catch (err) {
        log(`[${name}] OnFailure send failed (${(err as Error).message}); retrying`);
        await sleep(Math.min(5000, 200 * 2 ** attempt), abort.signal);
      }
    }
  };

  const runLane = async (shardId: string, lane: Lane): Promise<void> => {
    while (!abort.signal.aborted) {
      if (lane.queue.length === 0) {
        await new Promise<void>((resolve) => {
          lane.wake = resolve;
          abort.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        lane.wake = undefined;
        continue;
      }
      // Batching window: from the first record waiting, until BatchSize records or the window ends.
      const windowEnds = lane.queue[0]!.readAt + m.maximumBatchingWindowSeconds * 1000;
      if (lane.queue.length < m.batchSize && Date.now() < windowEnds) {
        await sleep(Math.min(pollIntervalMs, windowEnds - Date.now()), abort.signal);
        continue;
      }
      let batch = lane.queue.slice(0, Math.min(m.batchSize, lane.cap ?? m.batchSize));
      if (lane.headSeq !== batch[0]!.seq) {
        lane.headSeq = batch[0]!.seq;
        lane.attempts = 0;
        lane.invokes = 0;
      }
      // Records past MaximumRecordAgeInSeconds are discarded before any invocation.
      if (m.maximumRecordAgeSeconds >= 0) {
        const expired = batch.filter((h) => Date.now() - h.readAt > m.maximumRecordAgeSeconds * 1000).length;
        if (expired > 0) {
          const gone = lane.queue.splice(0, expired);
          await discard(shardId, lane, gone, 'RecordAgeExceeded', '', false);
          lane.cap = undefined;
          continue;
        }
      }
      if (!(await gate.acquire(abort.signal))) return;
      const laneGeneration = generation;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      c.invocations++;
      lane.invokes++;
      let result;
      try {
        result = await host.invoke({ Records: batch.map((h) => h.record) });
      } catch (err) {
        if (abort.signal.aborted) return;
        result = { ok: false as const, requestId: '', error: { errorType: 'Runtime.Error', errorMessage: (err as Error).message } };
      } finally {
        inFlight--;
        gate.release();
      }
      if (abort.signal.aborted) return;
      // skip() emptied the lane meanwhile: this batch's checkpoint means nothing now.
      if (laneGeneration !== generation) continue;
      const s = settleStreamBatch(
        batch.map((h) => h.seq),
        result.ok ? { ok: true, value: result.value } : { ok: false, error: result.error },
        m.reportBatchItemFailures,
      );
      const rec: StreamInvocationRecord = {
        requestId: result.requestId,
        shardId,
        lane: lane.index,
        batchSize: batch.length,
        firstSequenceNumber: batch[0]!.seq,
        outcome: !s.failed ? 'success' : s.functionError ? 'failed' : 'partial',
        done: s.done,
        ...(s.reason ? { reason: s.reason } : {}),
      };
      log2.push(rec);
      options.onInvocation?.(rec);
      lane.queue.splice(0, s.done);
      c.processed += s.done;
      if (!s.failed) {
        lane.cap = undefined;
        continue;
      }
      batch = batch.slice(s.done);
      if (s.done > 0) {
        // The checkpoint moved: the retries now belong to the first failed record.
        lane.headSeq = batch[0]!.seq;
        lane.attempts = 0;
        lane.invokes = 1;
      }
      if (m.bisectBatchOnFunctionError && batch.length > 1) {
        lane.cap = Math.ceil(batch.length / 2);
        c.bisections++;
        continue;
      }
      lane.attempts++;
      if (m.maximumRetryAttempts >= 0 && lane.attempts > m.maximumRetryAttempts) {
        const gone = lane.queue.splice(0, batch.length);
        await discard(shardId, lane, gone, 'RetryAttemptsExhausted', result.requestId, s.functionError);
        lane.cap = undefined;
        continue;
      }
      await sleep(Math.min(1000, 25 * 2 ** lane.attempts), abort.signal);
    }
  };

  const readShard = async (shard: Shard, startAt: 'TRIM_HORIZON' | 'LATEST'): Promise<void> => {
    let position = startAt;
    const shardId = shard.ShardId!;
    const state = shards.get(shardId)!;
    let iterator: string | undefined;
    let lastSeq: string | undefined;
    let readGeneration = generation;
    while (!abort.signal.aborted) {
      try {
        if (holding > 0) {
          // Held by skip(): read nothing until it hands over an iterator at LATEST.
          await sleep(10, abort.signal);
          continue;
        }
        if (readGeneration !== generation) {
          const resume = state.resumeAt;
          iterator = resume?.generation === generation ? resume.iterator : undefined;
          lastSeq = undefined;
          position = 'LATEST';
          readGeneration = generation;
        }
        if (iterator === undefined) {
          const it = await client.send(
            new GetShardIteratorCommand(
              lastSeq !== undefined
                ? { StreamArn: m.streamArn, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: lastSeq }
                : { StreamArn: m.streamArn, ShardId: shardId, ShardIteratorType: position },
            ),
            { abortSignal: abort.signal },
          );
          iterator = it.ShardIterator;
          if (iterator === undefined) break;
        }
        if (state.lanes.reduce((n, l) => n + l.queue.length, 0) >= maxBuffered) {
          await sleep(pollIntervalMs, abort.signal);
          continue;
        }
        const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }), { abortSignal: abort.signal });
        if (readGeneration !== generation || holding > 0) continue; // read before or during a skip(): dropped
        const now = Date.now();
        for (const r of out.Records ?? []) {
          c.read++;
          const record = toStreamEventRecord(r, m.streamArn, endpoints.region);
          const seq = record.dynamodb?.SequenceNumber ?? '';
          lastSeq = seq;
          if (filter && !filter(record)) {
            c.filteredOut++;
            continue;
          }
          const lane = state.lanes[laneOf(record.dynamodb?.Keys, m.parallelizationFactor, hashKey)]!;
          lane.queue.push({ record, seq, readAt: now });
          lane.wake?.();
        }
        iterator = out.NextShardIterator;
        if (iterator === undefined || iterator === null) break; // the shard is closed and read
        if ((out.Records ?? []).length === 0) await sleep(pollIntervalMs, abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return;
        const n = (err as Error).name;
        if (n === 'ExpiredIteratorException' || n === 'TrimmedDataAccessException') iterator = undefined;
        else log(`[${name}] ${shardId}: ${n}: ${(err as Error).message}`);
        await sleep(pollIntervalMs * 4, abort.signal);
      }
    }
    state.readDone = true;
  };

  const discover = async (): Promise<void> => {
    const all: Shard[] = [];
    let start: string | undefined;
    do {
      const out = await client.send(new DescribeStreamCommand({ StreamArn: m.streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) }), { abortSignal: abort.signal });
      all.push(...(out.StreamDescription?.Shards ?? []));
      hashKey ??= out.StreamDescription?.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    const known = new Set(all.map((s) => s.ShardId));
    for (const shard of all) {
      const id = shard.ShardId!;
      if (!shards.has(id)) {
        const lanes = Array.from({ length: m.parallelizationFactor }, (_, index): Lane => ({ index, queue: [], attempts: 0, invokes: 0 }));
        // Shards present at start begin at StartingPosition; later (child) shards from their start.
        shards.set(id, { lanes, readDone: false, started: false, position: initial ? m.startingPosition : 'TRIM_HORIZON' });
      }
      const s = shards.get(id)!;
      const parent = shard.ParentShardId;
      if (!s.started && (parent === undefined || !known.has(parent) || settled(parent))) {
        s.started = true;
        for (const lane of s.lanes) track(runLane(id, lane));
        track(readShard(shard, s.position));
      }
    }
    initial = false;
  };

  const discoverLoop = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        await discover();
      } catch (err) {
        if (abort.signal.aborted) return;
        log(`[${name}] DescribeStream ${m.streamArn}: ${(err as Error).message}`);
      }
      await sleep(discoverIntervalMs, abort.signal);
    }
  };

  let started = false;
  return {
    start() {
      if (started || !m.enabled) return;
      started = true;
      track(discoverLoop());
    },
    async skip(during) {
      holding++;
      generation++;
      const mine = generation;
      for (const s of shards.values()) {
        for (const lane of s.lanes) {
          lane.queue.length = 0;
          lane.cap = undefined;
          lane.headSeq = undefined;
          lane.attempts = 0;
          lane.invokes = 0;
        }
      }
      try {
        return await during();
      } finally {
        // Every open shard's reader goes on from LATEST as of now: after whatever `during` wrote.
        await Promise.all(
          [...shards.entries()]
            .filter(([, s]) => s.started && !s.readDone)
            .map(async ([shardId, s]) => {
              try {
                const it = await client.send(new GetShardIteratorCommand({ StreamArn: m.streamArn, ShardId: shardId, ShardIteratorType: 'LATEST' }));
                if (it.ShardIterator !== undefined) s.resumeAt = { generation: mine, iterator: it.ShardIterator };
              } catch (err) {
                log(`[${name}] ${shardId}: GetShardIterator LATEST after a reset: ${(err as Error).message}`);
              }
            }),
        );
        holding--;
      }
    },
    async stop() {
      abort.abort();
      await Promise.allSettled([...tasks]);
      client.destroy();
    },
    stats: () => ({
      name,
      shards: shards.size,
      invocations: c.invocations,
      recordsRead: c.read,
      recordsFilteredOut: c.filteredOut,
      recordsProcessed: c.processed,
      recordsDiscarded: c.discarded,
      bisections: c.bisections,
      onFailureSent: c.sent,
      inFlight,
      maxConcurrentExecutions: maxInFlight,
      invocationLog: [...log2],
    }),
  };
}
