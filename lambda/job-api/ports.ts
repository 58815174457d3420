/** What the job API needs from AWS, as narrow interfaces (the adapters are in aws-adapters.ts). */
import type { JobMessage } from '../shared/job-message';
import type { JobRecord } from '../shared/job-record';
import type { IdempotencyRecord } from './idempotency';

export type ClaimResult = { readonly claimed: true } | { readonly claimed: false; readonly existing: IdempotencyRecord | null };

export interface IdempotencyStore {
  /** Creates the in-progress record unless a live (unexpired) record exists; returns it if so. */
  claim(id: string, record: Extract<IdempotencyRecord, { status: 'in_progress' }>, nowMs: number): Promise<ClaimResult>;
  /** Takes over an expired lease iff it is still held by `previousLeaseToken`. */
  takeOver(id: string, previousLeaseToken: string, leaseToken: string, leaseExpiresAtMs: number): Promise<boolean>;
  /** Stores the response iff we still own the lease. */
  complete(id: string, leaseToken: string, responseStatus: number, responseBody: string): Promise<boolean>;
  /** Ends our lease early (after a retryable failure) iff we own it; the job id stays bound to the key. */
  release(id: string, leaseToken: string): Promise<void>;
}

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
