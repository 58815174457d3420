/**
 * Names shared by the infrastructure (lib/), the handlers (lambda/) and the local stack (local/).
 * One place, so the construct that sets a value and the code that reads it cannot drift apart.
 */

import { TABLE_ATTRIBUTES as PACKAGE_TABLE_ATTRIBUTES } from '@floodgate/contract';

export { CONSUMER_ENV } from '@floodgate/runtime';

/** Environment the image pipeline stack sets on the image worker (and, where relevant, the job API). */
export const PIPELINE_ENV = {
  jobsTable: 'JOBS_TABLE_NAME',
  idempotencyTable: 'IDEMPOTENCY_TABLE_NAME',
  lockTable: 'LOCK_TABLE_NAME',
  uploadsBucket: 'UPLOADS_BUCKET_NAME',
  renditionsBucket: 'RENDITIONS_BUCKET_NAME',
  jobQueueUrl: 'JOB_QUEUE_URL',
  maxUploadBytes: 'MAX_UPLOAD_BYTES',
} as const;

/** Key prefixes inside the buckets; IAM grants are scoped to them. */
export const UPLOADS_PREFIX = 'uploads/';
export const RENDITIONS_PREFIX = 'renditions/';

/** CloudFormation output keys of the image pipeline stack (what clients, tests and tools read). */
export const STACK_OUTPUTS = {
  uploadsBucket: 'UploadsBucketName',
  renditionsBucket: 'RenditionsBucketName',
  jobQueueUrl: 'JobQueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  jobsTable: 'JobsTableName',
  idempotencyTable: 'IdempotencyTableName',
  lockTable: 'LockTableName',
  workerFunction: 'ImageWorkerFunctionName',
  apiUrl: 'ApiUrl',
  dashboard: 'DashboardName',
} as const;

/** The stack's id in bin/app.ts (and its name unless overridden). */
export const STACK_NAME = 'FloodgateImagePipeline';

/**
 * Context key: Lambda architecture for the image worker, `arm64` (default, see README) or `x86_64`.
 * The local stack sets it to the host's architecture so the bundled sharp binary loads.
 */
export { ARCH_CONTEXT } from '@floodgate/contract';

/**
 * Key and TTL attribute names of the stack's tables (lib/ creates them, lambda/ and local/ use them).
 * TTL attributes hold epoch SECONDS (DynamoDB ignores other units); items without one never expire.
 */
export const TABLE_ATTRIBUTES = {
  jobs: { partitionKey: 'jobId', ttl: 'expiresAt' },
  // The packages' tables (@floodgate/contract).
  ...PACKAGE_TABLE_ATTRIBUTES,
} as const;
