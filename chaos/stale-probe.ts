/**
 * The stale-holder probe. In the chaos run itself no holder outlives its lease: the lease is the invocation
 * deadline and the host kills at the timeout, as Lambda does (docs/reliability.md). So after the run, the
 * probe plays the one thing the run cannot produce: a holder that was paused past its lease and resumes
 * after a newer owner completed the job. It sends that holder's completion - the worker's own jobs store
 * (createJobsStore), an older fence and an owner token that is no longer the record's - against the real end state, and checks that every such write is rejected and
 * that the records did not change.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { completionAttributes, createJobsStore } from '../lambda/image-worker/jobs-table';
import type { JobRecord } from '../lambda/shared/job-record';
import { scanJobs } from './observe';

export interface StaleProbeResult {
  readonly attempts: number;
  readonly rejected: number;
  /** Writes accepted although a newer fence had written (must be 0). */
  readonly accepted: number;
  /** Records whose status, fence or completions changed (must be 0). */
  readonly recordsChanged: number;
}

export async function probeStaleHolders(dynamodb: DynamoDBClient, tableName: string, records: readonly JobRecord[], count = 5): Promise<StaleProbeResult> {
  const targets = records.filter((r) => r.status === 'completed' && typeof r.fence === 'number').slice(0, count);
  let rejected = 0;
  let accepted = 0;
  const store = createJobsStore(dynamodb, tableName);
  for (const r of targets) {
    const ok = await store.complete({ id: r.jobId, owner: `stale-probe-${r.fence! - 1}`, fence: r.fence! - 1, leaseExpiresAt: 0 }, undefined, { set: completionAttributes([], Date.now()) });
    if (ok) accepted++;
    else rejected++;
  }
  const after = new Map((await scanJobs(dynamodb, tableName)).map((r) => [r.jobId, r]));
  const recordsChanged = targets.filter((r) => {
    const a = after.get(r.jobId);
    return a === undefined || a.status !== r.status || a.fence !== r.fence || a.completions !== r.completions;
  }).length;
  return { attempts: targets.length, rejected, accepted, recordsChanged };
}
