/**
 * Bucket sub-resources the S3 emulator (fauxqs) does not implement but answers as if it did (a bucket
 * listing for `?tagging`, `?versions` or `?policy`): served here instead, as S3 answers them.
 *  - `?tagging` (Put/Get/DeleteBucketTagging): kept as an object of a configuration bucket on the same
 *    S3, so it lives as long as the emulator's data and every stack sharing the emulator sees it
 *    (CDK's autoDeleteObjects handler checks its bucket's tag before emptying it).
 *  - `?versions` (ListObjectVersions): buckets are unversioned locally, so each object is its one
 *    version, VersionId "null", as S3 lists an unversioned bucket.
 *  - `?policy` through the API is refused with NotImplemented: bucket policies come from the template
 *    (AWS::S3::BucketPolicy), where the gateway enforces them.
 */
import type { ServerResponse } from 'node:http';
import { upstreamCall } from '../../gateway/forward.js';
import { escapeXml } from '../../gateway/protocol-errors.js';
import type { GatewayError, GatewayRequest } from '../../gateway/types.js';

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** Where bucket configuration the emulator lacks is kept (one object per bucket and sub-resource). */
export const CONFIG_BUCKET = 'floodgate-bucket-configuration';

type Sub = 'tagging' | 'versions' | 'policy';

/** The bucket and sub-resource of a bucket-level request for one of the sub-resources served here. */
export function bucketSubresource(req: GatewayRequest): { bucket: string; sub: Sub } | undefined {
  const sub = (['tagging', 'versions', 'policy'] as const).find((s) => req.query.has(s));
  if (!sub) return undefined;
  const host = (req.headers.host ?? '').split(':')[0]!;
  const virtualHosted = host.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(host) && /\.s3[.-]/.test(host);
  const segments = req.path.split('/').filter(Boolean);
  if (virtualHosted) return segments.length === 0 ? { bucket: host.split('.')[0]!, sub } : undefined;
  return segments.length === 1 ? { bucket: decodeURIComponent(segments[0]!), sub } : undefined;
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** `<Tagging><TagSet><Tag><Key/><Value/></Tag>...` -> tags; undefined when malformed. */
export function parseTagging(xml: string): Array<{ Key: string; Value: string }> | undefined {
  if (!/<Tagging[\s>]/.test(xml) || !/<TagSet\s*\/?>/.test(xml)) return undefined;
  const tags: Array<{ Key: string; Value: string }> = [];
  for (const m of xml.matchAll(/<Tag>([\s\S]*?)<\/Tag>/g)) {
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(m[1]!)?.[1];
    const value = /<Value>([\s\S]*?)<\/Value>/.exec(m[1]!)?.[1] ?? (/<Value\s*\/>/.test(m[1]!) ? '' : undefined);
    if (key === undefined || value === undefined) return undefined;
    tags.push({ Key: unescape(key), Value: unescape(value) });
  }
  return tags;
}

function sendXml(res: ServerResponse, status: number, body?: string): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(xml)) });
  res.end(xml);
}

async function bucketExists(upstream: string, bucket: string): Promise<boolean> {
  const r = await upstreamCall(upstream, 'HEAD', `/${encodeURIComponent(bucket)}`, {});
  return r.status < 300;
}

const configKey = (bucket: string, sub: string) => `/${CONFIG_BUCKET}/${encodeURIComponent(bucket)}/${sub}.json`;

async function putConfig(upstream: string, bucket: string, sub: string, value: unknown): Promise<void> {
  const created = await upstreamCall(upstream, 'PUT', `/${CONFIG_BUCKET}`, {});
  if (created.status >= 300 && created.status !== 409) throw new Error(`creating ${CONFIG_BUCKET}: HTTP ${created.status}`);
  const body = Buffer.from(JSON.stringify(value));
  const r = await upstreamCall(upstream, 'PUT', configKey(bucket, sub), { 'content-type': 'application/json', 'content-length': String(body.length) }, body);
  if (r.status >= 300) throw new Error(`storing the ${sub} of ${bucket}: HTTP ${r.status}`);
}

async function getConfig(upstream: string, bucket: string, sub: string): Promise<unknown> {
  const r = await upstreamCall(upstream, 'GET', configKey(bucket, sub), {});
  return r.status === 200 ? JSON.parse(r.body.toString('utf8')) : undefined;
}

