/**
 * S3 forwarded to the upstream, path-style or virtual-hosted-style (the Host header is kept). The
 * fallback for unsigned requests. A PutObject above the multipart threshold is stored as a multipart
 * upload (s3-large-put.ts), so uploads are not bounded by the emulator's request-body cap.
 */
import { forward } from '../../gateway/forward.js';
import type { GatewayContext, GatewayRequest, GatewayService } from '../../gateway/types.js';
import { xmlError } from '../../gateway/protocol-errors.js';
import { serveBucketSubresource } from './bucket-subresources.js';
import { DEFAULT_MULTIPART_THRESHOLD, S3_MAX_PUT_BYTES, declaredObjectBytes, entityTooLarge, putObjectAsMultipart } from './large-put.js';

export interface S3ServiceOptions {
  /** PutObject bodies above this many bytes go multipart. @default 10 MiB */
  readonly multipartThresholdBytes?: number;
  /** Largest single PutObject accepted. @default 5 GiB (S3's limit) */
  readonly maxObjectBytes?: number;
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
    const service: GatewayService = {
      name: 's3',
      signingNames: ['s3'],
      async handle(req, res) {
        if (await serveBucketSubresource(req, res, upstream, (err) => service.error(req, res, err))) return;
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
        await forward(req, res, upstream, req.headers['content-type'] === '' ? { headers: { 'content-type': undefined } } : {});
      },
      error: (_req, res, err) => xmlError(res, err),
    };
    return service;
  };
}

export const s3Service = createS3Service();
