/**
 * S3 forwarded to the upstream, path-style or virtual-hosted-style (the Host header is kept). The
 * fallback for unsigned requests. A PutObject above the multipart threshold is stored as a multipart
 * upload (s3-large-put.ts), so uploads are not bounded by the emulator's request-body cap.
 *
 * Event notifications (fauxqs has none) are served here: Put/GetBucketNotificationConfiguration, and
 * after a 2xx answer to PutObject (either path), CopyObject, CompleteMultipartUpload, DeleteObject and
 * DeleteObjects the events go to notification-dispatch.ts.
 */
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { forward, upstreamCall } from '../../gateway/forward.js';
import { s3Address } from '../../gateway/iam/actions.js';
import type { GatewayContext, GatewayError, GatewayRequest, GatewayService } from '../../gateway/types.js';
import { xmlError } from '../../gateway/protocol-errors.js';
import { serveBucketSubresource } from './bucket-subresources.js';
import { DEFAULT_MULTIPART_THRESHOLD, S3_MAX_PUT_BYTES, declaredObjectBytes, entityTooLarge, putObjectAsMultipart } from './large-put.js';
import { createNotificationDispatcher, type NotificationDispatcher } from './notification-dispatch.js';
import { NotificationConfigurationError, nextSequencer, notificationXml, parseNotificationXml, type ObjectEvent } from './notifications.js';

export interface S3ServiceOptions {
  /** PutObject bodies above this many bytes go multipart. @default 10 MiB */
  readonly multipartThresholdBytes?: number;
  /** Largest single PutObject accepted. @default 5 GiB (S3's limit) */
  readonly maxObjectBytes?: number;
  /** Notifications that could not be delivered. @default console.warn */
  readonly log?: (line: string) => void;
}

/** The event an object request causes when it succeeds, if any. */
export function objectEventName(req: GatewayRequest, key: string | undefined): string | undefined {
  if (key === undefined) return req.method === 'POST' && req.query.has('delete') ? 'ObjectRemoved:Delete' : undefined;
  if (req.method === 'PUT' && !req.query.has('uploadId') && !req.query.has('partNumber')) {
    if (req.headers['x-amz-copy-source'] !== undefined) return 'ObjectCreated:Copy';
    return isPutObject(req) ? 'ObjectCreated:Put' : undefined;
  }
  if (req.method === 'POST' && req.query.has('uploadId')) return 'ObjectCreated:CompleteMultipartUpload';
  if (req.method === 'DELETE' && !req.query.has('uploadId')) return 'ObjectRemoved:Delete';
  return undefined;
}