/** The (still escaped) text of the first `<name>` element. */
const tagOf = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];

/** ListObjectVersions of an unversioned bucket, from one ListObjectsV2 page of the emulator. */
async function listVersions(upstream: string, bucket: string, q: URLSearchParams): Promise<string> {
  const prefix = q.get('prefix') ?? '';
  const maxKeys = Math.min(Number(q.get('max-keys') ?? 1000) || 1000, 1000);
  const marker = q.get('key-marker') ?? '';
  const params = new URLSearchParams({ 'list-type': '2', prefix, 'max-keys': String(maxKeys), ...(marker ? { 'start-after': marker } : {}) });
  const r = await upstreamCall(upstream, 'GET', `/${encodeURIComponent(bucket)}?${params}`, {});
  const xml = r.body.toString('utf8');
  const contents = [...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((m) => m[1]!);
  const truncated = tagOf(xml, 'IsTruncated') === 'true';
  const versions = contents
    .map((c) => {
      const key = tagOf(c, 'Key') ?? '';
      return (
        `<Version><Key>${key}</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>` +
        `<LastModified>${tagOf(c, 'LastModified') ?? ''}</LastModified><ETag>${tagOf(c, 'ETag') ?? ''}</ETag>` +
        `<Size>${tagOf(c, 'Size') ?? '0'}</Size><StorageClass>STANDARD</StorageClass></Version>`
      );
    })
    .join('');
  const lastKey = contents.length > 0 ? tagOf(contents[contents.length - 1]!, 'Key') : undefined;
  return (
    `<ListVersionsResult xmlns="${NS}"><Name>${escapeXml(bucket)}</Name><Prefix>${escapeXml(prefix)}</Prefix><KeyMarker>${escapeXml(marker)}</KeyMarker>` +
    `<VersionIdMarker></VersionIdMarker><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
    (truncated && lastKey !== undefined ? `<NextKeyMarker>${lastKey}</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>` : '') +
    `${versions}</ListVersionsResult>`
  );
}

/**
 * Serves the request when it is one of these sub-resources; returns false otherwise (forward it).
 * S3's errors go to `fail` (the S3 service renders them).
 */
export async function serveBucketSubresource(req: GatewayRequest, res: ServerResponse, upstream: string, fail: (err: GatewayError) => void): Promise<boolean> {
  const target = bucketSubresource(req);
  if (!target) return false;
  const { bucket, sub } = target;
  if (sub === 'policy') {
    fail({ status: 501, code: 'NotImplemented', message: `Bucket policies set through the API are not emulated locally (${req.method} ${bucket}?policy); declare them as AWS::S3::BucketPolicy in the template, where they are enforced` });
    return true;
  }
  if (!(await bucketExists(upstream, bucket))) {
    fail({ status: 404, code: 'NoSuchBucket', message: 'The specified bucket does not exist' });
    return true;
  }
  if (sub === 'versions') {
    if (req.method !== 'GET') return false;
    sendXml(res, 200, await listVersions(upstream, bucket, req.query));
    return true;
  }
  switch (req.method) {
    case 'PUT': {
      const tags = parseTagging((await req.body()).toString('utf8'));
      if (!tags) {
        fail({ status: 400, code: 'MalformedXML', message: 'The XML you provided was not well-formed or did not validate against our published schema' });
        return true;
      }
      await putConfig(upstream, bucket, 'tagging', tags);
      sendXml(res, 204);
      return true;
    }
    case 'GET': {
      const tags = (await getConfig(upstream, bucket, 'tagging')) as Array<{ Key: string; Value: string }> | undefined;
      if (!tags || tags.length === 0) {
        fail({ status: 404, code: 'NoSuchTagSet', message: 'The TagSet does not exist' });
        return true;
      }
      const set = tags.map((t) => `<Tag><Key>${escapeXml(t.Key)}</Key><Value>${escapeXml(t.Value)}</Value></Tag>`).join('');
      sendXml(res, 200, `<Tagging xmlns="${NS}"><TagSet>${set}</TagSet></Tagging>`);
      return true;
    }
    case 'DELETE':
      await putConfig(upstream, bucket, 'tagging', []);
      sendXml(res, 204);
      return true;
    default:
      return false;
  }
}
