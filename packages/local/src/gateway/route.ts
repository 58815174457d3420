/** Which service a request is for: pure functions over the request line and headers (unit-tested). */
import type { CredentialScope } from './types.js';

const SCOPE_RE = /^([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request$/;
const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)/;

function parseCredential(credential: string, presigned: boolean): CredentialScope | undefined {
  const m = SCOPE_RE.exec(credential);
  if (!m) return undefined;
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]!, presigned };
}

/** The SigV4 credential scope from the Authorization header, else from `X-Amz-Credential` in the query. */
export function credentialScope(headers: Readonly<Record<string, string>>, query: URLSearchParams): CredentialScope | undefined {
  const auth = headers['authorization'];
  if (auth) {
    const m = AUTH_RE.exec(auth);
    if (m) return parseCredential(m[1]!, false);
  }
  const cred = query.get('X-Amz-Credential');
  return cred ? parseCredential(cred, true) : undefined;
}

/** Lower-cased header record, repeated headers joined with `,` (as SigV4 canonicalizes them). */
export function normalizeHeaders(raw: NodeJS.Dict<string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

export function isFormEncoded(headers: Readonly<Record<string, string>>): boolean {
  return /^application\/x-www-form-urlencoded/i.test(headers['content-type'] ?? '');
}
