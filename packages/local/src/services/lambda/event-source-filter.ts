/**
 * Lambda event filtering (FilterCriteria) for SQS records, as a pure matcher. A record is delivered when
 * ANY filter matches; a record no filter matches is deleted from the queue without an invocation.
 *
 * Pattern syntax (AWS "Lambda event filtering", "Filter rule syntax"): a pattern is a JSON object whose
 * keys are record keys (`body`, `attributes`, `messageAttributes`, `messageId`, ...) and whose leaves are
 * lists of rules, ORed: exact strings/numbers/booleans, `null`, `""`, `{ "prefix" }`, `{ "suffix" }`,
 * `{ "equals-ignore-case" }`, `{ "anything-but": v | [v...] | { "prefix" } }`, `{ "numeric": [op, n, ...] }`
 * and `{ "exists": bool }`; `$or: [pattern, ...]` at any level. Keys of one object are ANDed. When the
 * record's value is a list, the rule matches if any element does.
 *
 * The SQS `body` (AWS "Using event filtering with an Amazon SQS event source"): an object pattern under
 * `body` matches the body parsed as JSON; a body that is not JSON then does not match (Lambda drops it).
 * A list of rules under `body` matches the body as a plain string.
 */
import type { SQSRecord } from 'aws-lambda';

export class FilterCriteriaError extends Error {
  override readonly name = 'FilterCriteriaError';
}

export interface FilterCriteria {
  readonly Filters?: ReadonlyArray<{ readonly Pattern?: string }>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Rule = (present: boolean, value: Json | undefined) => boolean;
type Matcher = (obj: Json | undefined) => boolean;

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const NUMERIC_OPS = new Set(['=', '<', '<=', '>', '>=']);

/** Rules of one leaf: value present/absent and its value (a scalar; lists are expanded by the caller). */
function compileRule(rule: Json, path: string): Rule {
  if (rule === null || typeof rule !== 'object') return (present, v) => present && v === rule;
  if (Array.isArray(rule)) throw new FilterCriteriaError(`${path}: a rule cannot be a nested list`);
  const keys = Object.keys(rule);
  if (keys.length !== 1) throw new FilterCriteriaError(`${path}: a rule object has exactly one operator (got ${JSON.stringify(rule)})`);
  const op = keys[0]!;
  const arg = rule[op]!;
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') throw new FilterCriteriaError(`${path}: "${op}" needs a string (got ${JSON.stringify(arg)})`);
      if (op === 'prefix') return (p, v) => p && typeof v === 'string' && v.startsWith(arg);
      if (op === 'suffix') return (p, v) => p && typeof v === 'string' && v.endsWith(arg);
      const low = arg.toLowerCase();
      return (p, v) => p && typeof v === 'string' && v.toLowerCase() === low;
    }
    case 'exists':
      if (typeof arg !== 'boolean') throw new FilterCriteriaError(`${path}: "exists" needs true or false`);
      return (p) => p === arg;
    case 'anything-but': {
      if (isObject(arg)) {
        const prefix = arg.prefix;
        if (typeof prefix !== 'string' || Object.keys(arg).length !== 1) throw new FilterCriteriaError(`${path}: "anything-but" takes a value, a list or { "prefix": string }`);
        return (p, v) => p && typeof v === 'string' && !v.startsWith(prefix);
      }
      const banned = Array.isArray(arg) ? arg : [arg];
      for (const b of banned) if (b !== null && typeof b === 'object') throw new FilterCriteriaError(`${path}: "anything-but" values must be strings or numbers`);
      return (p, v) => p && v !== undefined && !banned.includes(v as Json);
    }
    case 'numeric': {
      if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) throw new FilterCriteriaError(`${path}: "numeric" takes [op, n] or [op, n, op, n] (got ${JSON.stringify(arg)})`);
      const checks: Array<(x: number) => boolean> = [];
      for (let i = 0; i < arg.length; i += 2) {
        const o = arg[i];
        const n = arg[i + 1];
        if (typeof o !== 'string' || !NUMERIC_OPS.has(o) || typeof n !== 'number') throw new FilterCriteriaError(`${path}: "numeric" pairs are one of = < <= > >= and a number (got ${JSON.stringify(arg)})`);
        checks.push(o === '=' ? (x) => x === n : o === '<' ? (x) => x < n : o === '<=' ? (x) => x <= n : o === '>' ? (x) => x > n : (x) => x >= n);
      }
      return (p, v) => p && typeof v === 'number' && checks.every((c) => c(v));
    }
    default:
      throw new FilterCriteriaError(`${path}: unknown operator "${op}" (Lambda supports prefix, suffix, equals-ignore-case, anything-but, numeric, exists)`);
  }
}

