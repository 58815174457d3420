/**
 * The local stack's EventBridge: the default bus and the template's custom buses, their rules (event
 * patterns and schedules) and targets, kept in memory and changed by the API (handler.ts). PutEvents
 * checks each entry (per-entry errors), wraps it in AWS's envelope, matches it against every enabled
 * rule of its bus with the one matcher (core/event-pattern.ts), and hands each target its input
 * (target-dispatch.ts: retries, dead-letter queue). Scheduled rules fire on time (UTC) and on demand
 * (`fire`). Rules deliver as EventBridge does, as a service: resource policies on targets are not
 * evaluated locally.
 */
import { deliveryAction, type DeliveryGate } from '../../core/delivery-gate.js';
import type { RecordedResource } from '../../core/deployment/provisioner.js';
import { compileEventPattern } from '../../core/event-pattern.js';
import { destinationExists, type Credentials } from './deliver.js';
import { PUT_EVENTS_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES, entrySize, scheduledEvent, targetInput, toEnvelope, type EventEnvelope, type PutEventsEntry } from './event.js';
import { parseScheduleExpression, type Schedule } from './schedule-expression.js';
import { createTargetDispatcher, newStats, type DeliveryOutcome, type DispatchStats, type TargetDispatcher, type TargetSpec } from './target-dispatch.js';

/** A target as PutTargets / the template give it. */
export interface RuleTarget {
  readonly Id: string;
  readonly Arn: string;
  readonly RoleArn?: string;
  readonly Input?: string;
  readonly InputPath?: string;
  readonly InputTransformer?: { readonly InputPathsMap?: Record<string, string>; readonly InputTemplate: string };
  readonly SqsParameters?: { readonly MessageGroupId?: string };
  readonly DeadLetterConfig?: { readonly Arn?: string };
  readonly RetryPolicy?: { readonly MaximumRetryAttempts?: number; readonly MaximumEventAgeInSeconds?: number };
}

export interface RuleState {
  readonly name: string;
  readonly bus: string;
  readonly arn: string;
  state: 'ENABLED' | 'DISABLED';
  description?: string;
  eventPattern?: string;
  scheduleExpression?: string;
  match?: (e: unknown) => boolean;
  schedule?: Schedule;
  targets: RuleTarget[];
  /** The template's logical id, when the rule came from it. */
  logicalId?: string;
  readonly stats: DispatchStats & { matchedEvents: number; triggeredRules: number };
  timer?: NodeJS.Timeout;
  nextFire?: Date;
}

export interface PutEventsResult {
  readonly FailedEntryCount: number;
  readonly Entries: ReadonlyArray<{ EventId: string } | { ErrorCode: string; ErrorMessage: string }>;
}

export class EventsApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FireResult {
  readonly name: string;
  readonly kind: 'rule' | 'schedule';
  readonly arn: string;
  /** What was delivered (the scheduled event, or the schedule's input). */
  readonly event: unknown;
  readonly targets: ReadonlyArray<{ readonly id: string; readonly arn: string; readonly outcome: DeliveryOutcome }>;
}

export interface RuleStats {
  readonly name: string;
  readonly arn: string;
  readonly bus: string;
  readonly state: string;
  readonly matchedEvents: number;
  readonly triggeredRules: number;
  readonly invocations: number;
  readonly failedInvocations: number;
  readonly deadLetterInvocations: number;
  readonly retries: number;
  readonly nextFire?: string;
}

export interface EventsRuntime {
  readonly region: string;
  readonly account: string;
  /** PutEvents: per-entry results, as AWS answers (the request-level limits throw EventsApiError). */
  putEvents(entries: readonly PutEventsEntry[]): PutEventsResult;
  /** Puts events on a bus (default: `default`): for other parts of the stack, e.g. Lambda destinations. */
  putEventsOn(bus: string, entries: readonly PutEventsEntry[]): PutEventsResult;
  buses(): ReadonlyArray<{ name: string; arn: string }>;
  bus(name: string): { name: string; arn: string } | undefined;
  rules(bus?: string): readonly RuleState[];
  rule(name: string, bus?: string): RuleState | undefined;
  putRule(input: { Name: string; EventBusName?: string; EventPattern?: string; ScheduleExpression?: string; State?: string; Description?: string }): RuleState;
  deleteRule(name: string, bus?: string): void;
  putTargets(name: string, bus: string | undefined, targets: readonly RuleTarget[]): void;
  removeTargets(name: string, bus: string | undefined, ids: readonly string[]): void;
  setState(name: string, bus: string | undefined, state: 'ENABLED' | 'DISABLED'): void;
  /** Fires a scheduled rule now (by rule name or logical id); undefined when there is no such rule. */
  fire(name: string): Promise<FireResult> | undefined;
  stats(): RuleStats[];
  /** Resolves when no delivery is in progress or waiting for a retry. */
  idle(): Promise<void>;
  stop(): void;
}

