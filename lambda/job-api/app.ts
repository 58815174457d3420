/**
 * The job API's request handling, with AWS behind ports (ports.ts) so the whole behaviour runs in tests
 * against fakes or the local emulators. Routes: `POST /uploads`, `POST /jobs`, `GET /jobs/{jobId}`.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { UPLOADS_PREFIX } from '../shared/contract';
import { FloodgateError } from '@floodgate/runtime';
import type { JobMessage } from '../shared/job-message';
import type { JobRecord } from '../shared/job-record';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Claim } from '@floodgate/runtime/idempotency';
import { aws } from './aws-errors';
import { bindJobId, decideOnClaim, idempotencyRecordId, requestHash, storedResponse } from './idempotency';
import type { IdempotencyPersistence, JobQueue, JobStore, Presigner } from './ports';
import {
  CONTENT_TYPE_EXTENSION,
  parseJsonBody,
  validateIdempotencyKey,
  validateJobId,
  validateJobRequest,
  validateUploadRequest,
  type JobRequest,
} from './requests';
import { errorResponse, jobAcceptedBody, jobView, jsonResponse, validationError, type ApiResult } from './responses';

export const ROUTES = {
  createUpload: 'POST /uploads',
  createJob: 'POST /jobs',
  getJob: 'GET /jobs/{jobId}',
} as const;

export interface JobApiConfig {
  readonly maxUploadBytes: number;
  /** Lifetime of presigned PUT and GET URLs. @default 900 */
  readonly urlExpirySeconds?: number;
  /**
   * How long a claimed Idempotency-Key stays "in progress" before a retry may take it over. Must exceed
   * the function timeout, or a slow but live request could be taken over. @default 30000
   */
  readonly leaseMs?: number;
}

export interface JobApiDeps {
  readonly idempotency: IdempotencyPersistence;
  readonly jobs: JobStore;
  readonly queue: JobQueue;
  readonly presigner: Presigner;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly newId?: () => string;
}

export type JobApiHandler = (event: APIGatewayProxyEventV2) => Promise<ApiResult>;

