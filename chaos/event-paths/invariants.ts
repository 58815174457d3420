/**
 * The verdict of the event-path chaos run, a pure function of what it observed at the end: the events it
 * published, the idempotency records, the effect items, the dead-letter and on-failure queues' messages,
 * each consumer's concurrency against its cap, the stale fenced writes, and the events sent on the
 * policy-less paths against the stack's denied-delivery counters. No I/O: every rule is unit-tested (test/reliability/event-paths-invariants.test.ts).
 */
import { eventOfQueueBody, eventOfStreamImage, QUEUE_PATHS, type EventPath, type PolicyLessPath, type QueuePath } from './paths';

export interface PublishedEvent {
  readonly id: string;
  readonly path: EventPath;
  readonly poison: boolean;
}

/** An idempotency record (IdempotencyStore's item, reduced). */
export interface IdempotencyRecordView {
  readonly id: string;
  readonly status: string;
  readonly fence: number;
  readonly completions: number;
}

/** An effect item: the event id and the fence of the owner whose write is there. */
export interface EffectView {
  readonly id: string;
  readonly fence: number;
}

/** A message of a dead-letter or on-failure queue: which path's queue, its body and its classification. */
export interface FailedMessage {
  readonly path: EventPath;
  readonly body: string;
  readonly errorClass: string;
  readonly kind: string;
  readonly reason: string;
}

export interface ConsumerConcurrency {
  readonly name: string;
  readonly path: EventPath;
  readonly cap: number;
  readonly maxConcurrentExecutions: number;
  /** Samples or invocation starts at which more than `cap` ran (0 when the source keeps none). */
  readonly samplesAboveCap: number;
}

/** The stack's counters of deliveries that did not happen (LocalStack.deliveryFailures(), reduced). */
export interface DeliveryCounters {
  /** Whether deliveries are gated by resource policies at all (LocalStack.iam: false with --no-iam or without @cloud-copilot/iam-simulate). */
  readonly enforced: boolean;
  /** Deliveries a resource policy refused since the stack started (`deniedDeliveries`). */
  readonly deniedDeliveries: number;
  /** NumberOfNotificationsFailed by topic ARN. */
  readonly snsNotificationsFailed: Readonly<Record<string, number>>;
  /** FailedInvocations by rule ARN. */
  readonly eventsFailedInvocations: Readonly<Record<string, number>>;
  /** The latest denial the stack recorded, with AWS's message. */
  readonly latest?: { readonly service: string; readonly action: string; readonly resource: string; readonly sourceArn: string; readonly message: string };
}

/** The events sent on one policy-less path, and the counter its source keeps (a topic ARN for SNS, a rule ARN for EventBridge). */
export interface PolicyLessSend {
  readonly path: PolicyLessPath;
  readonly ids: readonly string[];
  readonly counter: string;
}

export interface DeniedDeliveries {
  readonly counters: DeliveryCounters;
  readonly sent: readonly PolicyLessSend[];
  /** Messages found in the policy-less queue: delivered although nothing grants it. */
  readonly delivered: number;
}

/** Per policy-less path: sent, and counted by its source (SNS NumberOfNotificationsFailed / EventBridge FailedInvocations). */
export interface DeniedPathReport {
  readonly path: PolicyLessPath;
  readonly sent: number;
  readonly counted: number;
}

export interface EventObservations {
  readonly events: readonly PublishedEvent[];
  readonly records: readonly IdempotencyRecordView[];
  readonly effects: readonly EffectView[];
  readonly failedMessages: readonly FailedMessage[];
  readonly consumers: readonly ConsumerConcurrency[];
  readonly staleFencedWritesAccepted: number;
  readonly staleFencedWritesRejected: number;
  readonly executionsKilled: number;
  /** The policy-less paths: what was sent on them, the stack's counters, what arrived anyway. */
  readonly denied: DeniedDeliveries;
  /** Whether the run injected held writes (then stale writes must have occurred). */
  readonly heldWritesInjected: boolean;
  readonly elapsedMs: number;
}

export interface PathReport {
  readonly events: number;
  readonly effectOnce: number;
  readonly poison: number;
  readonly poisonInDlqWithReason: number;
  readonly goodDeadLetteredWithReason: number;
  readonly lost: number;
}

export interface EventChaosReport {
  readonly events: number;
  readonly effectOnce: number;
  readonly lost: number;
  readonly doubleEffects: number;
  readonly capBreaches: number;
  readonly staleFencedWritesAccepted: number;
  readonly staleFencedWritesRejected: number;
  readonly executionsKilled: number;
  readonly poison: number;
  readonly poisonInDlqWithReason: number;
  /** Good events whose message is in a DLQ / on-failure queue with a reason instead of taking effect. */
  readonly goodDeadLetteredWithReason: number;
  /** Consumers that ran at their cap at some point (the burst throttled them to it), of all consumers. */
  readonly consumersAtCap: number;
  readonly consumers: number;
  /** Events sent on the policy-less paths (each must be denied). */
  readonly policyLessEvents: number;
  /** The stack's count of deliveries refused by a resource policy. */
  readonly deniedDeliveries: number;
  /** Events of the policy-less paths that arrived in their queue or left an idempotency record or effect. */
  readonly deliveredWithoutGrant: number;
  readonly elapsedMs: number;
}