export interface EventsRuntimeOptions {
  readonly region: string;
  readonly account: string;
  /** The stack's endpoint (deliveries go through it). */
  readonly endpoint: () => string;
  /** What rules sign their deliveries with (EventBridge's service principal: the local admin). */
  readonly credentials: Credentials;
  readonly recorded: readonly RecordedResource[];
  /** First retry wait, doubled each retry. @default 1000 */
  readonly retryBaseMs?: number;
  readonly log: (line: string) => void;
  /** Start the schedule timers. @default true */
  readonly timers?: boolean;
  /**
   * The targets' resource policies (queue and topic policies, the functions' Lambda permissions): a
   * rule delivers as `events.amazonaws.com` with the rule's ARN as aws:SourceArn. @default none: all allowed
   */
  readonly deliveries?: DeliveryGate;
}

/**
 * EventBridge as the caller of a rule's target (or dead-letter queue): the destination's policy decides.
 * A destination that does not exist is not a denial: the delivery then fails as not found.
 */
function ruleAuthorizer(gate: DeliveryGate, ruleArn: string, exists: (arn: string) => Promise<boolean>): (arn: string) => Promise<string | undefined> {
  return async (arn) => {
    const d = await gate.authorize({ service: 'events.amazonaws.com', action: deliveryAction(arn), resource: arn, sourceArn: ruleArn }, { exists });
    return d.allowed ? undefined : d.message;
  };
}

const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;

