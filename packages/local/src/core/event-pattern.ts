/**
 * THE event-pattern matcher of the local stack, pure: EventBridge event patterns (rules), Lambda
 * FilterCriteria (the SQS poller, services/lambda/event-source-filter.ts adds the SQS `body` handling)
 * and SNS filter policies (services/sns/lambda-delivery.ts) are one language, so one implementation.
 *
 * Grammar (AWS "Amazon EventBridge event patterns", "Content filtering in event patterns"): a pattern is
 * a JSON object; keys are field names (ANDed); a value is either a nested pattern object or a list of
 * rules (ORed). `$or: [pattern, ...]` combines alternatives at any level. Rules:
 * - exact values: string, number (compared numerically), boolean, `null`;
 * - `{ "prefix": s }`, `{ "suffix": s }` (also `{ "prefix": { "equals-ignore-case": s } }` and suffix);
 * - `{ "equals-ignore-case": s }`, `{ "wildcard": "a*b" }` (`\*` and `\\` escape);
 * - `{ "anything-but": v | [v...] | { "prefix" | "suffix" | "equals-ignore-case" | "wildcard": s | [s...] } }`;
 * - `{ "numeric": [op, n (, op, n)] }` with = < <= > >=;
 * - `{ "exists": true | false }` (leaf fields only);
 * - `{ "cidr": "10.0.0.0/24" }` (IPv4 and IPv6).
 * When the event's value is a list, a rule matches when any element does. A missing field matches only
 * `{ "exists": false }`.
 */

export class EventPatternError extends Error {
  override readonly name: string = 'EventPatternError';
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** One rule against one value (`present` false: the field is missing). */
export type Rule = (present: boolean, value: Json | undefined) => boolean;
export type Matcher = (obj: Json | undefined) => boolean;

/**
 * The operators each user of the language accepts: EventBridge all of them; Lambda FilterCriteria has
 * no wildcard and no cidr; SNS filter policies no wildcard (AWS "Filter rule syntax", "SNS filter
 * policy constraints"). An operator outside the dialect is refused as that API refuses it.
 */
export type Dialect = 'eventbridge' | 'lambda' | 'sns';
const NOT_IN: Record<Dialect, ReadonlySet<string>> = { eventbridge: new Set(), lambda: new Set(['wildcard', 'cidr']), sns: new Set(['wildcard']) };
const SUPPORTED = ['prefix', 'suffix', 'equals-ignore-case', 'wildcard', 'anything-but', 'numeric', 'exists', 'cidr'];

export const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const NUMERIC_OPS = new Set(['=', '<', '<=', '>', '>=']);

/** `a*b` → /^a.*b$/s, with `\*` a literal star and `\\` a backslash. Consecutive wildcards are refused, as EventBridge does. */
export function wildcardRegExp(pattern: string, path: string, ignoreCase = false): RegExp {
  let re = '';
  let lastStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n !== '*' && n !== '\\') throw new EventPatternError(`${path}: "wildcard": a backslash escapes only * or \\ (got ${JSON.stringify(pattern)})`);
      re += n === '*' ? '\\*' : '\\\\';
      i++;
      lastStar = false;
    } else if (c === '*') {
      if (lastStar) throw new EventPatternError(`${path}: "wildcard": consecutive wildcard characters are not allowed (got ${JSON.stringify(pattern)})`);
      re += '.*';
      lastStar = true;
    } else {
      re += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
      lastStar = false;
    }
  }
  return new RegExp(`^${re}$`, ignoreCase ? 'is' : 's');
}

/** An IP address as a bit string (IPv4: 32 bits, IPv6: 128 bits), or undefined when it is not one. */
function ipBits(ip: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return parts.map((p) => p.toString(2).padStart(8, '0')).join('');
  }
  if (!ip.includes(':') || !/^[0-9a-fA-F:]+$/.test(ip)) return undefined;
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return undefined;
  return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
}

function cidrRule(arg: Json, path: string): Rule {
  const m = typeof arg === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(arg) : null;
  const bits = m ? ipBits(m[1]!) : undefined;
  const len = m ? Number(m[2]) : -1;
  if (!m || bits === undefined || len > bits.length) throw new EventPatternError(`${path}: "cidr" needs an IPv4 or IPv6 CIDR block such as "10.0.0.0/24" (got ${JSON.stringify(arg)})`);
  const net = bits.slice(0, len);
  return (p, v) => {
    if (!p || typeof v !== 'string') return false;
    const b = ipBits(v);
    return b !== undefined && b.length === bits.length && b.startsWith(net);
  };
}

