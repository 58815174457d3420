/**
 * S3's answer for a key that does not exist depends on the caller's s3:ListBucket on the bucket: with
 * it, 404 NoSuchKey; without it, 403 AccessDenied, so that a caller who may not list cannot learn which
 * keys exist. The emulator always says 404; the gateway's enforcement asks `missingKeyNeedsListBucket`
 * for a GET or HEAD it allowed and, when the caller lacks s3:ListBucket, checks the key first.
 */
import { upstreamCall } from '../../gateway/forward.js';
import type { Authorization } from '../../gateway/iam/actions.js';

/** The s3:ListBucket question for an allowed GetObject (HEAD is GetObject too), or undefined for other requests. */
export function missingKeyNeedsListBucket(method: string, authorizations: readonly Authorization[]): { readonly check: Authorization; readonly bucket: string; readonly key: string } | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (authorizations.length !== 1) return undefined;
  const a = authorizations[0]!;
  if (a.action !== 's3:GetObject' && a.action !== 's3:GetObjectVersion') return undefined;
  const m = /^arn:aws:s3:::([^/]+)\/(.+)$/.exec(a.resource);
  if (!m) return undefined;
  // As a listing of that very key would be asked: a ListBucket grant narrowed by s3:prefix (e.g. to
  // `uploads/*`) answers for the keys under its prefix.
  return { check: { action: 's3:ListBucket', resource: `arn:aws:s3:::${m[1]}`, context: { 's3:prefix': m[2]! } }, bucket: m[1]!, key: m[2]! };
}

/** Whether the key exists on the S3 upstream (a HEAD of it). */
export async function objectExists(upstream: string, bucket: string, key: string): Promise<boolean> {
  const head = await upstreamCall(upstream, 'HEAD', `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`, {});
  return head.status !== 404;
}
