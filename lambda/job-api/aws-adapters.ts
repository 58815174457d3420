/** Thin AWS adapters behind the job API's ports. No decisions here beyond mapping AWS errors. */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RetryableError } from '@floodgate/runtime';
import type { JobMessage } from '../shared/job-message';
import type { JobRecord } from '../shared/job-record';
import { IDEMPOTENCY_KEY_ATTRIBUTE, IDEMPOTENCY_TTL_ATTRIBUTE, toIdempotencyRecord } from './idempotency';
import type { ClaimResult, IdempotencyStore, JobQueue, JobStore, Presigner } from './ports';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
  'TooManyRequestsException',
  'RequestThrottled',
  'KMS.ThrottlingException',
]);

/** AWS SDK errors that a retry can fix become RetryableError (the API answers 503 + Retry-After). */
export function classifyAwsError(err: unknown, what: string): unknown {
  if (!(err instanceof Error)) return err;
  const meta = (err as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown }).$metadata;
  if (THROTTLING.has(err.name)) return new RetryableError('Throttled', `${what}: ${err.name}`, { cause: err });
  if ((meta?.httpStatusCode ?? 0) >= 500 || err.name === 'TimeoutError' || /ECONNRE|ETIMEDOUT|EPIPE|socket hang up/.test(err.message)) {
    return new RetryableError('ServiceUnavailable', `${what}: ${err.name}: ${err.message}`, { cause: err });
  }
  return err;
}

async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyAwsError(err, what);
  }
}

function isConditionFailed(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err instanceof Error && err.name === 'ConditionalCheckFailedException');
}

export function dynamoIdempotencyStore(client: DynamoDBClient, tableName: string): IdempotencyStore {
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const K = IDEMPOTENCY_KEY_ATTRIBUTE;
  const TTL = IDEMPOTENCY_TTL_ATTRIBUTE;
  return {
    async claim(id, record, nowMs): Promise<ClaimResult> {
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: { [K]: id, ...record },
            // A record past its retention may linger until TTL deletes it: it counts as absent.
            ConditionExpression: 'attribute_not_exists(#k) OR #ttl <= :nowSec',
            ExpressionAttributeNames: { '#k': K, '#ttl': TTL },
            ExpressionAttributeValues: { ':nowSec': Math.floor(nowMs / 1000) },
          }),
        );
        return { claimed: true };
      } catch (err) {
        if (!isConditionFailed(err)) throw classifyAwsError(err, 'claim idempotency key');
        // One consistent read on the (rare) duplicate path keeps this adapter simple and typed.
        const out = await aws('read idempotency key', () => doc.send(new GetCommand({ TableName: tableName, Key: { [K]: id }, ConsistentRead: true })));
        const existing = toIdempotencyRecord(out.Item);
        return { claimed: false, existing };
      }
    },
    async takeOver(id, previousLeaseToken, leaseToken, leaseExpiresAtMs) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [K]: id },
            UpdateExpression: 'SET leaseToken = :new, leaseExpiresAtMs = :exp',
            ConditionExpression: '#s = :inProgress AND leaseToken = :old',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':new': leaseToken, ':exp': leaseExpiresAtMs, ':old': previousLeaseToken, ':inProgress': 'in_progress' },
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailed(err)) return false;
        throw classifyAwsError(err, 'take over idempotency key');
      }
    },
    async complete(id, leaseToken, responseStatus, responseBody) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [K]: id },
            UpdateExpression: 'SET #s = :completed, responseStatus = :rs, responseBody = :rb REMOVE leaseToken, leaseExpiresAtMs',
            ConditionExpression: '#s = :inProgress AND leaseToken = :mine',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':completed': 'completed', ':inProgress': 'in_progress', ':rs': responseStatus, ':rb': responseBody, ':mine': leaseToken },
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailed(err)) return false;
        throw classifyAwsError(err, 'complete idempotency key');
      }
    },
    async release(id, leaseToken) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [K]: id },
            UpdateExpression: 'SET leaseExpiresAtMs = :zero',
            ConditionExpression: '#s = :inProgress AND leaseToken = :mine',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':zero': 0, ':inProgress': 'in_progress', ':mine': leaseToken },
          }),
        );
      } catch (err) {
        if (!isConditionFailed(err)) throw classifyAwsError(err, 'release idempotency key');
      }
    },
  };
}

export function dynamoJobStore(client: DynamoDBClient, tableName: string): JobStore {
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    async createQueued(record) {
      try {
        await doc.send(new PutCommand({ TableName: tableName, Item: { ...record }, ConditionExpression: 'attribute_not_exists(jobId)' }));
        return 'created';
      } catch (err) {
        if (isConditionFailed(err)) return 'exists';
        throw classifyAwsError(err, 'create job record');
      }
    },
    async get(jobId) {
      const out = await aws('read job record', () => doc.send(new GetCommand({ TableName: tableName, Key: { jobId } })));
      return (out.Item as JobRecord | undefined) ?? null;
    },
  };
}

export function sqsJobQueue(client: SQSClient, queueUrl: string): JobQueue {
  return {
    async send(message: JobMessage) {
      await aws('send job message', () => client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) })));
    },
  };
}

/**
 * Presigned URLs. The S3 client must be created with `requestChecksumCalculation: 'WHEN_REQUIRED'`
 * (otherwise the SDK signs a CRC32 of the EMPTY body into the PUT URL and S3 rejects every real upload)
 * and `responseChecksumValidation: 'WHEN_REQUIRED'` (otherwise GET URLs carry `x-amz-checksum-mode`,
 * which plain HTTP clients do not expect; aws-sdk-js-v3#6994).
 */
export function s3Presigner(client: S3Client, uploadsBucket: string, renditionsBucket: string): Presigner {
  return {
    presignUpload(key, contentType, contentLength, expiresIn) {
      // Content-Length is signed when present; Content-Type is not (the presigner marks it unsignable), so we
      // ask for it explicitly: a PUT with another type (or size, when given) fails with SignatureDoesNotMatch.
      const sized = contentLength !== undefined;
      return getSignedUrl(client, new PutObjectCommand({ Bucket: uploadsBucket, Key: key, ContentType: contentType, ...(sized ? { ContentLength: contentLength } : {}) }), {
        expiresIn,
        signableHeaders: new Set(sized ? ['content-type', 'content-length'] : ['content-type']),
      });
    },
    presignDownload(key, expiresIn) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket: renditionsBucket, Key: key }), { expiresIn });
    },
  };
}
