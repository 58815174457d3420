/**
 * A single PutObject larger than the upstream accepts in one body (fauxqs caps request bodies at 11 MiB)
 * is stored as a multipart upload: the gateway streams the body into parts (CreateMultipartUpload,
 * UploadPart..., CompleteMultipartUpload) and answers the client as PutObject would. Memory stays at one
 * part. `aws-chunked` bodies (SDK streaming uploads) are decoded on the way. Above `maxObjectBytes`
 * (S3's single-PUT limit, 5 GiB) the client gets S3's own `EntityTooLarge`, never the emulator's error.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { upstreamCall, type UpstreamResponse } from '../../gateway/forward.js';
import type { GatewayError, GatewayRequest } from '../../gateway/types.js';

/** S3's largest single PUT. */
export const S3_MAX_PUT_BYTES = 5 * 1024 ** 3;
/** Bodies above this go multipart (fauxqs's limit is 11 MiB including headers). */
export const DEFAULT_MULTIPART_THRESHOLD = 10 * 1024 * 1024;
/** Part size (S3's minimum is 5 MiB for all parts but the last). */
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

/** Request headers that describe the object (kept on CreateMultipartUpload); the rest describe the body. */
function objectHeaders(req: GatewayRequest): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const bodyOnly = /^(content-length|content-md5|expect|transfer-encoding|authorization|connection|x-amz-content-sha256|x-amz-decoded-content-length|x-amz-checksum-.*|x-amz-sdk-checksum-algorithm|x-amz-trailer|x-amz-date|x-amz-security-token|amz-sdk-.*)$/;
  for (const [k, v] of Object.entries(req.headers)) {
    if (bodyOnly.test(k)) continue;
    if (k === 'content-encoding') {
      const rest = v.split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked');
      if (rest.length) out[k] = rest.join(',');
      continue;
    }
    out[k] = v;
  }
  return out;
}

export function isAwsChunked(headers: Readonly<Record<string, string>>): boolean {
  return /(^|,)\s*aws-chunked\s*(,|$)/.test(headers['content-encoding'] ?? '') || (headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
}

/** The object's size as the client declares it. */
export function declaredObjectBytes(headers: Readonly<Record<string, string>>): number | undefined {
  const v = isAwsChunked(headers) ? headers['x-amz-decoded-content-length'] : headers['content-length'];
  const n = v === undefined ? NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Decodes `aws-chunked` framing (`<hex>;chunk-signature=..\r\n<data>\r\n ... 0\r\n<trailers>`), streaming. */
export async function* decodeAwsChunkedStream(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  let remaining = -1; // -1: expecting a size line; 0: expecting the CRLF after data
  let afterData = false;
  for await (const chunk of source) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (afterData) {
        if (buf.length < 2) break;
        buf = buf.subarray(2);
        afterData = false;
        remaining = -1;
      }
      if (remaining < 0) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) break;
        const size = parseInt(buf.subarray(0, eol).toString('ascii').split(';')[0]!, 16);
        if (!Number.isFinite(size)) throw new Error('malformed aws-chunked body');
        buf = buf.subarray(eol + 2);
        if (size === 0) return; // trailers (checksums) follow: not needed for the stored object
        remaining = size;
      }
      if (buf.length === 0) break;
      const take = Math.min(remaining, buf.length);
      yield buf.subarray(0, take);
      buf = buf.subarray(take);
      remaining -= take;
      if (remaining === 0) afterData = true;
      else break;
    }
  }
}

/** Groups a byte stream into buffers of exactly `size` bytes (the last may be shorter). */
export async function* fixedParts(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    let c = chunk;
    while (length + c.length >= size) {
      const head = c.subarray(0, size - length);
      pending.push(head);
      yield Buffer.concat(pending);
      pending = [];
      length = 0;
      c = c.subarray(head.length);
    }
    if (c.length) {
      pending.push(c);
      length += c.length;
    }
  }
  if (length > 0 || pending.length > 0) yield Buffer.concat(pending);
}

function upstreamFailed(what: string, r: UpstreamResponse): Error {
  return Object.assign(new Error(`${what}: upstream answered ${r.status}`), { upstream: r });
}

/** Stores the PutObject `req` upstream as a multipart upload and answers as PutObject. */
export async function putObjectAsMultipart(
  req: GatewayRequest,
  res: ServerResponse,
  upstream: string,
  options: { partBytes?: number; maxObjectBytes?: number; onError: (err: GatewayError) => void },
): Promise<void> {
  const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
  const maxObjectBytes = options.maxObjectBytes ?? S3_MAX_PUT_BYTES;
  const headers = objectHeaders(req);
  const create = await upstreamCall(upstream, 'POST', `${req.path}?uploads`, { ...headers, 'content-length': '0' });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.body.toString('utf8'))?.[1];
  if (create.status !== 200 || !uploadId) return relay(res, create);
  const q = (extra: string) => `${req.path}?uploadId=${encodeURIComponent(uploadId)}${extra}`;
  const abort = () => upstreamCall(upstream, 'DELETE', q(''), { host: String(headers.host ?? '') }).catch(() => undefined);
  const etags: string[] = [];
  let total = 0;
  try {
    const raw = req.raw as AsyncIterable<Buffer> & IncomingMessage;
    const bytes = isAwsChunked(req.headers) ? decodeAwsChunkedStream(raw) : raw;
    for await (const part of fixedParts(bytes, partBytes)) {
      total += part.length;
      if (total > maxObjectBytes) {
        await abort();
        req.raw.resume();
        return options.onError(entityTooLarge(maxObjectBytes));
      }
      const n = etags.length + 1;
      const up = await upstreamCall(upstream, 'PUT', q(`&partNumber=${n}`), { host: String(headers.host ?? ''), 'content-length': String(part.length) }, part);
      const etag = up.headers.etag;
      if (up.status !== 200 || typeof etag !== 'string') throw upstreamFailed(`UploadPart ${n}`, up);
      etags.push(etag);
    }
    const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await upstreamCall(upstream, 'POST', q(''), { host: String(headers.host ?? ''), 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(xml)) }, Buffer.from(xml));
    if (done.status !== 200) throw upstreamFailed('CompleteMultipartUpload', done);
    const etag = /<ETag>([^<]+)<\/ETag>/.exec(done.body.toString('utf8'))?.[1]?.replace(/&quot;/g, '"');
    res.writeHead(200, { ...(etag ? { etag } : {}), 'content-length': '0' });
    res.end();
  } catch (err) {
    await abort();
    const upstreamAnswer = (err as { upstream?: UpstreamResponse }).upstream;
    if (upstreamAnswer) return relay(res, upstreamAnswer);
    throw err;
  }
}

export function entityTooLarge(maxObjectBytes: number): GatewayError {
  return { status: 400, code: 'EntityTooLarge', message: `Your proposed upload exceeds the maximum allowed size (${maxObjectBytes} bytes)` };
}

function relay(res: ServerResponse, r: UpstreamResponse): void {
  const headers = { ...r.headers };
  delete headers['transfer-encoding'];
  delete headers['connection'];
  headers['content-length'] = String(r.body.length);
  res.writeHead(r.status, headers);
  res.end(r.body);
}