const strings = (arg: Json, path: string, op: string): string[] => {
  const list = Array.isArray(arg) ? arg : [arg];
  if (list.length === 0 || !list.every((s) => typeof s === 'string')) throw new EventPatternError(`${path}: "${op}" needs a string or a list of strings (got ${JSON.stringify(arg)})`);
  return list as string[];
};

/** A string test for prefix / suffix / equals-ignore-case / wildcard (a plain string or `{ equals-ignore-case }` for prefix and suffix). */
function stringTest(op: string, arg: Json, path: string): (s: string) => boolean {
  if ((op === 'prefix' || op === 'suffix') && isObject(arg)) {
    const inner = arg['equals-ignore-case'];
    if (typeof inner !== 'string' || Object.keys(arg).length !== 1) throw new EventPatternError(`${path}: "${op}" takes a string or { "equals-ignore-case": string }`);
    const low = inner.toLowerCase();
    return op === 'prefix' ? (s) => s.toLowerCase().startsWith(low) : (s) => s.toLowerCase().endsWith(low);
  }
  const list = strings(arg, path, op);
  const tests = list.map((a): ((s: string) => boolean) => {
    if (op === 'prefix') return (s) => s.startsWith(a);
    if (op === 'suffix') return (s) => s.endsWith(a);
    if (op === 'equals-ignore-case') return (s) => s.toLowerCase() === a.toLowerCase();
    const re = wildcardRegExp(a, path);
    return (s) => re.test(s);
  });
  return (s) => tests.some((t) => t(s));
}

function anythingBut(arg: Json, path: string): Rule {
  if (isObject(arg)) {
    const keys = Object.keys(arg);
    const op = keys[0];
    if (keys.length !== 1 || !['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(op!)) {
      throw new EventPatternError(`${path}: "anything-but" takes a value, a list, or one of { "prefix" | "suffix" | "equals-ignore-case" | "wildcard": ... }`);
    }
    if ((op === 'prefix' || op === 'suffix') && isObject(arg[op])) throw new EventPatternError(`${path}: "anything-but" / "${op}" takes a string`);
    const t = stringTest(op!, arg[op!]!, `${path}.anything-but`);
    return (p, v) => p && typeof v === 'string' && !t(v);
  }
  const banned = Array.isArray(arg) ? arg : [arg];
  if (banned.length === 0) throw new EventPatternError(`${path}: "anything-but" needs at least one value`);
  for (const b of banned) if (b !== null && typeof b === 'object') throw new EventPatternError(`${path}: "anything-but" values must be strings or numbers (got ${JSON.stringify(b)})`);
  return (p, v) => p && v !== undefined && !isObject(v) && !banned.some((b) => b === v);
}

function numericRule(arg: Json, path: string): Rule {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) throw new EventPatternError(`${path}: "numeric" takes [op, n] or [op, n, op, n] (got ${JSON.stringify(arg)})`);
  const checks: Array<(x: number) => boolean> = [];
  for (let i = 0; i < arg.length; i += 2) {
    const o = arg[i];
    const n = arg[i + 1];
    if (typeof o !== 'string' || !NUMERIC_OPS.has(o) || typeof n !== 'number') throw new EventPatternError(`${path}: "numeric" pairs are one of = < <= > >= and a number (got ${JSON.stringify(arg)})`);
    if (arg.length === 4 && (o === '=' || (i === 0 ? !o.startsWith('>') : !o.startsWith('<')))) throw new EventPatternError(`${path}: a "numeric" range is [">" | ">=", low, "<" | "<=", high] (got ${JSON.stringify(arg)})`);
    checks.push(o === '=' ? (x) => x === n : o === '<' ? (x) => x < n : o === '<=' ? (x) => x <= n : o === '>' ? (x) => x > n : (x) => x >= n);
  }
  return (p, v) => p && typeof v === 'number' && checks.every((c) => c(v));
}