export interface EventChaosDetails {
  readonly lost: readonly { readonly id: string; readonly path: EventPath; readonly why: string }[];
  readonly doubleEffects: readonly { readonly id: string; readonly why: string }[];
  readonly poisonMissing: readonly string[];
  readonly byPath: Readonly<Record<string, PathReport>>;
  readonly concurrency: readonly ConsumerConcurrency[];
  readonly denied: { readonly paths: readonly DeniedPathReport[]; readonly latest?: DeliveryCounters['latest']; readonly enforced: boolean };
  /** Failed messages whose event could not be read (they vouch for nothing). */
  readonly unreadableFailedMessages: number;
}

export interface EventChaosVerdict {
  readonly report: EventChaosReport;
  readonly details: EventChaosDetails;
  /** The failed invariants; empty when the run passed. */
  readonly failures: readonly string[];
}

/** The event id a failed message names, read as its path delivers it (undefined when unreadable). */
export function eventIdOfFailedMessage(m: Pick<FailedMessage, 'path' | 'body'>): string | undefined {
  try {
    if ((QUEUE_PATHS as readonly string[]).includes(m.path)) return eventOfQueueBody(m.path as QueuePath, m.body)?.id;
    const record = JSON.parse(m.body) as { dynamodb?: { NewImage?: Record<string, { S?: string; BOOL?: boolean }>; Keys?: Record<string, { S?: string }> } };
    // A record sent without its payload (too large) still has its key.
    return record.dynamodb?.NewImage ? eventOfStreamImage(record.dynamodb.NewImage).id : record.dynamodb?.Keys?.pk?.S;
  } catch {
    return undefined;
  }
}

const SAMPLE = 10;
const fmt = (items: readonly string[]): string => (items.length <= SAMPLE ? items.join(', ') || '-' : `${items.slice(0, SAMPLE).join(', ')} … +${items.length - SAMPLE}`);

