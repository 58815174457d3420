/**
 * A job's record in the jobs table (partition key `jobId`). The job API creates it `queued`; the worker
 * claims it (processing) and completes or fails it, each write conditional on owner + fence; the record is
 * the idempotency claim (lambda/image-worker/jobs-table.ts), so a released claim goes back to queued.
 */
import type { RenditionName, Watermark } from './job-message';
import type { ErrorClass } from '@floodgate/runtime';

export type JobStatus = 'queued' | 'processing' | 'completed' | 'failed';


export interface RenditionRecord {
  readonly name: RenditionName;
  /** S3 key in the renditions bucket: `renditions/{jobId}/{name}.{ext}`. */
  readonly key: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly format: string;
}

export interface JobRecord {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly sourceKey: string;
  readonly renditionNames?: RenditionName[];
  readonly watermark?: Watermark;
  readonly renditions?: RenditionRecord[];
  readonly error?: { readonly class: ErrorClass; readonly reason: string };
  /** Highest fencing token that wrote results; a write with a lower token is rejected. */
  readonly fence?: number;
  /** Incremented by each completing write; any value above 1 is a double effect (chaos checks it). */
  readonly completions?: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}
