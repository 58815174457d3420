/**
 * CloudFormation intrinsic functions, resolved against what the local deployer created. Pure: no I/O,
 * so every rule is unit-tested. Covers what CDK stacks emit: Ref, Fn::GetAtt, Fn::Join, Fn::Sub (both
 * forms), Fn::Select, Fn::Split, Fn::If / Fn::Equals / Fn::Not / Fn::And / Fn::Or / Condition,
 * Fn::Base64, Fn::GetAZs and the pseudo parameters.
 */

/** A resource as the local deployment knows it: what `Ref` returns and its `Fn::GetAtt` attributes. */
export interface PhysicalResource {
  readonly type: string;
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ResolveContext {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  /** Logical id -> physical resource (resources not created yet are absent). */
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  /** Template Parameters (their Default is used) and overrides. */
  readonly parameters?: Readonly<Record<string, string | string[]>>;
  /** Template Conditions, evaluated on demand. */
  readonly conditions?: Readonly<Record<string, unknown>>;
}

/** A reference to a resource that the deployer has not created (yet). The deployer retries later. */
export class UnresolvedReferenceError extends Error {
  override readonly name = 'UnresolvedReferenceError';
  constructor(readonly logicalId: string, detail: string) {
    super(detail);
  }
}

/** An intrinsic or reference that cannot be resolved locally at all. */
export class IntrinsicError extends Error {
  override readonly name = 'IntrinsicError';
}

/** Marker for AWS::NoValue: the property is removed from its parent. */
const NO_VALUE = Symbol('AWS::NoValue');

export function pseudoParameters(ctx: ResolveContext): Record<string, string | string[]> {
  return {
    'AWS::Region': ctx.region,
    'AWS::AccountId': ctx.accountId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': ctx.stackName,
    'AWS::StackId': `arn:aws:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/00000000-0000-0000-0000-000000000000`,
    'AWS::NotificationARNs': [],
  };
}

function ref(name: string, ctx: ResolveContext): string | string[] | typeof NO_VALUE {
  if (name === 'AWS::NoValue') return NO_VALUE;
  const pseudo = pseudoParameters(ctx)[name];
  if (pseudo !== undefined) return pseudo;
  const param = ctx.parameters?.[name];
  if (param !== undefined) return param;
  const res = ctx.resources.get(name);
  if (res) return res.ref;
  throw new UnresolvedReferenceError(name, `Ref to "${name}": no such parameter, or resource not deployed`);
}

function getAtt(logicalId: string, attr: string, ctx: ResolveContext): string {
  const res = ctx.resources.get(logicalId);
  if (!res) throw new UnresolvedReferenceError(logicalId, `Fn::GetAtt ${logicalId}.${attr}: resource not deployed`);
  const value = res.attributes[attr];
  if (value === undefined) {
    throw new IntrinsicError(`Fn::GetAtt ${logicalId}.${attr}: ${res.type} has no attribute "${attr}" locally (known: ${Object.keys(res.attributes).join(', ') || 'none'})`);
  }
  return value;
}

function asString(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new IntrinsicError(`${where}: expected a string, got ${JSON.stringify(v)}`);
}

function asList(v: unknown, where: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw new IntrinsicError(`${where}: expected a list, got ${JSON.stringify(v)}`);
}

export function evaluateCondition(name: string, ctx: ResolveContext, seen: Set<string> = new Set()): boolean {
  const def = ctx.conditions?.[name];
  if (def === undefined) throw new IntrinsicError(`Condition "${name}" is not defined in the template`);
  if (seen.has(name)) throw new IntrinsicError(`Condition "${name}" refers to itself`);
  return conditionValue(def, ctx, new Set([...seen, name]));
}

function conditionValue(expr: unknown, ctx: ResolveContext, seen: Set<string>): boolean {
  if (typeof expr === 'boolean') return expr;
  if (typeof expr === 'object' && expr !== null && !Array.isArray(expr)) {
    const [[fn, arg]] = Object.entries(expr) as [[string, unknown]];
    switch (fn) {
      case 'Condition':
        return evaluateCondition(asString(arg, 'Condition'), ctx, seen);
      case 'Fn::Equals': {
        const [a, b] = asList(arg, 'Fn::Equals').map((x) => resolveValue(x, ctx));
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Fn::Not':
        return !conditionValue(asList(arg, 'Fn::Not')[0], ctx, seen);
      case 'Fn::And':
        return asList(arg, 'Fn::And').every((c) => conditionValue(c, ctx, seen));
      case 'Fn::Or':
        return asList(arg, 'Fn::Or').some((c) => conditionValue(c, ctx, seen));
      default:
        break;
    }
  }
  throw new IntrinsicError(`Unsupported condition expression ${JSON.stringify(expr)}`);
}

function sub(template: string, vars: Record<string, unknown>, ctx: ResolveContext): string {
  // ${!Literal} stays literal as ${Literal}; ${Name} and ${Id.Attr} are substituted.
  return template.replace(/\$\{(!?)([^}]*)\}/g, (_m, bang: string, name: string) => {
    if (bang) return `\${${name}}`;
    const key = name.trim();
    if (key in vars) return asString(resolveValue(vars[key], ctx), `Fn::Sub \${${key}}`);
    const dot = key.indexOf('.');
    if (dot > 0 && !key.startsWith('AWS::')) return getAtt(key.slice(0, dot), key.slice(dot + 1), ctx);
    const r = ref(key, ctx);
    if (r === NO_VALUE || Array.isArray(r)) throw new IntrinsicError(`Fn::Sub \${${key}}: not a string`);
    return r;
  });
}

/** Resolves every intrinsic in `value` (deeply). Throws UnresolvedReferenceError / IntrinsicError. */
export function resolveValue(value: unknown, ctx: ResolveContext): unknown {
  const out = resolveInner(value, ctx);
  return out === NO_VALUE ? undefined : out;
}

function resolveInner(value: unknown, ctx: ResolveContext): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveInner(v, ctx)).filter((v) => v !== NO_VALUE);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [[key, arg]] = entries as [[string, unknown]];
    switch (key) {
      case 'Ref':
        return ref(asString(arg, 'Ref'), ctx);
      case 'Fn::GetAtt': {
        const [id, ...attr] = typeof arg === 'string' ? arg.split('.') : asList(arg, 'Fn::GetAtt').map((a) => asString(resolveValue(a, ctx), 'Fn::GetAtt'));
        return getAtt(id!, attr.join('.'), ctx);
      }
      case 'Fn::Join': {
        const [delim, list] = asList(arg, 'Fn::Join');
        const items = asList(resolveInner(list, ctx), 'Fn::Join list');
        return items.map((i) => asString(i, 'Fn::Join item')).join(asString(delim, 'Fn::Join delimiter'));
      }
      case 'Fn::Sub': {
        if (typeof arg === 'string') return sub(arg, {}, ctx);
        const [tpl, vars] = asList(arg, 'Fn::Sub');
        return sub(asString(tpl, 'Fn::Sub'), (vars ?? {}) as Record<string, unknown>, ctx);
      }
      case 'Fn::Select': {
        const [index, list] = asList(arg, 'Fn::Select');
        const i = Number(resolveValue(index, ctx));
        const items = asList(resolveInner(list, ctx), 'Fn::Select list');
        if (!Number.isInteger(i) || i < 0 || i >= items.length) throw new IntrinsicError(`Fn::Select index ${String(index)} out of range (list has ${items.length})`);
        return items[i];
      }
      case 'Fn::Split': {
        const [delim, str] = asList(arg, 'Fn::Split');
        return asString(resolveValue(str, ctx), 'Fn::Split').split(asString(delim, 'Fn::Split delimiter'));
      }
      case 'Fn::If': {
        const [cond, yes, no] = asList(arg, 'Fn::If');
        return resolveInner(evaluateCondition(asString(cond, 'Fn::If'), ctx) ? yes : no, ctx);
      }
      case 'Fn::Equals':
      case 'Fn::Not':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Condition':
        return conditionValue(value, ctx, new Set());
      case 'Fn::Base64':
        return Buffer.from(asString(resolveValue(arg, ctx), 'Fn::Base64')).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((z) => `${ctx.region}${z}`);
      case 'Fn::ImportValue':
      case 'Fn::FindInMap':
      case 'Fn::Transform':
      case 'Fn::Cidr':
      case 'Fn::ToJsonString':
      case 'Fn::Length':
        throw new IntrinsicError(`${key} is not supported by the local deployer`);
      default:
        break;
    }
  }
  const obj: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const r = resolveInner(v, ctx);
    if (r !== NO_VALUE) obj[k] = r;
  }
  return obj;
}

/** Logical ids that `value` refers to (Ref, Fn::GetAtt, Fn::Sub variables), for dependency ordering. */
export function referencedIds(value: unknown, acc: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) referencedIds(v, acc);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string' && !v.startsWith('AWS::')) acc.add(v);
      else if (k === 'Fn::GetAtt') {
        const id = typeof v === 'string' ? v.split('.')[0] : Array.isArray(v) ? v[0] : undefined;
        if (typeof id === 'string') acc.add(id);
      } else if (k === 'Fn::Sub') {
        const tpl = typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
        if (typeof tpl === 'string') {
          for (const m of tpl.matchAll(/\$\{([^!}][^}]*)\}/g)) {
            const name = m[1]!.trim();
            if (!name.startsWith('AWS::')) acc.add(name.split('.')[0]!);
          }
        }
        referencedIds(v, acc);
      } else referencedIds(v, acc);
    }
  }
  return acc;
}
