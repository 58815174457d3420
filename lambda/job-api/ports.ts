/** What the job API needs from AWS, as narrow interfaces (the adapters are in aws-adapters.ts). */
import type { JobMessage } from '../shared/job-message';
import type { JobRecord } from '../shared/job-record';

/** Idempotency-Key persistence: the runtime's (IdempotencyStore on DynamoDB, InMemoryIdempotencyStore in tests). */
export type { IdempotencyPersistence } from '@floodgate/runtime/idempotency';

export interface JobStore {
  /** Conditional create (`attribute_not_exists(jobId)`); 'exists' when a previous attempt already wrote it. */
  createQueued(record: JobRecord): Promise<'created' | 'exists'>;
  get(jobId: string): Promise<JobRecord | null>;
}

export interface JobQueue {
  send(message: JobMessage): Promise<void>;
}

export interface Presigner {
  presignUpload(key: string, contentType: string, contentLength: number | undefined, expiresInSeconds: number): Promise<string>;
  presignDownload(key: string, expiresInSeconds: number): Promise<string>;
}