export function createEventsRuntime(options: EventsRuntimeOptions): EventsRuntime {
  const { region, account, log } = options;
  const busArn = (name: string): string => `arn:aws:events:${region}:${account}:event-bus/${name}`;
  const buses = new Map<string, { name: string; arn: string }>([['default', { name: 'default', arn: busArn('default') }]]);
  const rules = new Map<string, RuleState>();
  const key = (bus: string, name: string): string => `${bus}/${name}`;
  const dispatcher: TargetDispatcher = createTargetDispatcher({ endpoint: options.endpoint, region, log, ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}) });
  let stopped = false;

  const busName = (b: string | undefined): string => {
    const n = !b ? 'default' : b.startsWith('arn:') ? b.split('/').pop()! : b;
    if (!buses.has(n)) throw new EventsApiError(400, 'ResourceNotFoundException', `Event bus ${n} does not exist.`);
    return n;
  };
  const getRule = (name: string, bus: string | undefined): RuleState => {
    const r = rules.get(key(busName(bus), name));
    if (!r) throw new EventsApiError(400, 'ResourceNotFoundException', `Rule ${name} does not exist on EventBus ${busName(bus)}.`);
    return r;
  };

  const spec = (t: RuleTarget, event: EventEnvelope | undefined): TargetSpec => ({
    id: t.Id,
    arn: t.Arn,
    ...(t.SqsParameters?.MessageGroupId ? { messageGroupId: t.SqsParameters.MessageGroupId } : {}),
    ...(event ? { deduplicationId: event.id } : {}),
    ...(t.DeadLetterConfig?.Arn ? { deadLetterArn: t.DeadLetterConfig.Arn } : {}),
    ...(t.RetryPolicy?.MaximumRetryAttempts !== undefined ? { maximumRetryAttempts: Number(t.RetryPolicy.MaximumRetryAttempts) } : {}),
    ...(t.RetryPolicy?.MaximumEventAgeInSeconds !== undefined ? { maximumEventAgeSeconds: Number(t.RetryPolicy.MaximumEventAgeInSeconds) } : {}),
  });

  const dispatch = (rule: RuleState, event: EventEnvelope): Promise<FireResult['targets']> => {
    rule.stats.triggeredRules++;
    return Promise.all(
      rule.targets.map(async (t) => {
        let payload: string;
        try {
          payload = targetInput(t, event, { arn: rule.arn, name: rule.name });
        } catch (err) {
          rule.stats.failedInvocations++;
          log(`events: rule ${rule.name} target ${t.Id}: input not built (${(err as Error).message}); counted as a failed invocation`);
          return { id: t.Id, arn: t.Arn, outcome: { status: 'failed' as const, attempts: 0, errorCode: 'InvalidInput', errorMessage: (err as Error).message } };
        }
        const outcome = await dispatcher.send(spec(t, event), payload, {
          credentials: options.credentials,
          stats: rule.stats,
          dlqBody: JSON.stringify(event),
          dlqAttributes: { RULE_ARN: rule.arn },
          ...(options.deliveries ? { authorize: ruleAuthorizer(options.deliveries, rule.arn, (arn) => destinationExists(options.endpoint(), region, options.credentials, arn)) } : {}),
          eventTime: Date.parse(event.time) || Date.now(),
        });
        return { id: t.Id, arn: t.Arn, outcome };
      }),
    );
  };

  const arm = (rule: RuleState): void => {
    if (rule.timer) clearTimeout(rule.timer);
    rule.timer = undefined;
    rule.nextFire = undefined;
    if (stopped || options.timers === false || !rule.schedule || rule.state !== 'ENABLED') return;
    const next = rule.schedule.nextFire(new Date());
    if (!next) return;
    rule.nextFire = next;
    // setTimeout holds at most ~24.8 days: re-arm on the way.
    const wait = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
    rule.timer = setTimeout(() => {
      if (Date.now() + 5 < next.getTime()) return arm(rule);
      void dispatch(rule, scheduledEvent(rule.arn, { account, region })).finally(() => undefined);
      arm(rule);
    }, Math.max(0, wait));
    rule.timer.unref?.();
  };

  // `templateArn`: a template's rule keeps the ARN its Fn::GetAtt gave the template (its target policies'
  // aws:SourceArn), whose account is the deployment's even when the target endpoint has another (moto's).
  const putRule = (input: Parameters<EventsRuntime['putRule']>[0], templateArn?: string): RuleState => {
    if (!RULE_NAME.test(input.Name ?? '')) throw new EventsApiError(400, 'ValidationException', `Rule name ${JSON.stringify(input.Name)} must match [.-_A-Za-z0-9]{1,64}.`);
    const bus = busName(input.EventBusName);
    if (!input.EventPattern && !input.ScheduleExpression) throw new EventsApiError(400, 'ValidationException', 'Parameter(s) EventPattern or ScheduleExpression must be specified.');
    let match: RuleState['match'];
    let schedule: Schedule | undefined;
    try {
      if (input.EventPattern) match = compileEventPattern(input.EventPattern, 'EventPattern');
      if (input.ScheduleExpression) {
        if (bus !== 'default') throw new Error('ScheduleExpression is supported only on the default event bus.');
        if (input.ScheduleExpression.startsWith('at(')) throw new Error('at() is an EventBridge Scheduler expression; rules take rate() or cron().');
        schedule = parseScheduleExpression(input.ScheduleExpression);
      }
    } catch (err) {
      throw new EventsApiError(400, 'InvalidEventPatternException', (err as Error).message);
    }
    const existing = rules.get(key(bus, input.Name));
    const rule: RuleState = existing ?? { name: input.Name, bus, arn: templateArn ?? `arn:aws:events:${region}:${account}:rule/${bus === 'default' ? '' : `${bus}/`}${input.Name}`, state: 'ENABLED', targets: [], stats: { ...newStats(), matchedEvents: 0, triggeredRules: 0 } };
    rule.state = input.State === 'DISABLED' ? 'DISABLED' : 'ENABLED';
    if (input.Description !== undefined) rule.description = input.Description;
    rule.eventPattern = input.EventPattern;
    rule.scheduleExpression = input.ScheduleExpression;
    rule.match = match;
    rule.schedule = schedule;
    rules.set(key(bus, input.Name), rule);
    arm(rule);
    return rule;
  };

  const putOn = (defaultBus: string | undefined, entries: readonly PutEventsEntry[]): PutEventsResult => {
    if (entries.length === 0 || entries.length > PUT_EVENTS_MAX_ENTRIES) throw new EventsApiError(400, 'ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${PUT_EVENTS_MAX_ENTRIES} and greater than or equal to 1`);
    const total = entries.reduce((n, e) => n + entrySize(e), 0);
    if (total > PUT_EVENTS_MAX_BYTES) throw new EventsApiError(413, 'ValidationException', `Total size of the entries in the request is over the limit (${total} > ${PUT_EVENTS_MAX_BYTES} bytes).`);
    const results = entries.map((e) => {
      let bus: string;
      try {
        bus = busName(e.EventBusName ?? defaultBus);
      } catch (err) {
        return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: (err as Error).message };
      }
      const r = toEnvelope(e, { account, region });
      if (!r.ok) return { ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage };
      for (const rule of rules.values()) {
        if (rule.bus !== bus || rule.state !== 'ENABLED' || !rule.match || !rule.match(r.event)) continue;
        rule.stats.matchedEvents++;
        void dispatch(rule, r.event);
      }
      return { EventId: r.event.id };
    });
    return { FailedEntryCount: results.filter((x) => 'ErrorCode' in x).length, Entries: results };
  };

  // The template's buses first, then its rules.
  for (const r of options.recorded) if (r.type === 'AWS::Events::EventBus') buses.set(String(r.properties.Name), { name: String(r.properties.Name), arn: String(r.properties.Arn) });
  for (const r of options.recorded) {
    if (r.type !== 'AWS::Events::Rule') continue;
    const p = r.properties;
    const rule = putRule({
      Name: String(p.Name),
      EventBusName: String(p.EventBusName ?? 'default'),
      ...(p.EventPattern !== undefined ? { EventPattern: typeof p.EventPattern === 'string' ? p.EventPattern : JSON.stringify(p.EventPattern) } : {}),
      ...(p.ScheduleExpression !== undefined ? { ScheduleExpression: String(p.ScheduleExpression) } : {}),
      ...(p.State !== undefined ? { State: String(p.State) } : {}),
      ...(p.Description !== undefined ? { Description: String(p.Description) } : {}),
    }, typeof p.Arn === 'string' ? p.Arn : undefined);
    rule.logicalId = r.logicalId;
    rule.targets = ((p.Targets as RuleTarget[] | undefined) ?? []).map((t) => ({ ...t }));
  }

  return {
    region,
    account,
    putEvents: (entries) => putOn(undefined, entries),
    putEventsOn: (bus, entries) => putOn(bus, entries),
    buses: () => [...buses.values()],
    bus: (name) => buses.get(name.startsWith('arn:') ? name.split('/').pop()! : name),
    rules: (bus) => [...rules.values()].filter((r) => bus === undefined || r.bus === busName(bus)),
    rule: (name, bus) => rules.get(key(busName(bus), name)),
    putRule,
    deleteRule(name, bus) {
      const r = rules.get(key(busName(bus), name));
      if (!r) return;
      if (r.targets.length > 0) throw new EventsApiError(400, 'ValidationException', 'Rule can\'t be deleted since it has targets.');
      if (r.timer) clearTimeout(r.timer);
      rules.delete(key(r.bus, name));
    },
    putTargets(name, bus, targets) {
      const r = getRule(name, bus);
      for (const t of targets) {
        r.targets = r.targets.filter((x) => x.Id !== t.Id);
        r.targets.push({ ...t });
      }
    },
    removeTargets(name, bus, ids) {
      const r = getRule(name, bus);
      r.targets = r.targets.filter((t) => !ids.includes(t.Id));
    },
    setState(name, bus, state) {
      const r = getRule(name, bus);
      r.state = state;
      arm(r);
    },
    fire(name) {
      const rule = [...rules.values()].find((r) => r.schedule && (r.name === name || r.logicalId === name));
      if (!rule) return undefined;
      const event = scheduledEvent(rule.arn, { account, region });
      return dispatch(rule, event).then((targets) => ({ name: rule.name, kind: 'rule' as const, arn: rule.arn, event, targets }));
    },
    stats: () =>
      [...rules.values()].map((r) => ({
        name: r.name,
        arn: r.arn,
        bus: r.bus,
        state: r.state,
        matchedEvents: r.stats.matchedEvents,
        triggeredRules: r.stats.triggeredRules,
        invocations: r.stats.invocations,
        failedInvocations: r.stats.failedInvocations,
        deadLetterInvocations: r.stats.deadLetterInvocations,
        retries: r.stats.retries,
        ...(r.nextFire ? { nextFire: r.nextFire.toISOString() } : {}),
      })),
    idle: () => dispatcher.idle(),
    stop() {
      stopped = true;
      for (const r of rules.values()) if (r.timer) clearTimeout(r.timer);
      dispatcher.stop();
    },
  };
}