export function checkEventInvariants(o: EventObservations): EventChaosVerdict {
  const records = new Map(o.records.map((r) => [r.id, r]));
  const effects = new Map(o.effects.map((e) => [e.id, e]));
  const withReason = new Map<string, FailedMessage[]>();
  let unreadable = 0;
  for (const m of o.failedMessages) {
    const id = eventIdOfFailedMessage(m);
    if (id === undefined) {
      unreadable++;
      continue;
    }
    // With a reason: the runtime's classification (ErrorReason), not SQS's move after maxReceiveCount
    // (kind `exhausted`, which says only that the receives ran out).
    if (m.kind !== 'exhausted' && m.reason.trim() !== '') withReason.set(id, [...(withReason.get(id) ?? []), m]);
  }
  const events = [...new Map(o.events.map((e) => [e.id, e])).values()];
  const byPath: Record<string, { events: number; effectOnce: number; poison: number; poisonInDlqWithReason: number; goodDeadLetteredWithReason: number; lost: number }> = {};
  const lost: { id: string; path: EventPath; why: string }[] = [];
  const doubles: { id: string; why: string }[] = [];
  const poisonMissing: string[] = [];
  let effectOnce = 0;
  let poison = 0;
  let poisonInDlq = 0;
  let goodDeadLettered = 0;
  for (const e of events) {
    const p = (byPath[e.path] ??= { events: 0, effectOnce: 0, poison: 0, poisonInDlqWithReason: 0, goodDeadLetteredWithReason: 0, lost: 0 });
    p.events++;
    const rec = records.get(e.id);
    const eff = effects.get(e.id);
    if (e.poison) {
      poison++;
      p.poison++;
      if ((withReason.get(e.id) ?? []).some((m) => m.kind === 'permanent')) {
        poisonInDlq++;
        p.poisonInDlqWithReason++;
      } else poisonMissing.push(e.id);
      if (eff !== undefined) doubles.push({ id: e.id, why: `poison event has an effect (fence ${eff.fence})` });
      continue;
    }
    if (rec !== undefined && (rec.completions > 1 || (rec.status === 'completed' && eff !== undefined && eff.fence !== rec.fence))) {
      doubles.push({ id: e.id, why: rec.completions > 1 ? `completed ${rec.completions} times` : `effect written by fence ${eff!.fence}, completed by fence ${rec.fence}` });
      continue;
    }
    if (rec?.status === 'completed' && eff !== undefined) {
      effectOnce++;
      p.effectOnce++;
      continue;
    }
    if (withReason.has(e.id)) {
      goodDeadLettered++;
      p.goodDeadLetteredWithReason++;
      continue;
    }
    p.lost++;
    lost.push({ id: e.id, path: e.path, why: rec === undefined ? 'no idempotency record' : `record ${rec.status}${eff === undefined ? ', no effect' : ''}` });
  }
  const published = new Set(events.map((e) => e.id));
  const policyLessIds = new Set(o.denied.sent.flatMap((s) => s.ids));
  for (const eff of o.effects) if (!published.has(eff.id) && !policyLessIds.has(eff.id)) doubles.push({ id: eff.id, why: 'effect of an event never published' });

  // Denied deliveries are counted, not lost silently: each event sent on a policy-less path is one
  // delivery refused by the queue's policy, counted by the stack and by its source's AWS metric, and has
  // no effect anywhere.
  const c = o.denied.counters;
  const deniedPaths: DeniedPathReport[] = o.denied.sent.map((s) => ({
    path: s.path,
    sent: s.ids.length,
    counted: (s.path === 'sns-no-policy' ? c.snsNotificationsFailed : c.eventsFailedInvocations)[s.counter] ?? 0,
  }));
  const policyLessEvents = deniedPaths.reduce((a, p) => a + p.sent, 0);
  const leaked = [...policyLessIds].filter((id) => records.has(id) || effects.has(id));
  const deliveredWithoutGrant = o.denied.delivered + leaked.length;

  let capBreaches = 0;
  for (const c of o.consumers) capBreaches += Math.max(c.samplesAboveCap, c.maxConcurrentExecutions > c.cap ? 1 : 0);
  const consumersAtCap = o.consumers.filter((c) => c.maxConcurrentExecutions >= c.cap).length;

  const report: EventChaosReport = {
    events: events.length,
    effectOnce,
    lost: lost.length,
    doubleEffects: doubles.length,
    capBreaches,
    staleFencedWritesAccepted: o.staleFencedWritesAccepted,
    staleFencedWritesRejected: o.staleFencedWritesRejected,
    executionsKilled: o.executionsKilled,
    poison,
    poisonInDlqWithReason: poisonInDlq,
    goodDeadLetteredWithReason: goodDeadLettered,
    consumersAtCap,
    consumers: o.consumers.length,
    policyLessEvents,
    deniedDeliveries: c.deniedDeliveries,
    deliveredWithoutGrant,
    elapsedMs: o.elapsedMs,
  };
  const failures: string[] = [];
  if (lost.length > 0) failures.push(`lost=${lost.length} (e.g. ${fmt(lost.map((l) => `${l.id}@${l.path}: ${l.why}`))})`);
  if (doubles.length > 0) failures.push(`doubleEffects=${doubles.length} (e.g. ${fmt(doubles.map((d) => `${d.id}: ${d.why}`))})`);
  if (capBreaches > 0) failures.push(`capBreaches=${capBreaches} (${o.consumers.filter((c) => c.maxConcurrentExecutions > c.cap || c.samplesAboveCap > 0).map((c) => `${c.name} max ${c.maxConcurrentExecutions} > cap ${c.cap}`).join('; ')})`);
  if (o.staleFencedWritesAccepted > 0) failures.push(`staleFencedWritesAccepted=${o.staleFencedWritesAccepted}`);
  // The held writes exist to make stale writes happen: none happening means the fault was not injected.
  if (o.heldWritesInjected && o.staleFencedWritesRejected === 0) failures.push('staleFencedWritesRejected=0: no held write reached the storage after a newer owner');
  if (poisonInDlq < poison) failures.push(`poisonInDlqWithReason=${poisonInDlq} < poison=${poison} (missing: ${fmt(poisonMissing)})`);
  if (!c.enforced) {
    failures.push(`deniedDeliveries: resource policies are not enforced (iam off: --no-iam, or @cloud-copilot/iam-simulate not installed), so the ${policyLessEvents} events sent on the policy-less paths cannot be denied`);
  } else {
    for (const p of deniedPaths) {
      const metric = p.path === 'sns-no-policy' ? 'NumberOfNotificationsFailed' : 'FailedInvocations';
      if (p.counted < p.sent) failures.push(`${p.path}: ${p.sent} sent with no grant, ${p.counted} counted as ${metric}: ${p.sent - p.counted} denied deliveries not counted`);
      else if (p.counted > p.sent) failures.push(`${p.path}: ${p.counted} counted as ${metric}, more than the ${p.sent} sent`);
    }
    if (c.deniedDeliveries !== policyLessEvents) failures.push(`deniedDeliveries=${c.deniedDeliveries} != ${policyLessEvents} events sent on the policy-less paths`);
    if (deliveredWithoutGrant > 0) failures.push(`deliveredWithoutGrant=${deliveredWithoutGrant}: ${o.denied.delivered} messages in the policy-less queue${leaked.length ? `, records or effects of ${fmt(leaked)}` : ''}`);
  }
  if (consumersAtCap < o.consumers.length) failures.push(`consumersAtCap=${consumersAtCap} < ${o.consumers.length}: the burst did not throttle ${o.consumers.filter((c) => c.maxConcurrentExecutions < c.cap).map((c) => c.name).join(', ')} to its cap`);
  return {
    report,
    details: { lost, doubleEffects: doubles, poisonMissing, byPath, concurrency: o.consumers, denied: { paths: deniedPaths, enforced: c.enforced, ...(c.latest ? { latest: c.latest } : {}) }, unreadableFailedMessages: unreadable },
    failures,
  };
}

export function formatEventReport(r: EventChaosReport): string {
  return (Object.keys(r) as (keyof EventChaosReport)[]).map((k) => `${k}=${r[k]}`).join(' ');
}