function compileLeaf(rules: Json[], path: string): Matcher {
  if (rules.length === 0) throw new FilterCriteriaError(`${path}: an empty rule list matches nothing`);
  const compiled = rules.map((r, i) => compileRule(r, `${path}[${i}]`));
  return (v) => {
    if (v === undefined) return compiled.some((c) => c(false, undefined));
    // A list in the record matches when any element does; an empty list is treated as absent.
    const values = Array.isArray(v) ? v : [v];
    if (values.length === 0) return compiled.some((c) => c(false, undefined));
    return compiled.some((c) => values.some((x) => c(true, x)));
  };
}

function compileObject(pattern: Record<string, Json>, path: string): Matcher {
  const parts: Matcher[] = [];
  for (const [key, sub] of Object.entries(pattern)) {
    const here = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2 || !sub.every(isObject)) throw new FilterCriteriaError(`${here}: "$or" takes a list of at least two patterns`);
      const alts = sub.map((s, i) => compileObject(s, `${here}[${i}]`));
      parts.push((obj) => alts.some((a) => a(obj)));
      continue;
    }
    if (Array.isArray(sub)) {
      const leaf = compileLeaf(sub, here);
      parts.push((obj) => leaf(isObject(obj) ? obj[key] : undefined));
    } else if (isObject(sub)) {
      const inner = compileObject(sub, here);
      parts.push((obj) => inner(isObject(obj) ? obj[key] : undefined));
    } else {
      throw new FilterCriteriaError(`${here}: a pattern value must be a list of rules or an object (got ${JSON.stringify(sub)})`);
    }
  }
  return (obj) => parts.every((p) => p(obj));
}

/**
 * An event pattern (the same grammar: prefix, suffix, equals-ignore-case, anything-but, numeric,
 * exists, $or) against any JSON value: also SNS filter policies for `lambda` subscriptions
 * (services/sns/lambda-delivery.ts), so there is one matcher for both.
 */
export function compileEventPattern(pattern: unknown, where: string): (value: unknown) => boolean {
  if (!isObject(pattern)) throw new FilterCriteriaError(`${where}: a pattern must be a JSON object`);
  const m = compileObject(pattern, where);
  return (value) => m(value as Json | undefined);
}

/** One filter pattern against one SQS record. */
function compilePattern(pattern: Record<string, Json>, path: string): (record: SQSRecord) => boolean {
  const { body, ...rest } = pattern;
  const others = compileObject(rest, path);
  let bodyMatch: ((body: string) => boolean) | undefined;
  if (body !== undefined) {
    if (Array.isArray(body)) {
      const leaf = compileLeaf(body, `${path}.body`);
      bodyMatch = (b) => leaf(b);
    } else if (isObject(body)) {
      const inner = compileObject(body, `${path}.body`);
      bodyMatch = (b) => {
        let parsed: Json;
        try {
          parsed = JSON.parse(b) as Json;
        } catch {
          return false; // an object pattern needs a JSON body: Lambda drops the message
        }
        return isObject(parsed) && inner(parsed);
      };
    } else throw new FilterCriteriaError(`${path}.body: must be a list of rules or an object`);
  }
  return (record) => (bodyMatch ? bodyMatch(record.body) : true) && others(record as unknown as Json);
}

/**
 * Compiles FilterCriteria once (a bad pattern is a FilterCriteriaError, as CreateEventSourceMapping
 * would reject it). Returns undefined when there are no filters (every record is delivered).
 */
export function compileFilterCriteria(criteria: FilterCriteria | undefined, where = 'FilterCriteria'): ((record: SQSRecord) => boolean) | undefined {
  const filters = criteria?.Filters ?? [];
  if (filters.length === 0) return undefined;
  if (filters.length > 10) throw new FilterCriteriaError(`${where}: at most 10 filters per event source mapping (got ${filters.length})`);
  const matchers = filters.map((f, i) => {
    const at = `${where}.Filters[${i}]`;
    if (typeof f.Pattern !== 'string') throw new FilterCriteriaError(`${at}: Pattern must be a JSON string`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(f.Pattern);
    } catch (err) {
      throw new FilterCriteriaError(`${at}: Pattern is not valid JSON (${(err as Error).message})`);
    }
    if (!isObject(parsed)) throw new FilterCriteriaError(`${at}: Pattern must be a JSON object`);
    return compilePattern(parsed, at);
  });
  return (record) => matchers.some((m) => m(record));
}
