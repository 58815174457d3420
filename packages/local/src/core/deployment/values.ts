/** Small helpers shared by the provisioners: physical names (as CloudFormation gives them) and typed property reads. */
import { createHash, randomBytes } from 'node:crypto';
import { IntrinsicError } from './intrinsics.js';

export interface NameRules {
  /** The service's longest name. */
  readonly max: number;
  /** S3 bucket names: lower case, `a-z 0-9 . -` only. */
  readonly lower?: boolean;
  /** A fixed ending the service requires (`.fifo` for FIFO queues). */
  readonly suffix?: string;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** CloudFormation's random tail: 12 characters A-Z 0-9 (13 lower-case ones for buckets, as CloudFormation writes them). */
export function randomTail(lower = false): string {
  const n = lower ? 13 : 12;
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += UPPER[bytes[i]! % UPPER.length];
  return lower ? out.toLowerCase() : out;
}

/** A tail of CloudFormation's shape derived from `seed` (the same seed, the same tail). */
export function stableTail(seed: string, lower = false): string {
  const n = lower ? 13 : 12;
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < n; i++) out += UPPER[bytes[i]! % UPPER.length];
  return lower ? out.toLowerCase() : out;
}

/**
 * The name CloudFormation gives a resource the template does not name: `<stack>-<logicalId>-<RANDOM>`,
 * the stack name and logical id each shortened (the longer first) until the whole fits the service's
 * limit, then the service's fixed ending (`.fifo`).
 */
export function generatedName(stackName: string, logicalId: string, rules: NameRules, tail: string = randomTail(rules.lower)): string {
  const suffix = rules.suffix ?? '';
  let stack = stackName;
  let id = logicalId;
  const room = rules.max - suffix.length - tail.length - 2;
  while (stack.length + id.length > room && (stack.length > 0 || id.length > 0)) {
    if (stack.length >= id.length) stack = stack.slice(0, -1);
    else id = id.slice(0, -1);
  }
  let name = `${stack}-${id}-${tail}`;
  if (rules.lower) name = name.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  return name + suffix;
}

/**
 * A resource's physical name. The name written in the template is kept exactly, as CloudFormation
 * keeps it; an unnamed resource gets a CloudFormation-style generated name. A `namePrefix` (for a
 * shared external endpoint, where several deployments meet) goes in front of either, with a hash
 * shortening a name it would push past the limit.
 */
export function resourceName(input: { readonly explicit?: unknown; readonly namePrefix?: string; readonly stackName: string; readonly logicalId: string }, rules: NameRules): string {
  const explicit = typeof input.explicit === 'string' && input.explicit.length > 0 ? input.explicit : undefined;
  const prefix = input.namePrefix ? `${input.namePrefix}-` : '';
  if (explicit === undefined) {
    // With a prefix the tail is derived from it: deploying the same stack again with the same prefix finds
    // the same names, as a CloudFormation update does (custom resources get Update, not a new Create).
    const tail = prefix ? stableTail(`${input.namePrefix}/${input.stackName}/${input.logicalId}`, rules.lower) : randomTail(rules.lower);
    return prefix + generatedName(input.stackName, input.logicalId, { ...rules, max: rules.max - prefix.length }, tail);
  }
  if (!prefix) return explicit;
  const suffix = rules.suffix && explicit.endsWith(rules.suffix) ? rules.suffix : '';
  let name = prefix + explicit.slice(0, explicit.length - suffix.length);
  if (rules.lower) name = name.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const room = rules.max - suffix.length;
  if (name.length > room) {
    const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
    name = `${name.slice(0, room - 9)}-${hash}`;
  }
  return name + suffix;
}

export function num(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new IntrinsicError(`${where}: expected a number, got ${JSON.stringify(v)}`);
  return n;
}

export const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));

export const bool = (v: unknown): boolean => v === true || v === 'true';

/** A JSON document property (policies, redrive policies) as the string the APIs take. */
export const jsonString = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