export function createJobApi(config: JobApiConfig, deps: JobApiDeps): JobApiHandler {
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? (() => randomUUID());
  const urlExpiry = config.urlExpirySeconds ?? 900;
  const leaseMs = config.leaseMs ?? 30_000;
  const { logger } = deps;

  async function createUpload(event: APIGatewayProxyEventV2): Promise<ApiResult> {
    const body = parseJsonBody(event.body, event.isBase64Encoded);
    if (!body.ok) return validationError(body.field, body.message);
    const req = validateUploadRequest(body.value, config.maxUploadBytes);
    if (!req.ok) return validationError(req.field, req.message);
    const { contentType, contentLength } = req.value;
    const day = new Date(now()).toISOString().slice(0, 10);
    const sourceKey = `${UPLOADS_PREFIX}${day}/${newId()}.${CONTENT_TYPE_EXTENSION[contentType]}`;
    const uploadUrl = await deps.presigner.presignUpload(sourceKey, contentType, contentLength, urlExpiry);
    const expiresAt = new Date(now() + urlExpiry * 1000).toISOString();
    logger.info('upload presigned', { sourceKey, contentType, contentLength });
    const headers = { 'content-type': contentType, ...(contentLength !== undefined ? { 'content-length': String(contentLength) } : {}) };
    return jsonResponse(201, JSON.stringify({ sourceKey, uploadUrl, expiresAt, method: 'PUT', headers }));
  }

  async function createJob(event: APIGatewayProxyEventV2): Promise<ApiResult> {
    const key = validateIdempotencyKey(event.headers?.['idempotency-key']);
    if (!key.ok) return validationError(key.field, key.message);
    const body = parseJsonBody(event.body, event.isBase64Encoded);
    if (!body.ok) return validationError(body.field, body.message);
    const req = validateJobRequest(body.value);
    if (!req.ok) return validationError(req.field, req.message);

    const id = idempotencyRecordId(key.value);
    const hash = requestHash(ROUTES.createJob, req.value);
    const t = now();
    const claimed = await aws('claim idempotency key', () => deps.idempotency.claim(id, hash, t + leaseMs, undefined, { setIfAbsent: bindJobId(newId().replaceAll('-', '')) }));
    const decision = decideOnClaim(claimed, t);
    switch (decision.kind) {
      case 'replay':
        logger.info('idempotent replay', { idempotencyKey: key.value });
        return jsonResponse(decision.statusCode, decision.body, { 'idempotent-replayed': 'true' });
      case 'mismatch':
        return errorResponse(422, 'IdempotencyKeyReused', 'this Idempotency-Key was already used with a different request body; use a new key for a new job', { field: 'Idempotency-Key' });
      case 'in-progress':
        return errorResponse(409, 'IdempotencyKeyInProgress', 'a request with this Idempotency-Key is still in progress; retry after the Retry-After delay', {
          headers: { 'retry-after': String(decision.retryAfterSeconds) },
        });
      case 'conflict':
        return errorResponse(409, 'IdempotencyKeyConflict', 'the Idempotency-Key is in use', { headers: { 'retry-after': '1' } });
      case 'proceed':
        break;
    }
    const claim = (claimed as { claim: Claim }).claim;
    if (decision.tookOver) logger.warn('took the Idempotency-Key over from an earlier attempt (crashed or released)', { idempotencyKey: key.value, jobId: decision.jobId, fence: claim.fence });
    try {
      return await enqueue(claim, decision.jobId, req.value);
    } catch (err) {
      // Give the key back at once so the client's retry does not wait for the lease; the job id stays bound.
      await deps.idempotency.release(claim).catch((e: unknown) => logger.warn('lease release failed', { error: String(e) }));
      throw err;
    }
  }

  async function enqueue(claim: Claim, jobId: string, req: JobRequest): Promise<ApiResult> {
    const stamp = new Date(now()).toISOString();
    const record: JobRecord = {
      jobId,
      status: 'queued',
      sourceKey: req.sourceKey,
      ...(req.renditions === undefined ? {} : { renditionNames: req.renditions }),
      ...(req.watermark === undefined ? {} : { watermark: req.watermark }),
      createdAt: stamp,
      updatedAt: stamp,
    };
    const created = await deps.jobs.createQueued(record);
    const message: JobMessage = {
      v: 1,
      jobId,
      sourceKey: req.sourceKey,
      ...(req.renditions === undefined ? {} : { renditions: req.renditions }),
      ...(req.watermark === undefined ? {} : { watermark: req.watermark }),
    };
    await deps.queue.send(message);
    const body = jobAcceptedBody(jobId);
    const stored = await aws('complete idempotency key', () => deps.idempotency.complete(claim, undefined, { set: storedResponse(202, body) }));
    logger.info('job queued', { jobId, sourceKey: req.sourceKey, jobRecord: created, responseStored: stored });
    return jsonResponse(202, body);
  }

  async function getJob(event: APIGatewayProxyEventV2): Promise<ApiResult> {
    const jobId = validateJobId(event.pathParameters?.jobId);
    if (!jobId.ok) return validationError(jobId.field, jobId.message);
    const record = await deps.jobs.get(jobId.value);
    if (record === null) return errorResponse(404, 'JobNotFound', `no job with id ${jobId.value}`);
    const urls = new Map<string, string>();
    for (const r of record.renditions ?? []) urls.set(r.key, await deps.presigner.presignDownload(r.key, urlExpiry));
    return jsonResponse(200, JSON.stringify(jobView(record, urls)));
  }

  return async (event) => {
    const started = now();
    let result: ApiResult;
    try {
      switch (event.routeKey) {
        case ROUTES.createUpload:
          result = await createUpload(event);
          break;
        case ROUTES.createJob:
          result = await createJob(event);
          break;
        case ROUTES.getJob:
          result = await getJob(event);
          break;
        default:
          result = errorResponse(404, 'RouteNotFound', `no route ${event.routeKey}`);
      }
    } catch (err) {
      result = failureResponse(err);
      logger.error('request failed', { routeKey: event.routeKey, statusCode: result.statusCode, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
    logger.info('request', { routeKey: event.routeKey, statusCode: result.statusCode, durationMs: now() - started, requestId: event.requestContext?.requestId });
    return result;
  };
}

/** Retryable failures (throttling, 5xx, timeouts) become 503 + Retry-After; anything else is a 500. */
export function failureResponse(err: unknown): ApiResult {
  if (err instanceof FloodgateError && err.kind === 'retryable') {
    return errorResponse(503, err.errorClass, 'a backend is busy or unavailable; retry with the same Idempotency-Key', { headers: { 'retry-after': '1' } });
  }
  return errorResponse(500, 'InternalError', 'internal error');
}
