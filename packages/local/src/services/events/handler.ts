/**
 * EventBridge on the one endpoint (JSON 1.1, `AWSEvents.*` targets, signing name `events`), answered
 * from the attached stack's EventsRuntime: PutEvents, PutRule, DescribeRule, ListRules, DeleteRule,
 * EnableRule, DisableRule, PutTargets, ListTargetsByRule, RemoveTargets, ListEventBuses,
 * DescribeEventBus. Other operations are refused by name (UnsupportedOperation), never answered empty.
 *
 * Also `POST /_floodgate/schedules/<name>/fire` (signed like any request, signing name `events` or
 * `scheduler`; the local admin only): runs a scheduled rule or a Scheduler schedule now and answers
 * its delivery outcome as JSON.
 */
import type { ServerResponse } from 'node:http';
import { jsonError } from '../../gateway/protocol-errors.js';
import type { GatewayContext, GatewayError, GatewayService } from '../../gateway/types.js';
import { EventsApiError, type EventsRuntime, type RuleState, type RuleTarget } from './bus-runtime.js';
import type { PutEventsEntry } from './event.js';

export const FIRE_PATH = /^\/_floodgate\/schedules\/([^/]+)\/fire\/?$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function describe(r: RuleState): Record<string, unknown> {
  return {
    Name: r.name,
    Arn: r.arn,
    EventBusName: r.bus,
    State: r.state,
    ...(r.eventPattern !== undefined ? { EventPattern: r.eventPattern } : {}),
    ...(r.scheduleExpression !== undefined ? { ScheduleExpression: r.scheduleExpression } : {}),
    ...(r.description !== undefined ? { Description: r.description } : {}),
  };
}

type Body = Record<string, any>;

function operate(events: EventsRuntime, op: string, b: Body): unknown {
  const bus = b.EventBusName as string | undefined;
  switch (op) {
    case 'PutEvents':
      return events.putEvents((b.Entries ?? []) as PutEventsEntry[]);
    case 'PutRule':
      return { RuleArn: events.putRule(b as Parameters<EventsRuntime['putRule']>[0]).arn };
    case 'DescribeRule': {
      const r = events.rule(String(b.Name), bus);
      if (!r) throw new EventsApiError(400, 'ResourceNotFoundException', `Rule ${String(b.Name)} does not exist.`);
      return { ...describe(r), CreatedBy: events.account };
    }
    case 'ListRules': {
      const prefix = String(b.NamePrefix ?? '');
      return { Rules: events.rules(bus).filter((r) => r.name.startsWith(prefix)).map(describe) };
    }
    case 'DeleteRule':
      events.deleteRule(String(b.Name), bus);
      return {};
    case 'EnableRule':
    case 'DisableRule':
      events.setState(String(b.Name), bus, op === 'EnableRule' ? 'ENABLED' : 'DISABLED');
      return {};
    case 'PutTargets':
      events.putTargets(String(b.Rule), bus, (b.Targets ?? []) as RuleTarget[]);
      return { FailedEntryCount: 0, FailedEntries: [] };
    case 'RemoveTargets':
      events.removeTargets(String(b.Rule), bus, (b.Ids ?? []) as string[]);
      return { FailedEntryCount: 0, FailedEntries: [] };
    case 'ListTargetsByRule': {
      const r = events.rule(String(b.Rule), bus);
      if (!r) throw new EventsApiError(400, 'ResourceNotFoundException', `Rule ${String(b.Rule)} does not exist.`);
      return { Targets: r.targets };
    }
    case 'ListEventBuses': {
      const prefix = String(b.NamePrefix ?? '');
      return { EventBuses: events.buses().filter((x) => x.name.startsWith(prefix)).map((x) => ({ Name: x.name, Arn: x.arn })) };
    }
    case 'DescribeEventBus': {
      const x = events.bus(String(b.Name ?? 'default'));
      if (!x) throw new EventsApiError(400, 'ResourceNotFoundException', `Event bus ${String(b.Name)} does not exist.`);
      return { Name: x.name, Arn: x.arn };
    }
    default:
      throw new EventsApiError(400, 'UnsupportedOperation', `EventBridge ${op} is not emulated by the local stack`);
  }
}

export function eventsService(ctx: GatewayContext): GatewayService {
  const service: GatewayService = {
    name: 'events',
    signingNames: ['events', 'scheduler'],
    claims: (r) => (r.headers['x-amz-target'] ?? '').startsWith('AWSEvents.') || FIRE_PATH.test(r.path),
    async handle(req, res) {
      const stack = ctx.stack();
      try {
        const fire = FIRE_PATH.exec(req.path);
        if (fire) {
          if (req.method !== 'POST') throw new EventsApiError(405, 'MethodNotAllowed', 'POST to fire a schedule');
          const name = decodeURIComponent(fire[1]!);
          const run = stack?.schedules?.fire(name);
          if (!run) throw new EventsApiError(404, 'ResourceNotFoundException', `No scheduled rule or schedule named ${name} in the local stack`);
          // A rejection is an EventsApiError (no such schedule): rendered below.
          return send(res, 200, await run);
        }
        if (req.scope?.service === 'scheduler') throw new EventsApiError(400, 'UnsupportedOperation', 'The EventBridge Scheduler API is not emulated by the local stack (its schedules come from the template)');
        const events = stack?.events;
        if (!events) throw new EventsApiError(503, 'ServiceUnavailable', 'No local stack is attached to this endpoint yet');
        const op = (req.headers['x-amz-target'] ?? '').replace(/^AWSEvents\./, '');
        const raw = await req.body();
        let body: Body;
        try {
          body = raw.length ? (JSON.parse(raw.toString('utf8')) as Body) : {};
        } catch {
          throw new EventsApiError(400, 'SerializationException', 'The request body is not JSON');
        }
        return send(res, 200, operate(events, op, body));
      } catch (err) {
        if (err instanceof EventsApiError) return service.error(req, res, err);
        throw err;
      }
    },
    error: (_req, res, err: GatewayError) => jsonError(res, err, 'com.amazonaws.events'),
  };
  return service;
}