const objectPath = (bucket: string, key: string): string => `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;

class S3NotificationError extends Error implements GatewayError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Put/GetBucketNotificationConfiguration, answered from the dispatcher (the bucket must exist upstream). */
async function bucketNotification(req: GatewayRequest, res: ServerResponse, upstream: string, bucket: string, notifications: NotificationDispatcher): Promise<void> {
  const head = await upstreamCall(upstream, 'HEAD', `/${encodeURIComponent(bucket)}`, {});
  if (head.status === 404) throw new S3NotificationError(404, 'NoSuchBucket', 'The specified bucket does not exist');
  if (req.method === 'GET') {
    const body = notificationXml(notifications.get(bucket));
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) });
    return void res.end(body);
  }
  try {
    await notifications.put(bucket, parseNotificationXml((await req.body()).toString('utf8')));
  } catch (err) {
    if (err instanceof NotificationConfigurationError) throw new S3NotificationError(err.code === 'NotImplemented' ? 501 : 400, err.code, err.message);
    throw err;
  }
  res.writeHead(200, { 'content-length': '0' });
  res.end();
}

/** A plain PutObject: PUT on a key, not UploadPart, not a copy. */
export function isPutObject(req: GatewayRequest): boolean {
  if (req.method !== 'PUT' || req.headers['x-amz-copy-source'] !== undefined) return false;
  if (req.query.has('uploadId') || req.query.has('partNumber')) return false;
  // Sub-resources (?tagging, ?acl, ...) are not object bodies; presigned URLs carry X-Amz-* / x-amz-*.
  for (const k of req.query.keys()) if (!/^x-amz-/i.test(k) && k !== 'x-id') return false;
  const host = (req.headers.host ?? '').split(':')[0]!;
  const virtualHosted = host.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(host);
  const segments = req.path.split('/').filter(Boolean);
  return virtualHosted ? segments.length >= 1 : segments.length >= 2;
}

export function createS3Service(options: S3ServiceOptions = {}) {
  const threshold = options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD;
  const maxObjectBytes = options.maxObjectBytes ?? S3_MAX_PUT_BYTES;
  return (ctx: GatewayContext): GatewayService | undefined => {
    const upstream = ctx.upstreams.s3;
    if (!upstream) return undefined;
    const notifications = createNotificationDispatcher(ctx, options.log ?? ((l: string) => console.warn(l)));
    /** The events of a request that succeeded: created objects are read back for size, ETag and version. */
    const eventsOf = async (req: GatewayRequest, eventName: string, bucket: string, keys: readonly string[]): Promise<ObjectEvent[]> => {
      const common = { eventName, bucket, time: new Date(), principalId: req.scope ? `AWS:${req.scope.accessKeyId}` : 'anonymous', sourceIp: req.raw.socket.remoteAddress ?? '127.0.0.1', requestId: randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase() };
      const out: ObjectEvent[] = [];
      for (const key of keys) {
        if (!eventName.startsWith('ObjectCreated:')) {
          out.push({ ...common, key, sequencer: nextSequencer() });
          continue;
        }
        const head = await upstreamCall(upstream, 'HEAD', objectPath(bucket, key), {});
        if (head.status >= 300) continue; // gone again already: nothing to report
        const version = head.headers['x-amz-version-id'];
        out.push({
          ...common,
          key,
          size: Number(head.headers['content-length'] ?? 0),
          eTag: String(head.headers.etag ?? '').replace(/"/g, ''),
          ...(typeof version === 'string' && version !== 'null' ? { versionId: version } : {}),
          sequencer: nextSequencer(),
        });
      }
      return out;
    };
    const service: GatewayService = {
      name: 's3',
      signingNames: ['s3'],
      async handle(req, res) {
        if (await serveBucketSubresource(req, res, upstream, (err) => service.error(req, res, err))) return;
        const { bucket, key } = s3Address(req);
        if (bucket !== undefined && key === undefined && req.query.has('notification') && (req.method === 'GET' || req.method === 'PUT')) {
          try {
            return await bucketNotification(req, res, upstream, bucket, notifications);
          } catch (err) {
            if (err instanceof S3NotificationError) return service.error(req, res, err);
            throw err;
          }
        }
        const eventName = bucket !== undefined && notifications.get(bucket) ? objectEventName(req, key) : undefined;
        if (eventName === undefined) return serve(req, res);
        // Answers that say what was done (DeleteObjects' <Deleted>, an error in a 200 CompleteMultipartUpload) are read.
        let answer = '';
        const capture = eventName === 'ObjectRemoved:Delete' && key === undefined || eventName === 'ObjectCreated:CompleteMultipartUpload';
        await serve(req, res, capture ? (b) => ((answer = b.toString('utf8')), b) : undefined);
        if (res.statusCode < 200 || res.statusCode >= 300 || /<Error>/.test(answer)) return;
        const keys = key !== undefined ? [key] : [...answer.matchAll(/<Deleted>[\s\S]*?<Key>([^<]*)<\/Key>[\s\S]*?<\/Deleted>/g)].map((m) => m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'));
        await notifications.emit(await eventsOf(req, eventName, bucket!, keys));
      },
      error: (_req, res, err) => xmlError(res, err),
    };
    const serve = async (req: GatewayRequest, res: ServerResponse, rewriteBody?: (b: Buffer) => Buffer): Promise<void> => {
      if (isPutObject(req)) {
        const size = declaredObjectBytes(req.headers);
        if (size !== undefined && size > maxObjectBytes) {
          req.raw.resume();
          return service.error(req, res, entityTooLarge(maxObjectBytes));
        }
        // Unknown size (chunked transfer) or above the threshold: stream into parts.
        if (!req.bodyRead && (size === undefined || size > threshold)) {
          return putObjectAsMultipart(req, res, upstream, { maxObjectBytes, onError: (err) => service.error(req, res, err) });
        }
      }
      // S3 takes an empty Content-Type (CDK's custom resource handlers PUT their response with one);
      // the emulator would answer 415.
      const headers = req.headers['content-type'] === '' ? { headers: { 'content-type': undefined } } : {};
      await forward(req, res, upstream, rewriteBody ? { ...headers, rewriteBody } : headers);
    };
    return service;
  };
}

export const s3Service = createS3Service();
