/**
 * Lambda entry point of the job API (API Gateway HTTP API, payload format 2.0, IAM-authorized routes).
 * Reads its wiring from PIPELINE_ENV; everything else is in app.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { PIPELINE_ENV } from '../shared/contract';
import { createJobApi, type JobApiHandler } from './app';
import { dynamoIdempotencyStore, dynamoJobStore, s3Presigner, sqsJobQueue } from './aws-adapters';
import { Logger } from '@aws-lambda-powertools/logger';
import { needsPathStyle } from '@floodgate/runtime';

/** Optional: lifetime of the Idempotency-Key lease in ms (set by the JobApi construct from the timeout). */
export const JOB_API_LEASE_MS_ENV = 'FLOODGATE_API_LEASE_MS';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v === '') throw new Error(`environment variable ${name} is not set`);
  return v;
}

export function handlerFromEnv(env: NodeJS.ProcessEnv = process.env): JobApiHandler {
  const maxUploadBytes = Number(required(env, PIPELINE_ENV.maxUploadBytes));
  if (!Number.isInteger(maxUploadBytes) || maxUploadBytes < 1) throw new Error(`${PIPELINE_ENV.maxUploadBytes} must be a positive integer`);
  const leaseMs = env[JOB_API_LEASE_MS_ENV] === undefined ? undefined : Number(env[JOB_API_LEASE_MS_ENV]);
  const s3 = new S3Client({ forcePathStyle: needsPathStyle(env), requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const dynamodb = new DynamoDBClient({});
  const sqs = new SQSClient({});
  return createJobApi(
    { maxUploadBytes, ...(leaseMs === undefined ? {} : { leaseMs }) },
    {
      idempotency: dynamoIdempotencyStore(dynamodb, required(env, PIPELINE_ENV.idempotencyTable)),
      jobs: dynamoJobStore(dynamodb, required(env, PIPELINE_ENV.jobsTable)),
      queue: sqsJobQueue(sqs, required(env, PIPELINE_ENV.jobQueueUrl)),
      presigner: s3Presigner(s3, required(env, PIPELINE_ENV.uploadsBucket), required(env, PIPELINE_ENV.renditionsBucket)),
      // Powertools Logger: level from POWERTOOLS_LOG_LEVEL (or the function's AWS_LAMBDA_LOG_LEVEL).
      logger: new Logger({ serviceName: 'job-api' }),
    },
  );
}

let cached: JobApiHandler | undefined;

export async function handler(event: APIGatewayProxyEventV2) {
  cached ??= handlerFromEnv();
  return cached(event);
}
