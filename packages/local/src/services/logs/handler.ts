/**
 * The CloudWatch Logs API on the one endpoint (JSON protocol, `X-Amz-Target: Logs_20140328.<Operation>`,
 * signing name `logs`), answered from the attached stack's log store: DescribeLogGroups,
 * DescribeLogStreams, GetLogEvents and FilterLogEvents, with their pagination. Other operations are
 * refused by name. The request/response mapping is pure (logsOperation); the service only does HTTP.
 */
import type { ServerResponse } from 'node:http';
import type { GatewayContext, GatewayError, GatewayService } from '../../gateway/types.js';
import { jsonError } from '../../gateway/protocol-errors.js';
import { LOCAL_ACCOUNT_ID } from '../../core/identity.js';
import { compileFilterPattern, FilterPatternError, type LogEvent, type LogStore } from './store.js';

export const LOGS_TARGET_PREFIX = 'Logs_20140328.';

export class LogsApiError extends Error implements GatewayError {
  override readonly name = 'LogsApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
const invalid = (m: string): LogsApiError => new LogsApiError(400, 'InvalidParameterException', m);
const groupNotFound = (): LogsApiError => new LogsApiError(400, 'ResourceNotFoundException', 'The specified log group does not exist.');
const streamNotFound = (): LogsApiError => new LogsApiError(400, 'ResourceNotFoundException', 'The specified log stream does not exist.');

export interface LogsArnContext {
  readonly region: string;
  readonly accountId: string;
}

const groupArn = (c: LogsArnContext, g: string): string => `arn:aws:logs:${c.region}:${c.accountId}:log-group:${g}`;

type Body = Record<string, unknown>;
const optString = (b: Body, k: string): string | undefined => {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${k} must be a string`);
  return v;
};
const optNumber = (b: Body, k: string): number | undefined => {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${k} must be a number`);
  return v;
};
const optLimit = (b: Body, max: number): number => {
  const v = optNumber(b, 'limit');
  if (v === undefined) return max;
  if (!Number.isInteger(v) || v < 1 || v > max) throw invalid(`1 validation error detected: Value '${v}' at 'limit' failed to satisfy constraint: Member must have value between 1 and ${max}`);
  return v;
};
/** logGroupName, or logGroupIdentifier (a name or an ARN, with or without `:*`). */
function groupName(b: Body): string {
  const name = optString(b, 'logGroupName');
  const id = optString(b, 'logGroupIdentifier');
  if (name !== undefined && id !== undefined) throw invalid('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  const g = name ?? (id !== undefined ? (/^arn:[^:]+:logs:[^:]*:[^:]*:log-group:(.+?)(:\*)?$/.exec(id)?.[1] ?? id) : undefined);
  if (g === undefined || g === '') throw invalid('Either logGroupName or logGroupIdentifier must be given');
  return g;
}
const encodeToken = (kind: string, n: number): string => Buffer.from(`${kind}/${n}`).toString('base64url');
function decodeToken(token: string | undefined, kind: string): number | undefined {
  if (token === undefined) return undefined;
  const m = new RegExp(`^${kind}/(\\d+)$`).exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m) throw invalid('The specified nextToken is invalid.');
  return Number(m[1]);
}
const outEvent = (e: LogEvent): Record<string, unknown> => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime });

