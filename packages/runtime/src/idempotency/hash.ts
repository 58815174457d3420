/** The one canonical-JSON hasher: equal payloads hash equally whatever their key order. */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and `undefined` members left out. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * SHA-256 (base64url) of the canonical JSON of `value`, optionally scoped (e.g. by route, so one key reused
 * on another route mismatches). Hash the validated payload: whitespace and key order then do not matter,
 * every field that changes the work does.
 */
export function payloadHash(value: unknown, scope?: string): string {
  const h = createHash('sha256');
  if (scope !== undefined) h.update(scope).update('\n');
  return h.update(canonicalJson(value)).digest('base64url');
}
