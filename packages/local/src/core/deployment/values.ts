/** Small helpers shared by the provisioners: physical names and typed property reads. */
import { createHash } from 'node:crypto';
import { IntrinsicError } from './intrinsics.js';

/** A physical name: `<prefix>-<base>`, shortened with a hash when it would exceed `max`. */
export function physicalName(prefix: string, base: string, max: number, opts: { lower?: boolean; suffix?: string } = {}): string {
  const suffix = opts.suffix ?? '';
  let name = `${prefix}-${base}`;
  if (opts.lower) name = name.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const room = max - suffix.length;
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
