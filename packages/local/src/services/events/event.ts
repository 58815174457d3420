/**
 * EventBridge events, pure: PutEvents entry validation with AWS's per-entry error codes, the event
 * envelope (version "0", id, detail-type, source, account, time without milliseconds, region,
 * resources, detail), the scheduled-event envelope, and what a target receives: the whole event,
 * `Input` (constant JSON), `InputPath` (a JSONPath into the event) or `InputTransformer`
 * (InputPathsMap + InputTemplate with `<var>` placeholders).
 */
import { randomUUID } from 'node:crypto';

export interface PutEventsEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly Resources?: readonly string[];
  readonly EventBusName?: string;
  readonly Time?: string | number;
  readonly TraceHeader?: string;
}

export interface EventEnvelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

/** 256 KB, the PutEvents limit for a request (and so for one entry). */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;
export const PUT_EVENTS_MAX_ENTRIES = 10;

/** AWS's size of an entry: UTF-8 bytes of Source, DetailType, Detail, Resources, plus 14 for Time. */
export function entrySize(e: PutEventsEntry): number {
  const b = (s: string | undefined): number => (s ? Buffer.byteLength(s, 'utf8') : 0);
  return (e.Time !== undefined ? 14 : 0) + b(e.Source) + b(e.DetailType) + b(e.Detail) + (e.Resources ?? []).reduce((n, r) => n + b(r), 0);
}

/** ISO-8601 without milliseconds, as EventBridge writes `time`. */
export const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export type EntryResult = { readonly ok: true; readonly event: EventEnvelope } | { readonly ok: false; readonly ErrorCode: string; readonly ErrorMessage: string };

/** One PutEvents entry → its envelope, or AWS's per-entry error. */
export function toEnvelope(e: PutEventsEntry, ctx: { account: string; region: string; now?: Date }): EntryResult {
  if (!e.Source) return { ok: false, ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.' };
  if (!e.DetailType) return { ok: false, ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.' };
  if (!e.Detail) return { ok: false, ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.' };
  if (entrySize(e) > PUT_EVENTS_MAX_BYTES) return { ok: false, ErrorCode: 'InvalidArgument', ErrorMessage: `Event size ${entrySize(e)} bytes exceeds the maximum of ${PUT_EVENTS_MAX_BYTES} bytes.` };
  let detail: unknown;
  try {
    detail = JSON.parse(e.Detail);
  } catch {
    return { ok: false, ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { ok: false, ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  let time = ctx.now ?? new Date();
  if (e.Time !== undefined) {
    const t = typeof e.Time === 'number' ? new Date(e.Time * 1000) : new Date(e.Time);
    if (!Number.isNaN(t.getTime())) time = t;
  }
  return {
    ok: true,
    event: { version: '0', id: randomUUID(), 'detail-type': e.DetailType, source: e.Source, account: ctx.account, time: isoSeconds(time), region: ctx.region, resources: [...(e.Resources ?? [])], detail },
  };
}

/** The event a scheduled rule sends (AWS "Creating a rule that runs on a schedule"). */
export function scheduledEvent(ruleArn: string, ctx: { account: string; region: string; now?: Date }): EventEnvelope {
  return { version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: ctx.account, time: isoSeconds(ctx.now ?? new Date()), region: ctx.region, resources: [ruleArn], detail: {} };
}

export class InputTransformError extends Error {
  override readonly name = 'InputTransformError';
}

/** A JSONPath into the event: `$`, `$.a.b`, `$.a[0]`, `$['a-b']`, `$.detail.*`-free subset EventBridge accepts. */
export function jsonPath(value: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new InputTransformError(`"${path}" is not a JSONPath (it starts with $)`);
  let cur: unknown = value;
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/gy;
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  let pos = 1;
  while (pos < path.length && (m = re.exec(path))) {
    pos = re.lastIndex;
    const key = m[1] ?? m[3] ?? m[4];
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = key !== undefined ? (cur as Record<string, unknown>)[key] : (cur as unknown[])[Number(m[2])];
  }
  if (pos !== path.length) throw new InputTransformError(`"${path}" is not a JSONPath EventBridge accepts`);
  return cur;
}

export interface InputTransformer {
  readonly InputPathsMap?: Readonly<Record<string, string>>;
  readonly InputTemplate: string;
}

const RESERVED = new Set(['aws.events.rule-arn', 'aws.events.rule-name', 'aws.events.event.ingestion-time', 'aws.events.event', 'aws.events.event.json']);

/**
 * InputTransformer as EventBridge applies it: each `<var>` of the template is the value its path
 * selects. In a JSON template, a placeholder inside quotes is replaced by the value's text (strings
 * unquoted and escaped); outside quotes, by the value as JSON (a string keeps its quotes, an object or
 * list is inserted whole, a missing value becomes null). A template that is not JSON (a plain string)
 * gets the text of each value. Reserved variables: aws.events.rule-arn, aws.events.rule-name,
 * aws.events.event.ingestion-time, aws.events.event (only outside quotes) and aws.events.event.json.
 */
export function transformInput(t: InputTransformer, event: unknown, rule: { arn: string; name: string }): string {
  const values = new Map<string, unknown>();
  for (const [k, p] of Object.entries(t.InputPathsMap ?? {})) {
    if (RESERVED.has(k)) throw new InputTransformError(`InputPathsMap: "${k}" is reserved`);
    values.set(k, jsonPath(event, p));
  }
  values.set('aws.events.rule-arn', rule.arn);
  values.set('aws.events.rule-name', rule.name);
  values.set('aws.events.event.ingestion-time', (event as { time?: string }).time ?? new Date().toISOString());
  values.set('aws.events.event', event);
  values.set('aws.events.event.json', event);
  const template = t.InputTemplate;
  const trimmed = template.trim();
  const isJson = trimmed.startsWith('{') || trimmed.startsWith('[');
  const text = (v: unknown): string => (v === undefined || v === null ? (isJson ? 'null' : '') : typeof v === 'string' ? v : JSON.stringify(v));
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '<') {
      const close = template.indexOf('>', i);
      const name = close > i ? template.slice(i + 1, close) : '';
      if (/^[A-Za-z0-9_.-]+$/.test(name) && values.has(name)) {
        const v = values.get(name);
        if (!isJson) out += text(v);
        else if (inString) out += typeof v === 'string' ? JSON.stringify(v).slice(1, -1) : v === undefined || v === null ? '' : JSON.stringify(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
        else out += v === undefined ? 'null' : JSON.stringify(v);
        i = close;
        continue;
      }
    }
    if (isJson && c === '"' && template[i - 1] !== '\\') inString = !inString;
    out += c;
  }
  return out;
}

export interface TargetInputOptions {
  readonly Input?: string;
  readonly InputPath?: string;
  readonly InputTransformer?: InputTransformer;
}

/** What a target receives for an event (a string: an SQS body, an SNS message, a Lambda payload). */
export function targetInput(t: TargetInputOptions, event: unknown, rule: { arn: string; name: string }): string {
  if (t.Input !== undefined) return t.Input;
  if (t.InputPath !== undefined) return JSON.stringify(jsonPath(event, t.InputPath) ?? null);
  if (t.InputTransformer) return transformInput(t.InputTransformer, event, rule);
  return JSON.stringify(event);
}