/** One Logs operation against a store: the response body, or a LogsApiError. */
export function logsOperation(store: LogStore, op: string, body: Body, ctx: LogsArnContext): Record<string, unknown> {
  switch (op) {
    case 'DescribeLogGroups': {
      const prefix = optString(body, 'logGroupNamePrefix');
      const pattern = optString(body, 'logGroupNamePattern');
      if (prefix !== undefined && pattern !== undefined) throw invalid('LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.');
      const limit = optLimit(body, 50);
      const from = decodeToken(optString(body, 'nextToken'), 'g') ?? 0;
      const all = store.listGroups().filter((g) => (prefix === undefined || g.logGroupName.startsWith(prefix)) && (pattern === undefined || g.logGroupName.toLowerCase().includes(pattern.toLowerCase())));
      const page = all.slice(from, from + limit);
      return {
        logGroups: page.map((g) => ({
          logGroupName: g.logGroupName,
          creationTime: g.creationTime,
          metricFilterCount: 0,
          arn: `${groupArn(ctx, g.logGroupName)}:*`,
          storedBytes: g.storedBytes,
          logGroupClass: 'STANDARD',
          logGroupArn: groupArn(ctx, g.logGroupName),
        })),
        ...(from + limit < all.length ? { nextToken: encodeToken('g', from + limit) } : {}),
      };
    }
    case 'DescribeLogStreams': {
      const g = groupName(body);
      const prefix = optString(body, 'logStreamNamePrefix');
      const orderBy = optString(body, 'orderBy') ?? 'LogStreamName';
      if (orderBy !== 'LogStreamName' && orderBy !== 'LastEventTime') throw invalid(`orderBy must be LogStreamName or LastEventTime (got ${orderBy})`);
      if (orderBy === 'LastEventTime' && prefix !== undefined) throw invalid('Cannot order by LastEventTime with a logStreamNamePrefix.');
      const descending = body.descending === true;
      const limit = optLimit(body, 50);
      const from = decodeToken(optString(body, 'nextToken'), 's') ?? 0;
      const streams = store.listStreams(g);
      if (!streams) throw groupNotFound();
      const sorted = streams
        .filter((s) => prefix === undefined || s.logStreamName.startsWith(prefix))
        .sort((a, b) => (orderBy === 'LastEventTime' ? (a.lastEventTimestamp ?? 0) - (b.lastEventTimestamp ?? 0) : a.logStreamName < b.logStreamName ? -1 : a.logStreamName > b.logStreamName ? 1 : 0));
      if (descending) sorted.reverse();
      const page = sorted.slice(from, from + limit);
      return {
        logStreams: page.map((s) => ({
          logStreamName: s.logStreamName,
          creationTime: s.creationTime,
          ...(s.firstEventTimestamp !== undefined ? { firstEventTimestamp: s.firstEventTimestamp } : {}),
          ...(s.lastEventTimestamp !== undefined ? { lastEventTimestamp: s.lastEventTimestamp } : {}),
          ...(s.lastIngestionTime !== undefined ? { lastIngestionTime: s.lastIngestionTime } : {}),
          arn: `${groupArn(ctx, g)}:log-stream:${s.logStreamName}`,
          storedBytes: 0,
        })),
        ...(from + limit < sorted.length ? { nextToken: encodeToken('s', from + limit) } : {}),
      };
    }
    case 'GetLogEvents': {
      const g = groupName(body);
      const stream = optString(body, 'logStreamName');
      if (stream === undefined) throw invalid('logStreamName is required');
      const startTime = optNumber(body, 'startTime');
      const endTime = optNumber(body, 'endTime');
      const limit = optLimit(body, 10_000);
      const token = optString(body, 'nextToken');
      const events = store.events(g);
      if (!events) throw groupNotFound();
      if (!store.listStreams(g)!.some((s) => s.logStreamName === stream)) throw streamNotFound();
      let inStream = events.filter((e) => e.logStreamName === stream && (startTime === undefined || e.timestamp >= startTime) && (endTime === undefined || e.timestamp < endTime));
      // Tokens: f/<seq> = events after seq; b/<seq> = events before seq. Without one: the newest page,
      // or the oldest with startFromHead (as CloudWatch).
      let page: LogEvent[];
      const decoded = token !== undefined ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
      if (decoded?.startsWith('f/')) {
        const after = decodeToken(token, 'f')!;
        page = inStream.filter((e) => e.seq > after).slice(0, limit);
      } else if (decoded?.startsWith('b/')) {
        const before = decodeToken(token, 'b')!;
        inStream = inStream.filter((e) => e.seq < before);
        page = inStream.slice(Math.max(0, inStream.length - limit));
      } else if (token !== undefined) {
        throw invalid('The specified nextToken is invalid.');
      } else page = body.startFromHead === true ? inStream.slice(0, limit) : inStream.slice(Math.max(0, inStream.length - limit));
      // At the end, CloudWatch hands back the token it was given: clients stop when it repeats.
      const last = page.at(-1)?.seq;
      const first = page[0]?.seq;
      return {
        events: page.map(outEvent),
        nextForwardToken: last !== undefined ? encodeToken('f', last) : decoded?.startsWith('f/') ? token : encodeToken('f', inStream.at(-1)?.seq ?? 0),
        nextBackwardToken: first !== undefined ? encodeToken('b', first) : decoded?.startsWith('b/') ? token : encodeToken('b', inStream[0]?.seq ?? 0),
      };
    }
    case 'FilterLogEvents': {
      const g = groupName(body);
      const names = body.logStreamNames;
      if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) throw invalid('logStreamNames must be a list of strings');
      const prefix = optString(body, 'logStreamNamePrefix');
      if (names !== undefined && prefix !== undefined) throw invalid('logStreamNames and logStreamNamePrefix are mutually exclusive parameters.');
      const startTime = optNumber(body, 'startTime');
      const endTime = optNumber(body, 'endTime');
      const limit = optLimit(body, 10_000);
      const after = decodeToken(optString(body, 'nextToken'), 'e') ?? 0;
      let match: (m: string) => boolean;
      try {
        match = compileFilterPattern(optString(body, 'filterPattern'));
      } catch (err) {
        if (err instanceof FilterPatternError) throw invalid(err.message);
        throw err;
      }
      const events = store.events(g);
      if (!events) throw groupNotFound();
      const wanted = names ? new Set(names as string[]) : undefined;
      const hits = events.filter(
        (e) =>
          e.seq > after &&
          (!wanted || wanted.has(e.logStreamName)) &&
          (prefix === undefined || e.logStreamName.startsWith(prefix)) &&
          (startTime === undefined || e.timestamp >= startTime) &&
          (endTime === undefined || e.timestamp <= endTime) &&
          match(e.message),
      );
      const page = hits.slice(0, limit);
      const streams = store.listStreams(g)!.filter((s) => (!wanted || wanted.has(s.logStreamName)) && (prefix === undefined || s.logStreamName.startsWith(prefix)));
      return {
        events: page.map((e) => ({ logStreamName: e.logStreamName, ...outEvent(e), eventId: e.eventId })),
        searchedLogStreams: streams.map((s) => ({ logStreamName: s.logStreamName, searchedCompletely: true })),
        ...(hits.length > limit ? { nextToken: encodeToken('e', page.at(-1)!.seq) } : {}),
      };
    }
    default:
      throw new LogsApiError(400, 'UnknownOperationException', `${op} is not served by the local stack's CloudWatch Logs (DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents are)`);
  }
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(Buffer.byteLength(text)), 'x-amzn-requestid': crypto.randomUUID() });
  res.end(text);
}

