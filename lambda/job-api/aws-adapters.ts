/** Thin AWS adapters behind the job API's ports. No decisions here beyond mapping AWS errors. */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { aws, classifyCall } from './aws-errors';
import { IdempotencyStore } from '@floodgate/runtime/idempotency';
import { TABLE_ATTRIBUTES } from '../shared/contract';
import type { JobMessage } from '../shared/job-message';
import type { JobRecord } from '../shared/job-record';
import { IDEMPOTENCY_RETENTION_SECONDS } from './idempotency';
import type { JobQueue, JobStore, Presigner } from './ports';

function isConditionFailed(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err instanceof Error && err.name === 'ConditionalCheckFailedException');
}

/** The Idempotency-Key records: the runtime's idempotency persistence on the idempotency table, 24 h retention. */
export function dynamoIdempotencyStore(client: DynamoDBClient, tableName: string, now: () => number = Date.now): IdempotencyStore {
  return new IdempotencyStore({ client, tableName, keyAttribute: TABLE_ATTRIBUTES.idempotency.partitionKey, recordTtlSeconds: IDEMPOTENCY_RETENTION_SECONDS, now });
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
        throw classifyCall(err, 'create job record');
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
