/**
 * The event-path chaos run (issue 23 part 4): a burst of events published on SNS (raw and enveloped),
 * EventBridge, S3 notifications and a DynamoDB stream of the app in app.ts, each path into a bounded
 * consumer with idempotency on the local stack, with the faults of the image-pipeline chaos run:
 *  - killed execution environments and paused holders (FLOODGATE_FAULTS fault points in the consumers),
 *    SDK-level AWS errors (throttling, 5xx);
 *  - held and dropped responses (chaos/network-faults.ts between the consumers and DynamoDB, planned by
 *    fault-plan.ts): held fenced writes are delivered after a newer owner finished, and must be refused;
 *  - every consumer throttled to its cap: the whole burst is published before the pollers start;
 *  - duplicate publishes and poison events;
 *  - events sent on the policy-less paths (no queue policy): each must be denied and counted.
 * Then the invariants (invariants.ts), and the stale-holder probe on the idempotency records.
 */
import { randomBytes } from 'node:crypto';
import { PutItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import { FAULTS_ENV, seededRandom, type FaultConfig } from '@floodgate/runtime';
import { IdempotencyStore } from '@floodgate/runtime/idempotency';
import { startLocalStack, synthesize, type LocalEndpoints, type LocalStack } from '@floodgate/local';
import { DlqClient } from '../../tools/dlq/dlq-client';
import { startFaultProxy, type FaultProxy, type FaultProxyStats } from '../network-faults';
import { DEFAULT_NETWORK_RATES, type NetworkRates } from '../network-plan';
import { crashRateFor } from '../plan';
import { queueDepth } from '../observe';
import { eventFaultPlan } from './fault-plan';
import { checkEventInvariants, type ConsumerConcurrency, type DeliveryCounters, type EffectView, type EventChaosVerdict, type FailedMessage, type IdempotencyRecordView, type PublishedEvent } from './invariants';
import { EVENT_PATHS, EVENT_PATHS_OUTPUTS as OUT, eventPayload, NO_POLICY, POLICY_LESS_PATHS, QUEUE_PATHS, s3KeyOf, sourceItemOf, type EventPath, type PolicyLessPath, type QueuePath } from './paths';

export interface EventChaosRates {
  /** Share of events published twice. @default 0.1 */
  readonly duplicateRate: number;
  /** Share of poison events (at least one per path). @default 0.02 */
  readonly poisonRate: number;
  /** Target share of invocations killed. @default 0.05 */
  readonly killRate: number;
  /** Share of AWS calls failing (throttling / 5xx) at the consumers' SDK layer. @default 0.05 */
  readonly awsErrorRate: number;
  /** Share of fault points where the holder pauses. @default 0.004 */
  readonly pauseRate: number;
  /** Events sent on the policy-less paths, as a share of the burst, on top of it (at least one per path). @default 0.02 */
  readonly policyLessRate: number;
}

export const DEFAULT_EVENT_RATES: EventChaosRates = { duplicateRate: 0.1, poisonRate: 0.02, killRate: 0.05, awsErrorRate: 0.05, pauseRate: 0.004, policyLessRate: 0.02 };

export interface EventChaosOptions {
  /** Events in the burst, spread evenly over the five paths. @default 1000 */
  readonly events?: number;
  /** @default 1 */
  readonly seed?: number;
  readonly rates?: Partial<EventChaosRates>;
  /** Shared emulators (tests); otherwise the stack starts and stops its own. */
  readonly endpoints?: LocalEndpoints;
  /** The app synthesized (synthEventPathsApp); otherwise synthesized here. */
  readonly assemblyDir?: string;
  /** From the start of the burst (the stack is up; elapsedMs counts from there too), after this the verdict is taken on what is there. @default 300000 */
  readonly timeBudgetMs?: number;
  /** Local override of the consumer queues' visibility timeout (6 x 20 s in the template). @default 30 */
  readonly queueVisibilitySeconds?: number;
  /** How long a paused holder sleeps. @default 16000 (most of the 20 s timeout: it resumes near its deadline) */
  readonly pauseMs?: number;
  /** Held and dropped responses between the consumers and DynamoDB; false = none. @default DEFAULT_NETWORK_RATES */
  readonly network?: Partial<NetworkRates> | false;
  /** Concurrent publish requests. @default 16 */
  readonly publishConcurrency?: number;
  readonly log?: (line: string) => void;
}

export interface StaleProbeResult {
  readonly attempts: number;
  readonly rejected: number;
  readonly accepted: number;
  readonly recordsChanged: number;
}

export interface EventChaosResult {
  readonly verdict: EventChaosVerdict;
  readonly settled: boolean;
  readonly faults: FaultConfig;
  readonly overrides: Record<string, string>;
  readonly publishes: number;
  readonly invocations: number;
  /** executionsKilled / invocations, measured. */
  readonly killedShare: number;
  readonly logEvents: Record<string, number>;
  /** The consumers' `record failed` lines by ErrorClass (retryable ones are retried; permanent ones dead-lettered). */
  readonly recordFailures: Record<string, number>;
  /** How long publishing the burst took, ms. */
  readonly burstPublishMs: number;
  /** Messages in the DLQs and the on-failure queue, by path and ErrorClass. */
  readonly failedMessageClasses: Record<string, number>;
  readonly network?: { readonly rates: NetworkRates; readonly stats: FaultProxyStats };
  readonly staleHolderProbe: StaleProbeResult;
  /** EventBridge FailedInvocations of the rule (any cause; AWS's metric), summed. */
  readonly eventBridgeFailedInvocations: number;
}

/** Fault points a record passes in the consumers: after-claim, after-effect, before-complete. */
const FAULT_POINTS_PER_RECORD = 3;
/** Records per invocation while a consumer drains a burst at its cap (batches of 10, some partial). */
const TYPICAL_RECORDS_PER_INVOCATION = 6;
const WATCHED_EVENTS = ['fault-crash', 'fault-pause', 'stale-fenced-write-rejected', 'claim-lost-before-completion', 'duplicate skipped', 'record failed', 'record sent to the on-failure queue'];

/**
 * Denied deliveries as the local stack counts them (`deliveryFailures()`, issue 23 part 2): the total the
 * resource policies refused, SNS's NumberOfNotificationsFailed per topic, EventBridge's FailedInvocations
 * per rule, the latest denial; and whether the stack enforces resource policies at all (`iam`).
 */
export function readDeniedDeliveries(stack: Pick<LocalStack, 'deliveryFailures' | 'iam'>): DeliveryCounters {
  const f = stack.deliveryFailures();
  const last = f.denied.at(-1);
  return {
    enforced: stack.iam,
    deniedDeliveries: f.deniedDeliveries,
    snsNotificationsFailed: Object.fromEntries(f.sns.map((t) => [t.topicArn, t.NumberOfNotificationsFailed])),
    eventsFailedInvocations: Object.fromEntries(f.events.map((r) => [r.ruleArn, r.FailedInvocations])),
    ...(last ? { latest: { service: last.service, action: last.action, resource: last.resource, sourceArn: last.sourceArn, message: last.message } } : {}),
  };
}

export function planEvents(count: number, seed: number, runId: string, rates: EventChaosRates): { events: PublishedEvent[]; duplicates: Map<number, number>; policyLess: { id: string; path: PolicyLessPath }[] } {
  const random = seededRandom(seed);
  const poisonCount = rates.poisonRate > 0 ? Math.max(Math.round(count * rates.poisonRate), count >= EVENT_PATHS.length * 4 ? EVENT_PATHS.length : 0) : 0;
  // Poison: the first poisonCount indices after a seeded offset, so every path gets one (paths go round robin).
  const offset = Math.floor(random() * count);
  const poison = new Set(Array.from({ length: poisonCount }, (_, i) => (offset + i) % count));
  const events = Array.from({ length: count }, (_, i) => ({ id: `${runId}-${i}`, path: EVENT_PATHS[i % EVENT_PATHS.length]!, poison: poison.has(i) }));
  const duplicates = new Map<number, number>();
  for (let i = 0; i < count; i++) if (!poison.has(i) && random() < rates.duplicateRate) duplicates.set(i, Math.floor(random() * 4000));
  const policyLessCount = rates.policyLessRate > 0 ? Math.max(Math.round(count * rates.policyLessRate), POLICY_LESS_PATHS.length) : 0;
  const policyLess = Array.from({ length: policyLessCount }, (_, i) => ({ id: `${runId}-np${i}`, path: POLICY_LESS_PATHS[i % POLICY_LESS_PATHS.length]! }));
  return { events, duplicates, policyLess };
}

async function scanAll(dynamodb: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return out;
}

/**
 * The structured object of a log line. The constructs' functions log in Lambda's JSON format, where a
 * console.log(JSON.stringify(...)) (the fault points' lines, the effect's refusals) arrives as the string
 * `message` of Lambda's own object: that string is the line's object.
 */
function structuredLine(j: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (typeof j?.message !== 'string' || !j.message.startsWith('{')) return j;
  try {
    const inner: unknown = JSON.parse(j.message);
    return typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? (inner as Record<string, unknown>) : j;
  } catch {
    return j;
  }
}

const recordView = (i: Record<string, AttributeValue>): IdempotencyRecordView => ({ id: i.id?.S ?? '', status: i.status?.S ?? '', fence: Number(i.fence?.N ?? 0), completions: Number(i.completions?.N ?? 0) });

/** Synthesizes app.ts (cached by the hash of the app, its handlers and the built packages). */
export async function synthEventPathsApp(log: (line: string) => void = () => undefined): Promise<string> {
  const { assemblyDir } = await synthesize({
    app: 'npx tsx chaos/event-paths/app.ts',
    outDir: '.floodgate/event-paths-chaos.out',
    // What the app and its handlers are made of (not the run's own files): a changed run re-uses the assembly.
    inputs: [...['app', 'paths', 'effect', 'queue-consumer', 'stream-consumer'].map((f) => `chaos/event-paths/${f}.ts`), 'packages/cdk/dist', 'packages/runtime/dist', 'package-lock.json'],
    log,
  });
  return assemblyDir;
}

export async function runEventChaos(options: EventChaosOptions = {}): Promise<EventChaosResult> {
  let started = Date.now();
  const log = options.log ?? (() => undefined);
  const count = options.events ?? 1000;
  const seed = options.seed ?? 1;
  const budget = options.timeBudgetMs ?? 300_000;
  const rates: EventChaosRates = { ...DEFAULT_EVENT_RATES, ...options.rates };
  const faults: FaultConfig = {
    seed,
    awsErrorRate: rates.awsErrorRate,
    crashRate: Number(crashRateFor(rates.killRate, FAULT_POINTS_PER_RECORD * TYPICAL_RECORDS_PER_INVOCATION).toFixed(5)),
    pauseRate: rates.pauseRate,
    pauseMs: options.pauseMs ?? 16_000,
  };
  const runId = `e${randomBytes(3).toString('hex')}`;
  const { events, duplicates, policyLess } = planEvents(count, seed, runId, rates);
  const indexOf = (id: string): number | undefined => {
    if (!id.startsWith(`${runId}-`)) return undefined;
    const n = Number(id.slice(runId.length + 1));
    return Number.isInteger(n) && n >= 0 && n < count ? n : undefined;
  };

  const assemblyDir = options.assemblyDir ?? (await synthEventPathsApp(log));

  const networkRates: NetworkRates | undefined = options.network === false ? undefined : { ...DEFAULT_NETWORK_RATES, ...options.network };
  let upstream = '';
  let decide: Parameters<typeof startFaultProxy>[0]['decide'] = () => ({ fault: 'none' });
  const proxy: FaultProxy | undefined = networkRates
    ? await startFaultProxy({ upstream: () => upstream, decide: (req) => decide(req), maxHolds: Math.max(1, Math.ceil(count * networkRates.holdRate)), maxDrops: Math.max(1, Math.ceil(count * networkRates.dropRate * 2)), log })
    : undefined;
  const logEvents: Record<string, number> = Object.fromEntries(WATCHED_EVENTS.map((e) => [e, 0]));
  let staleEffectsRejected = 0;
  const recordFailures: Record<string, number> = {};
  const overrides: Record<string, string> = {};
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      assembly: assemblyDir,
      ...(options.endpoints ? { emulators: options.endpoints } : {}),
      prefix: `evc${randomBytes(2).toString('hex')}`,
      waitTimeSeconds: 1,
      startRunners: false,
      log,
      functionEnv: (fn) => {
        if (fn.environment.EVENT_PATH === undefined) return {};
        const env: Record<string, string> = { [FAULTS_ENV]: JSON.stringify(faults), ...(proxy ? { AWS_ENDPOINT_URL_DYNAMODB: proxy.url } : {}) };
        for (const [k, v] of Object.entries(env)) overrides[`${fn.logicalId}.env.${k}`] = k === FAULTS_ENV ? v : 'the fault proxy';
        return env;
      },
      onLog: (entry) => {
        if (process.env.CHAOS_DEBUG) process.stderr.write(`[${entry.functionName}#${entry.environmentId}] ${entry.line}\n`);
        const j = structuredLine(entry.json);
        if (j === undefined) return;
        const ev = typeof j.event === 'string' ? j.event : typeof j.message === 'string' ? j.message : undefined;
        if (ev !== undefined && ev in logEvents) logEvents[ev]!++;
        if (j.event === 'stale-fenced-write-rejected' && j.write === 'effect' && Number(j.storedFence) > Number(j.fence)) staleEffectsRejected++;
        if (j.message === 'record failed' && typeof j.errorClass === 'string') recordFailures[j.errorClass] = (recordFailures[j.errorClass] ?? 0) + 1;
      },
    });
  } catch (err) {
    await proxy?.stop();
    throw err;
  }
  const { sqs, sns, s3, dynamodb } = stack.clients;
  upstream = stack.endpoint;
  const out = (k: string): string => {
    const v = stack.outputs[k];
    if (v === undefined) throw new Error(`the stack has no ${k} output`);
    return v;
  };
  try {
    const idempotencyTable = out(OUT.idempotencyTable);
    const effectsTable = out(OUT.effectsTable);
    const poisonIds = new Set(events.filter((e) => e.poison).map((e) => e.id));
    if (networkRates) decide = eventFaultPlan({ seed, rates: networkRates, idempotencyTable, effectsTable, dynamodb: () => dynamodb, indexOf: (id) => (poisonIds.has(id) ? undefined : indexOf(id)) });
    const queueUrls = Object.fromEntries(QUEUE_PATHS.map((p) => [p, out(OUT.queueUrl(p))])) as Record<QueuePath, string>;
    const dlqUrls = Object.fromEntries(QUEUE_PATHS.map((p) => [p, out(OUT.deadLetterQueueUrl(p))])) as Record<QueuePath, string>;
    const onFailureUrl = out(OUT.onFailureQueueUrl);
    const visibility = options.queueVisibilitySeconds ?? 30;
    for (const p of QUEUE_PATHS) {
      const before = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrls[p], AttributeNames: ['VisibilityTimeout'] }))).Attributes?.VisibilityTimeout;
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrls[p], Attributes: { VisibilityTimeout: String(visibility) } }));
      overrides[`${p}.queue.visibilityTimeoutSeconds`] = `${before ?? '?'} -> ${visibility}`;
    }

    const topicArn = out(OUT.topicArn);
    const bus = out(OUT.busName);
    const bucket = out(OUT.bucket);
    const sourceTable = out(OUT.sourceTable);
    let publishes = 0;
    const publish = async (e: PublishedEvent, duplicate: boolean): Promise<void> => {
      switch (e.path) {
        case 'sns-raw':
        case 'sns-envelope':
          await sns.send(new PublishCommand({ TopicArn: topicArn, Message: JSON.stringify(eventPayload(e)), MessageAttributes: { delivery: { DataType: 'String', StringValue: e.path === 'sns-raw' ? 'raw' : 'envelope' } } }));
          break;
        case 'eventbridge': {
          const r = stack.putEvents(bus, [{ Source: 'floodgate.chaos', DetailType: 'chaos-event', Detail: JSON.stringify(eventPayload(e)) }]);
          if (r.FailedEntryCount > 0) throw new Error(`PutEvents refused ${e.id}: ${JSON.stringify(r.Entries)}`);
          break;
        }
        case 's3':
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: s3KeyOf(e), Body: e.id }));
          break;
        case 'dynamodb-stream':
          // A duplicate changes `rev`: DynamoDB writes no stream record for a write that changes nothing.
          await dynamodb.send(new PutItemCommand({ TableName: sourceTable, Item: sourceItemOf(e, duplicate ? 2 : 1) }));
          break;
      }
      publishes++;
    };
    const sentPolicyLess = new Map<PolicyLessPath, string[]>(POLICY_LESS_PATHS.map((p) => [p, []]));
    const sendPolicyLess = async (e: { id: string; path: PolicyLessPath }): Promise<void> => {
      const payload = JSON.stringify(eventPayload({ id: e.id, poison: false }));
      if (e.path === 'sns-no-policy') {
        await sns.send(new PublishCommand({ TopicArn: topicArn, Message: payload, MessageAttributes: { delivery: { DataType: 'String', StringValue: NO_POLICY.snsDelivery } } }));
      } else {
        const r = stack.putEvents(bus, [{ Source: NO_POLICY.eventSource, DetailType: 'chaos-event', Detail: payload }]);
        if (r.FailedEntryCount > 0) throw new Error(`PutEvents refused ${e.id}: ${JSON.stringify(r.Entries)}`);
      }
      sentPolicyLess.get(e.path)!.push(e.id);
    };

    log(`chaos:events: ${count} events over ${EVENT_PATHS.join(', ')} (seed ${seed}), ${events.filter((e) => e.poison).length} poison, ${duplicates.size} published twice, and ${policyLess.length} on the policy-less paths (${POLICY_LESS_PATHS.join(', ')}); faults ${JSON.stringify(faults)}`);
    const limit = pLimit(options.publishConcurrency ?? 16);
    const burstStart = Date.now();
    // The budget is the run's, from the burst on: synthesis and the stack's start vary with the machine.
    started = burstStart;
    await Promise.all([...events.map((e) => limit(() => publish(e, false))), ...policyLess.map((e) => limit(() => sendPolicyLess(e)))]);
    const burstPublishMs = Date.now() - burstStart;
    log(`chaos:events: burst of ${count} published in ${burstPublishMs} ms (pollers not started yet); starting the consumers`);
    stack.startRunners();
    const dupErrors: unknown[] = [];
    const dupDone = Promise.all(
      [...duplicates].map(([i, delay]) =>
        new Promise((r) => setTimeout(r, delay)).then(() => limit(() => publish(events[i]!, true))).catch((err: unknown) => void dupErrors.push(err)),
      ),
    );

    const goodIds = new Set(events.filter((e) => !e.poison).map((e) => e.id));
    const poisonCount = poisonIds.size;
    const streamPoller = () => [...stack.streamPollers.values()][0]!.stats();
    let settled = false;
    let lastLine = '';
    let quietSince = 0;
    let lastProgress = '';
    await dupDone;
    if (dupErrors.length > 0) throw new Error(`${dupErrors.length} duplicate publishes failed; first: ${String(dupErrors[0])}`, { cause: dupErrors[0] });
    while (Date.now() - started < budget) {
      const records = (await scanAll(dynamodb, idempotencyTable)).map(recordView);
      const completed = records.filter((r) => goodIds.has(r.id) && r.status === 'completed').length;
      let backlog = 0;
      for (const p of QUEUE_PATHS) {
        const q = await queueDepth(sqs, queueUrls[p]);
        backlog += q.visible + q.inFlight + q.delayed;
      }
      let failedDepth = (await queueDepth(sqs, onFailureUrl)).visible;
      for (const p of QUEUE_PATHS) failedDepth += (await queueDepth(sqs, dlqUrls[p])).visible;
      const poller = streamPoller();
      const net = proxy?.stats();
      const holding = net ? net.held - net.heldDelivered : 0;
      const line = `chaos:events: effects completed ${completed}/${goodIds.size}, failed-message queues ${failedDepth} (poison ${poisonCount}), queue backlog ${backlog}, stream in flight ${poller.inFlight}, held writes ${holding}`;
      if (line !== lastLine) log(`${line} (${Math.round((Date.now() - started) / 1000)} s)`);
      lastLine = line;
      const idle = backlog === 0 && poller.inFlight === 0 && holding === 0;
      if (idle && completed === goodIds.size && failedDepth >= poisonCount) {
        settled = true;
        break;
      }
      // Nothing left anywhere and nothing moving for 20 s: what did not happen will not (the verdict says what).
      const progress = `${completed}/${failedDepth}/${poller.invocations}`;
      if (!idle || progress !== lastProgress) quietSince = Date.now();
      lastProgress = progress;
      if (idle && Date.now() - quietSince > 20_000) {
        settled = true;
        log('chaos:events: quiet for 20 s with nothing in flight: taking the verdict');
        break;
      }
      await new Promise((r) => setTimeout(r, 3000));
    }

    await proxy?.idle(Math.max(5_000, budget - (Date.now() - started)));
    // EventBridge delivers after PutEvents answers: its denials are counted once its deliveries are done
    // (a denial is not retried; 10 s bounds a granted target still retrying).
    await Promise.race([stack.events.idle(), new Promise((r) => setTimeout(r, 10_000))]);
    const net = proxy?.stats();
    const stats = stack.stats();
    const consumers: ConsumerConcurrency[] = [];
    const pathOfFunction = new Map(stack.deployment.functions.map((f) => [f.logicalId, f.environment.EVENT_PATH as EventPath | undefined]));
    let invocations = 0;
    for (const m of stack.deployment.eventSourceMappings) {
      const r = stack.runners.get(m.logicalId)!.stats();
      invocations += r.invocations;
      consumers.push({ name: m.functionLogicalId, path: pathOfFunction.get(m.functionLogicalId)!, cap: r.concurrencyCap, maxConcurrentExecutions: r.maxConcurrentExecutions, samplesAboveCap: r.samples.filter((s) => s.inFlight > r.concurrencyCap).length });
    }
    for (const m of stack.deployment.streamEventSourceMappings) {
      const p = stack.streamPollers.get(m.logicalId)!.stats();
      invocations += p.invocations;
      const fn = stack.deployment.functions.find((f) => f.logicalId === m.functionLogicalId)!;
      // The stream's cap: its reserved concurrency (shards x ParallelizationFactor, set by the construct).
      consumers.push({ name: m.functionLogicalId, path: 'dynamodb-stream', cap: fn.reservedConcurrency ?? p.shards * (m.parallelizationFactor ?? 1), maxConcurrentExecutions: p.maxConcurrentExecutions, samplesAboveCap: 0 });
    }
    const consumerNames = new Set(stack.deployment.functions.filter((f) => f.environment.EVENT_PATH !== undefined).map((f) => f.functionName));
    const hostStats = stats.functions.filter((f) => consumerNames.has(f.functionName));
    const executionsKilled = hostStats.reduce((a, f) => a + f.crashes + f.timeouts, 0);

    const failedMessages: FailedMessage[] = [];
    const failedMessageClasses: Record<string, number> = {};
    const readFailed = async (path: EventPath, url: string) => {
      for (const e of await new DlqClient({ sqs, deadLetterQueueUrl: url, maxMessages: 100_000 }).list()) {
        failedMessages.push({ path, body: e.body, errorClass: e.errorClass, kind: e.kind, reason: e.reason });
        failedMessageClasses[`${path}:${e.errorClass}`] = (failedMessageClasses[`${path}:${e.errorClass}`] ?? 0) + 1;
      }
    };
    for (const p of QUEUE_PATHS) await readFailed(p, dlqUrls[p]);
    await readFailed('dynamodb-stream', onFailureUrl);
    const recordItems = await scanAll(dynamodb, idempotencyTable);
    const records = recordItems.map(recordView);
    const effects: EffectView[] = (await scanAll(dynamodb, effectsTable)).map((i) => ({ id: (i.pk?.S ?? '').replace(/^effect#/, ''), fence: Number(i.fence?.N ?? NaN) }));
    const verdict = checkEventInvariants({
      events,
      records,
      effects,
      failedMessages,
      consumers,
      staleFencedWritesAccepted: net?.staleAccepted ?? 0,
      staleFencedWritesRejected: (net?.staleRejected ?? 0) + staleEffectsRejected,
      executionsKilled,
      denied: {
        counters: readDeniedDeliveries(stack),
        sent: POLICY_LESS_PATHS.map((p) => ({ path: p, ids: sentPolicyLess.get(p)!, counter: p === 'sns-no-policy' ? topicArn : out(OUT.noPolicyRuleArn) })),
        delivered: await queueDepth(sqs, out(OUT.noPolicyQueueUrl)).then((q) => q.visible + q.inFlight + q.delayed),
      },
      heldWritesInjected: networkRates !== undefined && networkRates.holdRate > 0,
      elapsedMs: Date.now() - started,
    });
    // After the verdict's observations: older-fence completions of finished events, replayed as a holder
    // paused past its lease would send them; every one must be refused and change nothing.
    const staleHolderProbe = await probeStaleHolders(dynamodb, idempotencyTable, records.filter((r) => goodIds.has(r.id) && r.status === 'completed' && r.fence > 1).slice(0, 5));
    return {
      verdict,
      settled,
      faults,
      overrides,
      publishes,
      invocations,
      killedShare: invocations > 0 ? executionsKilled / invocations : 0,
      logEvents,
      recordFailures,
      burstPublishMs,
      failedMessageClasses,
      ...(networkRates && net ? { network: { rates: networkRates, stats: net } } : {}),
      staleHolderProbe,
      eventBridgeFailedInvocations: stats.events.rules.reduce((a, r) => a + r.failedInvocations, 0),
    };
  } finally {
    await proxy?.stop();
    await stack.stop({ destroy: true });
  }
}

async function probeStaleHolders(dynamodb: DynamoDBClient, table: string, targets: readonly IdempotencyRecordView[]): Promise<StaleProbeResult> {
  const store = new IdempotencyStore({ client: dynamodb, tableName: table });
  let rejected = 0;
  let accepted = 0;
  for (const r of targets) {
    const ok = await store.complete({ id: r.id, owner: `stale-probe-${r.fence - 1}`, fence: r.fence - 1, leaseExpiresAt: 0 });
    if (ok) accepted++;
    else rejected++;
  }
  const after = new Map((await scanAll(dynamodb, table)).map((i) => [i.id?.S ?? '', recordView(i)]));
  const recordsChanged = targets.filter((r) => {
    const a = after.get(r.id);
    return a === undefined || a.status !== r.status || a.fence !== r.fence || a.completions !== r.completions;
  }).length;
  return { attempts: targets.length, rejected, accepted, recordsChanged };
}
