/**
 * The event-path chaos run's pure parts: reading an event from what each path delivers (the handlers and
 * the verdict share it), the plan, the verdict's rules (denied deliveries on the policy-less paths
 * included), and reading the stack's denied-delivery counters.
 */
import { describe, expect, it } from 'vitest';
import { checkEventInvariants, eventIdOfFailedMessage, formatEventReport, type EventObservations } from '../../chaos/event-paths/invariants';
import { eventOfQueueBody, eventOfStreamImage, s3KeyOf, sourceItemOf, UnreadableEventError } from '../../chaos/event-paths/paths';
import { DEFAULT_EVENT_RATES, planEvents, readDeniedDeliveries } from '../../chaos/event-paths/run';
import type { LocalStack } from '@floodgate/local';

const snsEnvelope = (message: string) => JSON.stringify({ Type: 'Notification', MessageId: 'm', TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: message, Timestamp: '2026-12-06T00:00:00.000Z' });
const ebEvent = (detail: unknown) => JSON.stringify({ version: '0', id: 'x', 'detail-type': 'chaos-event', source: 'floodgate.chaos', detail });
const s3Event = (key: string) => JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { object: { key } } }] });

describe('reading an event from each path', () => {
  it('raw SNS, the SNS envelope, an EventBridge event, an S3 notification and a stream image', () => {
    expect(eventOfQueueBody('sns-raw', '{"id":"e-1"}')).toEqual({ id: 'e-1', poison: false });
    expect(eventOfQueueBody('sns-envelope', snsEnvelope('{"id":"e-2","poison":true}'))).toEqual({ id: 'e-2', poison: true });
    expect(eventOfQueueBody('eventbridge', ebEvent({ id: 'e-3' }))).toEqual({ id: 'e-3', poison: false });
    expect(eventOfQueueBody('s3', s3Event(s3KeyOf({ id: 'e-4', poison: true })))).toEqual({ id: 'e-4', poison: true });
    expect(eventOfQueueBody('s3', s3Event('events/e+5'))).toEqual({ id: 'e 5', poison: false }); // URL-encoded keys
    expect(eventOfQueueBody('s3', JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' }))).toBeUndefined();
    expect(eventOfStreamImage(sourceItemOf({ id: 'e-6', poison: true }, 2) as never)).toEqual({ id: 'e-6', poison: true });
  });

  it('refuses what is no event of the run, with a classified error', () => {
    expect(() => eventOfQueueBody('sns-raw', 'not json')).toThrow(UnreadableEventError);
    expect(() => eventOfQueueBody('sns-envelope', '{"id":"e-1"}')).toThrow(/not a Notification/);
    expect(() => eventOfQueueBody('eventbridge', ebEvent({}))).toThrow(/no event id/);
    expect(() => eventOfQueueBody('s3', s3Event('other/e-1'))).toThrow(/not an event's/);
    expect(() => eventOfStreamImage(undefined)).toThrow(UnreadableEventError);
  });

  it('a failed message names its event as its path delivered it (a stream record by its image or key)', () => {
    expect(eventIdOfFailedMessage({ path: 'sns-envelope', body: snsEnvelope('{"id":"e-2"}') })).toBe('e-2');
    expect(eventIdOfFailedMessage({ path: 'dynamodb-stream', body: JSON.stringify({ dynamodb: { NewImage: { pk: { S: 'e-7' } } } }) })).toBe('e-7');
    expect(eventIdOfFailedMessage({ path: 'dynamodb-stream', body: JSON.stringify({ dynamodb: { Keys: { pk: { S: 'e-8' } } } }) })).toBe('e-8');
    expect(eventIdOfFailedMessage({ path: 'sns-raw', body: '{' })).toBeUndefined();
  });
});

describe('planEvents', () => {
  it('spreads events over the five paths, one poison event per path at least, duplicates of good events only; same seed, same plan', () => {
    const a = planEvents(100, 3, 'r', DEFAULT_EVENT_RATES);
    expect(new Set(a.events.filter((e) => e.poison).map((e) => e.path)).size).toBe(5);
    expect(a.events.filter((e) => e.path === 's3')).toHaveLength(20);
    for (const i of a.duplicates.keys()) expect(a.events[i]!.poison).toBe(false);
    expect(planEvents(100, 3, 'r', DEFAULT_EVENT_RATES)).toEqual(a);
    expect(planEvents(100, 4, 'r', DEFAULT_EVENT_RATES)).not.toEqual(a);
  });

  it('adds events on the policy-less paths on top of the burst: 2 %, at least one per path, none with an id of the burst', () => {
    expect(planEvents(100, 3, 'r', DEFAULT_EVENT_RATES).policyLess).toEqual([{ id: 'r-np0', path: 'sns-no-policy' }, { id: 'r-np1', path: 'eventbridge-no-policy' }]);
    const p = planEvents(300, 3, 'r', DEFAULT_EVENT_RATES);
    expect(p.policyLess.filter((e) => e.path === 'sns-no-policy')).toHaveLength(3);
    expect(p.policyLess.filter((e) => e.path === 'eventbridge-no-policy')).toHaveLength(3);
    expect(p.events).toHaveLength(300);
    expect(planEvents(300, 3, 'r', { ...DEFAULT_EVENT_RATES, policyLessRate: 0 }).policyLess).toEqual([]);
  });
});

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:Events';
const RULE = 'arn:aws:events:us-east-1:000000000000:rule/Bus/NoPolicyRule';
const OTHER_RULE = 'arn:aws:events:us-east-1:000000000000:rule/Bus/ChaosRule';

function healthy(): EventObservations {
  return {
    events: [
      { id: 'a', path: 'sns-raw', poison: false },
      { id: 'a', path: 'sns-raw', poison: false }, // published twice: one event
      { id: 'b', path: 'dynamodb-stream', poison: false },
      { id: 'p', path: 'eventbridge', poison: true },
      { id: 'q', path: 'dynamodb-stream', poison: true },
    ],
    records: [
      { id: 'a', status: 'completed', fence: 2, completions: 1 },
      { id: 'b', status: 'completed', fence: 1, completions: 1 },
      { id: 'p', status: 'failed', fence: 1, completions: 0 },
    ],
    effects: [
      { id: 'a', fence: 2 },
      { id: 'b', fence: 1 },
    ],
    failedMessages: [
      { path: 'eventbridge', body: ebEvent({ id: 'p', poison: true }), errorClass: 'PoisonEvent', kind: 'permanent', reason: 'can never be applied' },
      { path: 'dynamodb-stream', body: JSON.stringify({ dynamodb: { NewImage: { pk: { S: 'q' }, poison: { BOOL: true } } } }), errorClass: 'PoisonEvent', kind: 'permanent', reason: 'can never be applied' },
    ],
    consumers: [
      { name: 'Raw', path: 'sns-raw', cap: 2, maxConcurrentExecutions: 2, samplesAboveCap: 0 },
      { name: 'Stream', path: 'dynamodb-stream', cap: 2, maxConcurrentExecutions: 2, samplesAboveCap: 0 },
    ],
    staleFencedWritesAccepted: 0,
    staleFencedWritesRejected: 3,
    executionsKilled: 2,
    denied: {
      counters: { enforced: true, deniedDeliveries: 3, snsNotificationsFailed: { [TOPIC]: 2 }, eventsFailedInvocations: { [RULE]: 1, [OTHER_RULE]: 0 } },
      sent: [
        { path: 'sns-no-policy', ids: ['n1', 'n2'], counter: TOPIC },
        { path: 'eventbridge-no-policy', ids: ['n3'], counter: RULE },
      ],
      delivered: 0,
    },
    heldWritesInjected: true,
    elapsedMs: 1000,
  };
}

describe('checkEventInvariants', () => {
  it('passes a healthy run and reports it in the chaos report style', () => {
    const v = checkEventInvariants(healthy());
    expect(v.failures).toEqual([]);
    expect(v.report).toMatchObject({ events: 4, effectOnce: 2, lost: 0, doubleEffects: 0, capBreaches: 0, poison: 2, poisonInDlqWithReason: 2, consumersAtCap: 2, policyLessEvents: 3, deniedDeliveries: 3, deliveredWithoutGrant: 0 });
    expect(v.details.denied.paths).toEqual([{ path: 'sns-no-policy', sent: 2, counted: 2 }, { path: 'eventbridge-no-policy', sent: 1, counted: 1 }]);
    expect(v.details.byPath['dynamodb-stream']).toEqual({ events: 2, effectOnce: 1, poison: 1, poisonInDlqWithReason: 1, goodDeadLetteredWithReason: 0, lost: 0 });
    expect(formatEventReport(v.report)).toMatch(/^events=4 effectOnce=2 lost=0 doubleEffects=0 capBreaches=0 /);
  });

  it('an event without a completed record and effect is lost, unless its message is in a DLQ with a reason', () => {
    const o = healthy();
    const lost = checkEventInvariants({ ...o, effects: o.effects.filter((e) => e.id !== 'b') });
    expect(lost.report.lost).toBe(1);
    expect(lost.failures[0]).toMatch(/lost=1 \(e\.g\. b@dynamodb-stream: record completed, no effect\)/);
    const exhausted = { path: 'sns-raw' as const, body: '{"id":"a"}', errorClass: 'RetriesExhausted', kind: 'exhausted', reason: 'retries exhausted' };
    const noRecord = { ...o, records: o.records.filter((r) => r.id !== 'a'), effects: o.effects.filter((e) => e.id !== 'a') };
    expect(checkEventInvariants({ ...noRecord, failedMessages: [...o.failedMessages, exhausted] }).report.lost).toBe(1); // no reason
    const classified = { ...exhausted, errorClass: 'Throttled', kind: 'retryable', reason: 'throttled on its last receive' };
    const v = checkEventInvariants({ ...noRecord, failedMessages: [...o.failedMessages, classified] });
    expect(v.report).toMatchObject({ lost: 0, goodDeadLetteredWithReason: 1 });
  });

  it('two completions, an effect by another fence than the completion, and an effect of a poison event are double effects', () => {
    const o = healthy();
    expect(checkEventInvariants({ ...o, records: o.records.map((r) => (r.id === 'a' ? { ...r, completions: 2 } : r)) }).report.doubleEffects).toBe(1);
    expect(checkEventInvariants({ ...o, effects: o.effects.map((e) => (e.id === 'a' ? { ...e, fence: 1 } : e)) }).failures[0]).toMatch(/effect written by fence 1, completed by fence 2/);
    expect(checkEventInvariants({ ...o, effects: [...o.effects, { id: 'p', fence: 1 }] }).report.doubleEffects).toBe(1);
  });

  it('a poison event needs a permanent, classified failed message', () => {
    const o = healthy();
    const v = checkEventInvariants({ ...o, failedMessages: o.failedMessages.slice(0, 1) });
    expect(v.report.poisonInDlqWithReason).toBe(1);
    expect(v.failures.some((f) => f.startsWith('poisonInDlqWithReason=1 < poison=2 (missing: q)'))).toBe(true);
  });

  it('fails on a cap breach, a stale write accepted, no stale write at all, and a consumer the burst never took to its cap', () => {
    const o = healthy();
    expect(checkEventInvariants({ ...o, consumers: [{ ...o.consumers[0]!, maxConcurrentExecutions: 3 }, o.consumers[1]!] }).report.capBreaches).toBe(1);
    expect(checkEventInvariants({ ...o, consumers: [{ ...o.consumers[0]!, samplesAboveCap: 4 }] }).report.capBreaches).toBe(4);
    expect(checkEventInvariants({ ...o, staleFencedWritesAccepted: 1 }).failures).toEqual(['staleFencedWritesAccepted=1']);
    expect(checkEventInvariants({ ...o, staleFencedWritesRejected: 0 }).failures[0]).toMatch(/^staleFencedWritesRejected=0/);
    expect(checkEventInvariants({ ...o, staleFencedWritesRejected: 0, heldWritesInjected: false }).failures).toEqual([]);
    expect(checkEventInvariants({ ...o, consumers: [{ ...o.consumers[0]!, maxConcurrentExecutions: 1 }, o.consumers[1]!] }).failures[0]).toMatch(/did not throttle Raw to its cap/);
  });
});

describe('denied deliveries on the policy-less paths', () => {
  const withCounters = (o: EventObservations, c: Partial<EventObservations['denied']['counters']>, rest: Partial<EventObservations['denied']> = {}): EventObservations => ({ ...o, denied: { ...o.denied, ...rest, counters: { ...o.denied.counters, ...c } } });

  it('a denied delivery its source did not count fails the run, per path', () => {
    const o = healthy();
    const v = checkEventInvariants(withCounters(o, { deniedDeliveries: 2, snsNotificationsFailed: { [TOPIC]: 1 } }));
    expect(v.failures).toEqual(['sns-no-policy: 2 sent with no grant, 1 counted as NumberOfNotificationsFailed: 1 denied deliveries not counted', 'deniedDeliveries=2 != 3 events sent on the policy-less paths']);
    // The rule's FailedInvocations is read for its own rule, not another's.
    expect(checkEventInvariants(withCounters(o, { eventsFailedInvocations: { [OTHER_RULE]: 1 } })).failures).toEqual(['eventbridge-no-policy: 1 sent with no grant, 0 counted as FailedInvocations: 1 denied deliveries not counted']);
  });

  it('the total must equal the events sent: fewer is a denial lost silently, more is a granted delivery denied', () => {
    const o = healthy();
    expect(checkEventInvariants(withCounters(o, { deniedDeliveries: 2 })).failures).toEqual(['deniedDeliveries=2 != 3 events sent on the policy-less paths']);
    expect(checkEventInvariants(withCounters(o, { deniedDeliveries: 4 })).failures).toEqual(['deniedDeliveries=4 != 3 events sent on the policy-less paths']);
    expect(checkEventInvariants(withCounters(o, { snsNotificationsFailed: { [TOPIC]: 3 } })).failures).toEqual(['sns-no-policy: 3 counted as NumberOfNotificationsFailed, more than the 2 sent']);
  });

  it('an event of a policy-less path that arrived in its queue, or left a record or an effect, was delivered without a grant', () => {
    const o = healthy();
    expect(checkEventInvariants(withCounters(o, {}, { delivered: 1 })).failures).toEqual(['deliveredWithoutGrant=1: 1 messages in the policy-less queue']);
    const v = checkEventInvariants({ ...o, effects: [...o.effects, { id: 'n3', fence: 1 }], records: [...o.records, { id: 'n3', status: 'completed', fence: 1, completions: 1 }] });
    expect(v.report).toMatchObject({ deliveredWithoutGrant: 1, doubleEffects: 0 });
    expect(v.failures).toEqual(['deliveredWithoutGrant=1: 0 messages in the policy-less queue, records or effects of n3']);
  });

  it('with resource policies not enforced (iam off) the run says so and fails', () => {
    const v = checkEventInvariants(withCounters(healthy(), { enforced: false, deniedDeliveries: 0, snsNotificationsFailed: {}, eventsFailedInvocations: {} }, { delivered: 3 }));
    expect(v.failures).toEqual(['deniedDeliveries: resource policies are not enforced (iam off: --no-iam, or @cloud-copilot/iam-simulate not installed), so the 3 events sent on the policy-less paths cannot be denied']);
    expect(v.details.denied.enforced).toBe(false);
  });
});

describe('readDeniedDeliveries', () => {
  it('reads the stack\'s deliveryFailures(): the total, SNS and EventBridge counters by topic and rule, the latest denial, and whether IAM is on', () => {
    const denial = { time: '2026-12-06T08:00:00.000Z', service: 'sns.amazonaws.com', action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:q', sourceArn: TOPIC, sourceAccount: '000000000000', message: 'User: sns.amazonaws.com is not authorized' };
    const failures: ReturnType<LocalStack['deliveryFailures']> = {
      deniedDeliveries: 3,
      denied: [{ ...denial, message: 'older' }, denial],
      sns: [{ topicArn: TOPIC, NumberOfNotificationsFailed: 2, NumberOfNotificationsRedrivenToDlq: 0 }],
      events: [{ ruleArn: RULE, FailedInvocations: 1, DeadLetterInvocations: 0 }],
    };
    expect(readDeniedDeliveries({ iam: true, deliveryFailures: () => failures })).toEqual({
      enforced: true,
      deniedDeliveries: 3,
      snsNotificationsFailed: { [TOPIC]: 2 },
      eventsFailedInvocations: { [RULE]: 1 },
      latest: { service: 'sns.amazonaws.com', action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:q', sourceArn: TOPIC, message: 'User: sns.amazonaws.com is not authorized' },
    });
    expect(readDeniedDeliveries({ iam: false, deliveryFailures: () => ({ deniedDeliveries: 0, denied: [], sns: [], events: [] }) })).toEqual({ enforced: false, deniedDeliveries: 0, snsNotificationsFailed: {}, eventsFailedInvocations: {} });
  });
});
