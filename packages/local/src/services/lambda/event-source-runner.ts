/**
 * Lambda's SQS poller, locally: long-polls a queue, builds batches of BatchSize within
 * MaximumBatchingWindowInSeconds, and runs at most `limit` invocations at once. A poller takes an
 * execution slot BEFORE it receives, so at the limit nobody polls: messages stay in the queue (that is the
 * backpressure) instead of being received and left to expire in memory. Nothing is deleted before the
 * handler returns; what is deleted follows the ReportBatchItemFailures contract (batch-response.ts).
 *
 * The limit comes from the scaling model (event-source-scaling.ts: a fixed cap, Lambda's standard
 * scale-up, or provisioned pollers); FilterCriteria drop records before any invocation
 * (event-source-filter.ts); FIFO queues get Lambda's group semantics (event-source-fifo.ts). Enabled,
 * BatchSize, the batching window, MaximumConcurrency and reserved concurrency change live (`update`).
 *
 * Three parts: polling (event-source-polling.ts: the queue calls, signed as the function's execution
 * role, and batch collection), settling (event-source-settling.ts: what is deleted after an invocation)
 * and telemetry (event-source-telemetry.ts: counters and bounded ring buffers). This file holds the
 * settings, the concurrency gate and the poll loops that tie them together.
 */
import { GetQueueAttributesCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { LocalEndpoints } from '../../core/endpoints.js';
import { LOCAL_CREDENTIALS } from '../../core/identity.js';
import { toSqsEvent, toSqsRecord } from './batch-response.js';
import type { FunctionHost } from '../../lambda-host/index.js';
import { compileFilterCriteria, type FilterCriteria } from './event-source-filter.js';
import { InFlightGroups, isFifoQueueUrl, planFifoBatch } from './event-source-fifo.js';
import { ConcurrencyGate } from './event-source-gate.js';
import { collectBatch, mappingQueue, type QueueCredentials } from './event-source-polling.js';
import { createScalingModel, validateScalingSettings, type ProvisionedPollerConfig, type ScalingMode, type ScalingModel, type ScalingSettings } from './event-source-scaling.js';
import { settleInvocation } from './event-source-settling.js';
import { RunnerTelemetry, type InvocationRecord, type ReceiveFailure, type RunnerSample, type TelemetryCapacity } from './event-source-telemetry.js';

export type { InvocationRecord, ReceiveFailure, RunnerSample, TelemetryCapacity } from './event-source-telemetry.js';

export interface EventSourceRunnerOptions {
  /** Name for stats and logs (the mapping's logical id). */
  readonly name: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly host: FunctionHost;
  readonly endpoints: LocalEndpoints;
  /**
   * Credentials the poller signs its queue calls with: the function's execution role's, as Lambda polls
   * with the role (its sqs:ReceiveMessage / DeleteMessage / ChangeMessageVisibility grants apply).
   * @default LOCAL_CREDENTIALS (the local admin)
   */
  readonly credentials?: QueueCredentials;
  /** How many samples and invocation records stats() keeps (ring buffers). */
  readonly telemetryCapacity?: TelemetryCapacity;
  /** 1..10,000. @default 10 */
  readonly batchSize?: number;
  /** 0..300. @default 0 */
  readonly maximumBatchingWindowSeconds?: number;
  /** ScalingConfig.MaximumConcurrency. */
  readonly maximumConcurrency?: number;
  /** The function's ReservedConcurrentExecutions (0 = throttled: nothing is received). */
  readonly reservedConcurrency?: number;
  /** ProvisionedPollerConfig (exclusive with maximumConcurrency). */
  readonly provisionedPollerConfig?: ProvisionedPollerConfig;
  /**
   * A fixed local cap used when neither MaximumConcurrency, reserved concurrency nor provisioned pollers
   * are set, instead of Lambda's standard scale-up. @default undefined (Lambda's scale-up)
   */
  readonly defaultConcurrency?: number;
  /** Local ceiling on concurrent invocations. @default 150 or FLOODGATE_LOCAL_MAX_CONCURRENCY */
  readonly localCeiling?: number;
  /** The mapping's Enabled. @default true */
  readonly enabled?: boolean;
  /** FilterCriteria; records no filter matches are deleted without an invocation. */
  readonly filterCriteria?: FilterCriteria;
  /** FIFO group semantics. @default the queue URL ends in `.fifo` */
  readonly fifo?: boolean;
  readonly reportBatchItemFailures?: boolean;
  /** Concurrent ReceiveMessage loops (each holds a slot while it polls). @default min(ceiling, 10) */
  readonly pollers?: number;
  /** Long-poll wait for an empty queue, seconds. @default 20 */
  readonly waitTimeSeconds?: number;
  /**
   * Longest single ReceiveMessage wait, seconds: how long a live change (disable, lower cap) can take to
   * reach a poll already waiting. @default 2
   */
  readonly controlLatencySeconds?: number;
  /** Period of the in-flight / queue-depth samples, ms. @default 250 */
  readonly sampleIntervalMs?: number;
  /** Period of the scaling model's observations, ms. @default 250 */
  readonly scalingIntervalMs?: number;
  /** Clock for the scaling model (tests). @default Date.now */
  readonly now?: () => number;
  /** Called after each invocation is settled. */
  readonly onInvocation?: (record: InvocationRecord) => void;
}

/** The settings that can change on a running poller (UpdateEventSourceMapping, PutFunctionConcurrency). */
export interface RunnerSettings {
  readonly enabled: boolean;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly maximumConcurrency?: number;
  readonly reservedConcurrency?: number;
  readonly provisionedPollerConfig?: ProvisionedPollerConfig;
  readonly filterCriteria?: FilterCriteria;
}

/** A change to apply at once; `null` removes MaximumConcurrency / reserved concurrency / provisioned mode. */
export interface RunnerUpdate {
  readonly enabled?: boolean;
  readonly batchSize?: number;
  readonly maximumBatchingWindowSeconds?: number;
  readonly maximumConcurrency?: number | null;
  readonly reservedConcurrency?: number | null;
  readonly provisionedPollerConfig?: ProvisionedPollerConfig | null;
  /** New FilterCriteria (compiled first: a bad pattern changes nothing); null removes filtering. */
  readonly filterCriteria?: FilterCriteria | null;
}

export interface RunnerStats {
  readonly name: string;
  /** Concurrent invocations allowed now. */
  readonly concurrencyCap: number;
  readonly scalingMode: ScalingMode;
  /** Provisioned mode: event pollers now. */
  readonly pollers?: number;
  readonly settings: RunnerSettings;
  readonly startedAt: number;
  readonly invocations: number;
  readonly errors: number;
  readonly messagesReceived: number;
  readonly messagesDeleted: number;
  readonly messagesFailed: number;
  /** Deleted without an invocation because no filter matched. */
  readonly messagesFilteredOut: number;
  /** Received, then returned to the queue undelivered (disabled or cap lowered mid-receive, FIFO group busy). */
  readonly messagesReturned: number;
  readonly inFlight: number;
  /** Exact maximum of concurrent invocations (counted at each start, not sampled). */
  readonly maxConcurrentExecutions: number;
  /** FIFO: most message groups in flight at once. */
  readonly maxConcurrentGroups: number;
  /** The most recent samples (a ring buffer: see telemetryCapacity), oldest first. */
  readonly samples: readonly RunnerSample[];
  /** The most recent invocations (a ring buffer: see telemetryCapacity), oldest first. */
  readonly invocationLog: readonly InvocationRecord[];
  /** Samples and invocation records let go by the ring buffers. */
  readonly telemetryDropped: { readonly samples: number; readonly invocations: number };
  readonly receiveErrors: number;
  /** The last failed ReceiveMessage, e.g. AccessDenied when the function's role may not receive from the queue. */
  readonly lastReceiveError?: ReceiveFailure;
}

export interface EventSourceRunner {
  /** Concurrent invocations allowed now. */
  readonly concurrencyCap: number;
  /** Invocations running now. */
  readonly inFlight: number;
  start(): void;
  /**
   * Lambda's mapping State: `Disabling` while receives that started before a disable are still out
   * (whatever they bring back is returned to the queue), then `Disabled`.
   */
  state(): MappingState;
  /** Applies a settings change at once (validated first; a bad change changes nothing). */
  update(change: RunnerUpdate): RunnerSettings;
  settings(): RunnerSettings;
  /** Stops polling, waits for running invocations to be settled. */
  /**
   * Stops polling; invocations in flight finish. `handBack`: receives in progress are not cut off but
   * finish, and what they bring back goes to the queue at once (a restart: an update, a hotswap), since an
   * emulator may already have taken messages for a cut receive, which then stay invisible for their
   * visibility timeout. Costs up to one short receive (controlLatencySeconds).
   */
  stop(options?: { readonly handBack?: boolean }): Promise<void>;
  stats(): RunnerStats;
}

export type MappingState = 'Enabled' | 'Disabling' | 'Disabled';

export class RunnerSettingsError extends Error {
  override readonly name = 'RunnerSettingsError';
}

/** min(MaximumConcurrency, ReservedConcurrentExecutions), whichever are set. */
export function concurrencyCap(maximumConcurrency: number | undefined, reservedConcurrency: number | undefined, fallback = 10): number {
  const caps = [maximumConcurrency, reservedConcurrency].filter((x): x is number => x !== undefined);
  const cap = caps.length ? Math.min(...caps) : fallback;
  if (cap < 1) throw new Error(`concurrency cap is ${cap}: the function cannot run (ReservedConcurrentExecutions 0 disables it)`);
  return cap;
}

function checkBatching(name: string, batchSize: number, windowSeconds: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new RunnerSettingsError(`${name}: BatchSize must be 1..10000 (got ${batchSize})`);
  if (!Number.isFinite(windowSeconds) || windowSeconds < 0 || windowSeconds > 300) throw new RunnerSettingsError(`${name}: MaximumBatchingWindowInSeconds must be 0..300 (got ${windowSeconds})`);
  if (batchSize > 10 && windowSeconds < 1) throw new RunnerSettingsError(`${name}: BatchSize > 10 needs MaximumBatchingWindowInSeconds >= 1 (as Lambda requires)`);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export function createEventSourceRunner(options: EventSourceRunnerOptions): EventSourceRunner {
  const { name, queueUrl, queueArn, host, endpoints, reportBatchItemFailures = false, waitTimeSeconds = 20, controlLatencySeconds = 2, sampleIntervalMs = 250, scalingIntervalMs = 250, onInvocation } = options;
  const clock = options.now ?? Date.now;
  let settings: RunnerSettings = {
    enabled: options.enabled ?? true,
    batchSize: options.batchSize ?? 10,
    maximumBatchingWindowSeconds: options.maximumBatchingWindowSeconds ?? 0,
    ...(options.maximumConcurrency !== undefined ? { maximumConcurrency: options.maximumConcurrency } : {}),
    ...(options.reservedConcurrency !== undefined ? { reservedConcurrency: options.reservedConcurrency } : {}),
    ...(options.provisionedPollerConfig !== undefined ? { provisionedPollerConfig: options.provisionedPollerConfig } : {}),
    ...(options.filterCriteria !== undefined ? { filterCriteria: options.filterCriteria } : {}),
  };
  checkBatching(name, settings.batchSize, settings.maximumBatchingWindowSeconds);
  const scalingSettings = (s: RunnerSettings): ScalingSettings => {
    // A legacy fixed default cap stands in for MaximumConcurrency when nothing else bounds the mapping.
    const fallback = s.maximumConcurrency === undefined && s.reservedConcurrency === undefined && s.provisionedPollerConfig === undefined ? options.defaultConcurrency : undefined;
    return {
      ...(s.maximumConcurrency !== undefined ? { maximumConcurrency: s.maximumConcurrency } : {}),
      ...(s.reservedConcurrency !== undefined ? { reservedConcurrency: s.reservedConcurrency } : fallback !== undefined ? { reservedConcurrency: fallback } : {}),
      ...(s.provisionedPollerConfig !== undefined ? { provisionedPollerConfig: s.provisionedPollerConfig } : {}),
      ...(options.localCeiling !== undefined ? { localCeiling: options.localCeiling } : {}),
    };
  };
  const validate = (s: RunnerSettings): void => {
    checkBatching(name, s.batchSize, s.maximumBatchingWindowSeconds);
    try {
      validateScalingSettings(scalingSettings(s), name);
    } catch (err) {
      throw new RunnerSettingsError((err as Error).message);
    }
  };
  validate(settings);
  let model: ScalingModel = createScalingModel(scalingSettings(settings), clock());
  let filter = compileFilterCriteria(options.filterCriteria, `${name}.FilterCriteria`);
  const fifo = options.fifo ?? isFifoQueueUrl(queueUrl);
  const effectiveLimit = (): number => (settings.enabled ? model.limit() : 0);
  const gate = new ConcurrencyGate(effectiveLimit());
  const loopCount = options.pollers ?? Math.max(1, Math.min(model.ceiling, 10));
  // Lambda's calls, as the function's role; the depth samples are our own instrumentation (admin).
  const queue = mappingQueue(queueUrl, endpoints, options.credentials);
  const inspector = new SQSClient({ region: endpoints.region, credentials: LOCAL_CREDENTIALS, endpoint: endpoints.sqs });
  const telemetry = new RunnerTelemetry(options.telemetryCapacity);
  const c = telemetry.counters;
  const abort = new AbortController();
  let handBackOnStop = false;
  /** One per receive in progress: aborted when a change must stop receives at once. */
  const cycles = new Set<AbortController>();
  const groupsInFlight = new InFlightGroups();
  let started = false;
  let saturated = false;
  let messagesSeen = false;
  const running = new Set<Promise<void>>();
  const loops: Promise<void>[] = [];
  const timers: NodeJS.Timeout[] = [];

  // Receives in progress are NOT aborted on a change: an emulator may already have handed the messages
  // to the aborted request (they would then stay invisible for a whole visibility timeout). Each receive
  // waits at most `controlLatencySeconds`, and what one brings back over a lowered cap or after a disable
  // is returned to the queue at once, undelivered.
  const applyLimit = (): void => gate.setLimit(effectiveLimit());

  const returnToQueue = async (messages: readonly Message[]): Promise<void> => {
    if (messages.length === 0) return;
    c.returned += messages.length;
    await queue.returnToQueue(messages);
  };

  const runBatch = async (batch: Message[], groups: readonly string[]): Promise<void> => {
    if (fifo) groupsInFlight.add(groups);
    telemetry.invocationStarted(batch.length, fifo ? groupsInFlight.size : undefined);
    try {
      const result = await host.invoke(toSqsEvent(batch, queueArn, endpoints.region));
      const record = await settleInvocation(queue, { batch, result, reportBatchItemFailures, t: telemetry.elapsed(), ...(fifo ? { groups } : {}) });
      telemetry.invocationSettled(record);
      onInvocation?.(record);
    } catch (err) {
      // The host was stopped under us, or DeleteMessageBatch failed: messages go back after the timeout.
      telemetry.invocationBroken();
      if (!abort.signal.aborted) console.error(`[${name}] invocation failed: ${(err as Error).message}`);
    } finally {
      telemetry.invocationEnded();
      if (fifo) groupsInFlight.remove(groups);
      gate.release();
    }
  };

  /** Applies FilterCriteria: deletes what no filter matches, returns the rest. */
  const applyFilter = async (batch: Message[]): Promise<Message[]> => {
    if (!filter) return batch;
    const keep: Message[] = [];
    const drop: Message[] = [];
    for (const m of batch) (filter(toSqsRecord(m, queueArn, endpoints.region)) ? keep : drop).push(m);
    if (drop.length > 0) c.filteredOut += await queue.delete(drop).catch(() => 0);
    return keep;
  };

  const pollLoop = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      if (gate.inUse >= gate.limit) saturated = true;
      if (!(await gate.acquire(abort.signal))) return;
      const cycle = new AbortController();
      const onStop = (): void => {
        if (!handBackOnStop) cycle.abort();
      };
      abort.signal.addEventListener('abort', onStop, { once: true });
      cycles.add(cycle);
      let batch: Message[] = [];
      try {
        const { batchSize, maximumBatchingWindowSeconds } = settings;
        batch = await collectBatch(queue, { batchSize, maximumBatchingWindowSeconds, firstWaitSeconds: Math.min(waitTimeSeconds, controlLatencySeconds) }, cycle.signal);
        telemetry.receiveSucceeded();
      } catch (err) {
        cycles.delete(cycle);
        abort.signal.removeEventListener('abort', onStop);
        gate.release();
        if (abort.signal.aborted) return;
        // A refusal (the role lacks sqs:ReceiveMessage) is said once, not at every retry.
        if (telemetry.receiveFailed(err)) console.error(`[${name}] ReceiveMessage on ${queueUrl} failed: ${telemetry.lastReceiveError!.code}: ${telemetry.lastReceiveError!.message}`);
        await sleep(500, abort.signal);
        continue;
      }
      abort.signal.removeEventListener('abort', onStop);
      if (batch.length > 0) messagesSeen = true;
      // Disabled, stopped or cap lowered while this receive ran: deliver nothing, hand the messages back.
      if (batch.length > 0 && (!settings.enabled || abort.signal.aborted || gate.inUse > gate.limit)) {
        await returnToQueue(batch);
        batch = [];
      }
      cycles.delete(cycle); // only now is a disable complete (state Disabled)
      let deliver = batch.length > 0 ? await applyFilter(batch) : batch;
      let groups: readonly string[] = [];
      if (fifo && deliver.length > 0) {
        const plan = planFifoBatch(deliver, groupsInFlight.asSet());
        await returnToQueue(plan.holdBack);
        deliver = [...plan.deliver];
        groups = plan.groups;
      }
      if (deliver.length === 0) {
        gate.release();
        continue;
      }
      const p = runBatch(deliver, groups).finally(() => running.delete(p));
      running.add(p);
    }
  };

  const sample = async (): Promise<void> => {
    const s: { -readonly [K in keyof RunnerSample]: RunnerSample[K] } = { t: telemetry.elapsed(), inFlight: telemetry.inFlight, limit: gate.limit, ...(fifo ? { activeGroups: groupsInFlight.size } : {}) };
    try {
      const a = await inspector.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      s.visible = Number(a.Attributes?.ApproximateNumberOfMessages ?? 0);
      s.notVisible = Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    } catch {
      // sampling is best effort
    }
    telemetry.samples.push(s);
  };

  const observe = (): void => {
    if (gate.inUse >= gate.limit) saturated = true;
    model.observe({ now: clock(), saturated, messagesSeen });
    saturated = false;
    messagesSeen = false;
    applyLimit();
  };

  return {
    get concurrencyCap() {
      return gate.limit;
    },
    get inFlight() {
      return telemetry.inFlight;
    },
    start() {
      if (started) return;
      started = true;
      for (let i = 0; i < loopCount; i++) loops.push(pollLoop());
      timers.push(setInterval(() => void sample(), sampleIntervalMs));
      if (model.mode !== 'capped') timers.push(setInterval(observe, scalingIntervalMs));
      void sample();
    },
    update(change) {
      const next: Record<string, unknown> = { ...settings };
      for (const [k, v] of Object.entries(change)) {
        if (v === undefined) continue;
        if (v === null) delete next[k];
        else next[k] = v;
      }
      const candidate = next as unknown as RunnerSettings;
      validate(candidate);
      const nextFilter = change.filterCriteria !== undefined ? compileFilterCriteria(candidate.filterCriteria, `${name}.FilterCriteria`) : filter;
      filter = nextFilter;
      const scalingChanged = (['maximumConcurrency', 'reservedConcurrency', 'provisionedPollerConfig'] as const).some((k) => JSON.stringify(candidate[k]) !== JSON.stringify(settings[k]));
      settings = candidate;
      if (scalingChanged) {
        const wasCapped = model.mode === 'capped';
        model = createScalingModel(scalingSettings(settings), clock());
        if (started && wasCapped && model.mode !== 'capped') timers.push(setInterval(observe, scalingIntervalMs));
      }
      applyLimit();
      return settings;
    },
    settings: () => settings,
    state: () => (settings.enabled ? 'Enabled' : cycles.size > 0 ? 'Disabling' : 'Disabled'),
    async stop(stopOptions = {}) {
      handBackOnStop = stopOptions.handBack === true;
      abort.abort();
      for (const t of timers) clearInterval(t);
      await Promise.allSettled(loops);
      await Promise.allSettled([...running]);
      queue.destroy();
      inspector.destroy();
    },
    stats() {
      const pollers = model.pollers();
      return {
        name,
        concurrencyCap: gate.limit,
        scalingMode: model.mode,
        ...(pollers !== undefined ? { pollers } : {}),
        settings,
        startedAt: telemetry.startedAt,
        invocations: c.invocations,
        errors: c.errors,
        messagesReceived: c.received,
        messagesDeleted: c.deleted,
        messagesFailed: c.failed,
        messagesFilteredOut: c.filteredOut,
        messagesReturned: c.returned,
        inFlight: telemetry.inFlight,
        maxConcurrentExecutions: telemetry.maxInFlight,
        maxConcurrentGroups: telemetry.maxGroups,
        samples: telemetry.samples.toArray(),
        invocationLog: telemetry.invocations.toArray(),
        telemetryDropped: { samples: telemetry.samples.dropped, invocations: telemetry.invocations.dropped },
        receiveErrors: c.receiveErrors,
        ...(telemetry.lastReceiveError ? { lastReceiveError: telemetry.lastReceiveError } : {}),
      };
    },
  };
}
