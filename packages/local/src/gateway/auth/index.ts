/**
 * Request authentication for the local endpoint: every request is verified (SigV4 header or presigned
 * query) against the credential store; an unsigned request comes out as the anonymous principal, which
 * the IAM evaluation allows only where a resource policy makes the resource public.
 */
import { verifyRequest, type AuthFailureCode, type IncomingSignedRequest } from './sigv4.js';
import type { CredentialStore, LocalPrincipal } from './credentials.js';

export * from './sigv4.js';
export * from './credentials.js';
export * from './errors.js';

export type Authentication =
  | { readonly ok: true; readonly principal: LocalPrincipal; readonly mode: 'header' | 'query' }
  | { readonly ok: true; readonly principal: { readonly kind: 'anonymous' }; readonly mode: 'none' }
  | { readonly ok: false; readonly code: AuthFailureCode; readonly message: string };

export async function authenticate(
  req: IncomingSignedRequest,
  options: { readonly store: CredentialStore; readonly region: string; readonly service: string; readonly nowMs?: number },
): Promise<Authentication> {
  // S3 clients sign `s3`; everything else signs its endpoint prefix.
  const r = await verifyRequest(req, { lookup: (k) => options.store.lookup(k), region: options.region, services: [options.service], ...(options.nowMs !== undefined ? { nowMs: options.nowMs } : {}) });
  if (r.ok) return { ok: true, principal: options.store.principal(r.accessKeyId)!, mode: r.mode };
  if (r.code === 'MissingAuthentication') return { ok: true, principal: { kind: 'anonymous' }, mode: 'none' };
  return r;
}