export function logsService(ctx: GatewayContext): GatewayService {
  return {
    name: 'logs',
    signingNames: ['logs'],
    claims: (r) => (r.headers['x-amz-target'] ?? '').startsWith(LOGS_TARGET_PREFIX),
    async handle(req, res) {
      try {
        const target = req.headers['x-amz-target'] ?? '';
        if (!target.startsWith(LOGS_TARGET_PREFIX)) throw new LogsApiError(400, 'UnknownOperationException', `Expected X-Amz-Target ${LOGS_TARGET_PREFIX}<Operation> (got "${target}")`);
        const stack = ctx.stack();
        if (!stack?.logStore) throw new LogsApiError(503, 'ServiceUnavailableException', 'No local stack is attached to this endpoint: start one (floodgate-local up) to read its logs');
        const raw = await req.body();
        let body: unknown = {};
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new LogsApiError(400, 'SerializationException', 'The request body is not valid JSON');
          }
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new LogsApiError(400, 'SerializationException', 'The request body must be a JSON object');
        sendJson(res, logsOperation(stack.logStore, target.slice(LOGS_TARGET_PREFIX.length), body as Body, { region: stack.region, accountId: LOCAL_ACCOUNT_ID }));
      } catch (err) {
        if (err instanceof LogsApiError) return this.error(req, res, err);
        throw err;
      }
    },
    error(_req, res, err) {
      jsonError(res, err, 'com.amazonaws.logs');
    },
  };
}