/** One rule of a leaf list. */
export function compileRule(rule: Json, path: string, dialect: Dialect = 'eventbridge'): Rule {
  if (rule === null || typeof rule !== 'object') {
    return (present, v) => present && v === rule;
  }
  if (Array.isArray(rule)) throw new EventPatternError(`${path}: a rule cannot be a nested list`);
  const keys = Object.keys(rule);
  if (keys.length !== 1) throw new EventPatternError(`${path}: a rule object has exactly one operator (got ${JSON.stringify(rule)})`);
  const op = keys[0]!;
  const arg = rule[op]!;
  const refused = NOT_IN[dialect];
  if (refused.has(op) || (op === 'anything-but' && isObject(arg) && Object.keys(arg).some((k) => refused.has(k)))) {
    throw new EventPatternError(`${path}: unknown operator "${op === 'anything-but' ? Object.keys(arg as object)[0] : op}" (${dialect === 'lambda' ? 'Lambda' : 'SNS'} supports ${SUPPORTED.filter((o) => !refused.has(o)).join(', ')})`);
  }
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
    case 'wildcard': {
      if (op !== 'prefix' && op !== 'suffix' && typeof arg !== 'string') throw new EventPatternError(`${path}: "${op}" needs a string (got ${JSON.stringify(arg)})`);
      if ((op === 'prefix' || op === 'suffix') && typeof arg !== 'string' && !isObject(arg)) throw new EventPatternError(`${path}: "${op}" needs a string (got ${JSON.stringify(arg)})`);
      const t = stringTest(op, arg, path);
      return (p, v) => p && typeof v === 'string' && t(v);
    }
    case 'exists':
      if (typeof arg !== 'boolean') throw new EventPatternError(`${path}: "exists" needs true or false`);
      // Only leaf fields exist for a pattern: an object value counts as absent.
      return (p, v) => (p && !isObject(v)) === arg;
    case 'anything-but':
      return anythingBut(arg, path);
    case 'numeric':
      return numericRule(arg, path);
    case 'cidr':
      return cidrRule(arg, path);
    default:
      throw new EventPatternError(`${path}: unknown operator "${op}" (supported: ${SUPPORTED.filter((o) => !refused.has(o)).join(', ')})`);
  }
}

/** A list of rules (ORed) for one field. */
export function compileLeaf(rules: Json[], path: string, dialect: Dialect = 'eventbridge'): Matcher {
  if (rules.length === 0) throw new EventPatternError(`${path}: an empty rule list matches nothing`);
  const compiled = rules.map((r, i) => compileRule(r, `${path}[${i}]`, dialect));
  return (v) => {
    if (v === undefined) return compiled.some((c) => c(false, undefined));
    // A list in the event matches when any element does; an empty list is treated as absent.
    const values = Array.isArray(v) ? v : [v];
    if (values.length === 0) return compiled.some((c) => c(false, undefined));
    return compiled.some((c) => values.some((x) => c(true, x)));
  };
}

/** A pattern object: every key must match (`$or` alternatives: any). */
export function compileObject(pattern: Record<string, Json>, path: string, dialect: Dialect = 'eventbridge'): Matcher {
  const parts: Matcher[] = [];
  for (const [key, sub] of Object.entries(pattern)) {
    const here = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2 || !sub.every(isObject)) throw new EventPatternError(`${here}: "$or" takes a list of at least two patterns`);
      const alts = sub.map((s, i) => compileObject(s, `${here}[${i}]`, dialect));
      parts.push((obj) => alts.some((a) => a(obj)));
      continue;
    }
    if (Array.isArray(sub)) {
      const leaf = compileLeaf(sub, here, dialect);
      parts.push((obj) => leaf(isObject(obj) ? obj[key] : undefined));
    } else if (isObject(sub)) {
      const inner = compileObject(sub, here, dialect);
      // A nested pattern against a list of objects matches when any element does.
      parts.push((obj) => {
        const v = isObject(obj) ? obj[key] : undefined;
        return Array.isArray(v) ? v.some((x) => inner(x)) : inner(v);
      });
    } else {
      throw new EventPatternError(`${here}: a pattern value must be a list of rules or an object (got ${JSON.stringify(sub)})`);
    }
  }
  return (obj) => parts.every((p) => p(obj));
}

/** Compiles a pattern (an object, or its JSON text) once; a bad pattern is an EventPatternError. */
export function compileEventPattern(pattern: unknown, where: string, dialect: Dialect = 'eventbridge'): (value: unknown) => boolean {
  let p = pattern;
  if (typeof p === 'string') {
    try {
      p = JSON.parse(p) as unknown;
    } catch (err) {
      throw new EventPatternError(`${where}: the pattern is not valid JSON (${(err as Error).message})`);
    }
  }
  if (!isObject(p)) throw new EventPatternError(`${where}: a pattern must be a JSON object`);
  const m = compileObject(p, where, dialect);
  return (value) => m(value as Json | undefined);
}
