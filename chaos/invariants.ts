/**
 * The chaos run's verdict, as a pure function of what it observed at the end: the jobs it submitted, the
 * jobs table, the published rendition objects (with their fence metadata), the DLQ, the runner's
 * concurrency and the handlers' structured log events. No I/O here, so every rule is unit-tested.
 */
import type { JobRecord } from '../lambda/shared/job-record';

/** A job the chaos run submitted. */
export interface SubmittedJob {
  readonly jobId: string;
  /** A poison job (corrupt image or bad payload): must end failed and in the DLQ with a reason. */
  readonly poison: boolean;
  /** For a bad payload: the exact body sent (its job id may not be readable, so it is matched by body). */
  readonly body?: string;
}

/** One published object under `renditions/{jobId}/`. */
export interface PublishedRendition {
  readonly jobId: string;
  readonly key: string;
  /** `x-amz-meta-fence` of the object; undefined when missing (a write without a fence). */
  readonly fence?: number;
}

/** One DLQ message, reduced to what the checks need (see tools/dlq/entries.ts). */
export interface DeadLetter {
  readonly jobId?: string;
  readonly body: string;
  readonly errorClass: string;
  readonly kind: string;
  readonly reason: string;
}

export interface Observations {
  readonly jobs: readonly SubmittedJob[];
  readonly records: readonly JobRecord[];
  readonly renditions: readonly PublishedRendition[];
  readonly deadLetters: readonly DeadLetter[];
  /** Concurrent executions the runner sampled or counted (its max), and the reserved concurrency. */
  readonly maxConcurrentExecutions: number;
  readonly reservedConcurrency: number;
  /** Samples (or invocation starts) at which concurrency was above reserved, as the runner reports it. */
  readonly concurrencySamplesAboveCap: number;
  readonly staleFencedWritesAccepted: number;
  readonly staleFencedWritesRejected: number;
  readonly executionsKilled: number;
  readonly elapsedMs: number;
}

export interface ChaosReport {
  readonly jobs: number;
  readonly completed: number;
  readonly lost: number;
  readonly doubleEffects: number;
  readonly capBreaches: number;
  readonly staleFencedWritesAccepted: number;
  readonly staleFencedWritesRejected: number;
  readonly executionsKilled: number;
  readonly poison: number;
  readonly poisonInDlqWithReason: number;
  readonly maxConcurrentExecutions: number;
  readonly elapsedMs: number;
}

/** Why each invariant failed, with example job ids (for the operator and the test's failure message). */
export interface ChaosDetails {
  readonly lostJobs: readonly { readonly jobId: string; readonly status: string }[];
  readonly doubleCompletions: readonly { readonly jobId: string; readonly completions: number }[];
  readonly staleRenditions: readonly { readonly key: string; readonly fence?: number; readonly recordFence?: number }[];
  /** Renditions published for a job that did not complete (partial output left behind). */
  readonly orphanRenditions: readonly string[];
  readonly poisonMissingFromDlq: readonly string[];
  /** Good jobs that were dead-lettered anyway (also counted in lost). */
  readonly goodJobsDeadLettered: readonly string[];
}

export interface ChaosVerdict {
  readonly report: ChaosReport;
  readonly details: ChaosDetails;
  /** Names of the failed invariants; empty when the run passed. */
  readonly failures: readonly string[];
}

const SAMPLE = 10;

export function checkInvariants(o: Observations): ChaosVerdict {
  const records = new Map(o.records.map((r) => [r.jobId, r]));
  const dlqByJob = new Map<string, DeadLetter[]>();
  const dlqBodies = new Map<string, DeadLetter[]>();
  for (const d of o.deadLetters) {
    if (d.jobId !== undefined) dlqByJob.set(d.jobId, [...(dlqByJob.get(d.jobId) ?? []), d]);
    dlqBodies.set(d.body, [...(dlqBodies.get(d.body) ?? []), d]);
  }
  // A job submitted several times is one job.
  const jobs = [...new Map(o.jobs.map((j) => [j.jobId, j])).values()];

  const lostJobs: { jobId: string; status: string }[] = [];
  const goodJobsDeadLettered: string[] = [];
  const poisonMissingFromDlq: string[] = [];
  let completed = 0;
  let poison = 0;
  let poisonInDlqWithReason = 0;
  for (const job of jobs) {
    const rec = records.get(job.jobId);
    if (job.poison) {
      poison++;
      // Classified: a permanent failure with a reason (not a retries-exhausted move, which has none).
      const isClassified = (d: DeadLetter) => d.kind === 'permanent' && d.reason.trim() !== '' && d.errorClass !== 'RetriesExhausted';
      let classified = (dlqByJob.get(job.jobId) ?? []).some(isClassified);
      if (!classified && job.body !== undefined) {
        // Matched by body: each DLQ message vouches for one job only (two jobs may share a body).
        const letters = dlqBodies.get(job.body) ?? [];
        const i = letters.findIndex(isClassified);
        if (i >= 0) {
          letters.splice(i, 1);
          classified = true;
        }
      }
      if (classified) poisonInDlqWithReason++;
      else poisonMissingFromDlq.push(job.jobId);
      // A poison job whose record exists must say failed (a bad payload may have no record at all).
      if (rec !== undefined && rec.status !== 'failed') lostJobs.push({ jobId: job.jobId, status: rec.status });
      continue;
    }
    if (rec?.status === 'completed') completed++;
    else {
      lostJobs.push({ jobId: job.jobId, status: rec?.status ?? 'no record' });
      if (dlqByJob.has(job.jobId)) goodJobsDeadLettered.push(job.jobId);
    }
  }

  const doubleCompletions = o.records
    .filter((r) => (r.completions ?? 0) > 1)
    .map((r) => ({ jobId: r.jobId, completions: r.completions ?? 0 }));
  const staleRenditions: { key: string; fence?: number; recordFence?: number }[] = [];
  const orphanRenditions: string[] = [];
  for (const r of o.renditions) {
    const rec = records.get(r.jobId);
    if (rec?.status !== 'completed') {
      orphanRenditions.push(r.key);
      continue;
    }
    // Published output must come from the holder whose fence the record carries: anything else was
    // written by a stale holder after a newer one finished (or without a fence at all).
    if (r.fence === undefined || r.fence !== rec.fence) staleRenditions.push({ key: r.key, fence: r.fence, recordFence: rec.fence });
  }
  const doubleEffects = doubleCompletions.length + new Set(staleRenditions.map((s) => s.key.split('/')[1])).size;
  const capBreaches = Math.max(o.concurrencySamplesAboveCap, o.maxConcurrentExecutions > o.reservedConcurrency ? 1 : 0);
  const lost = lostJobs.length;

  const report: ChaosReport = {
    jobs: jobs.length,
    completed,
    lost,
    doubleEffects,
    capBreaches,
    staleFencedWritesAccepted: o.staleFencedWritesAccepted,
    staleFencedWritesRejected: o.staleFencedWritesRejected,
    executionsKilled: o.executionsKilled,
    poison,
    poisonInDlqWithReason,
    maxConcurrentExecutions: o.maxConcurrentExecutions,
    elapsedMs: o.elapsedMs,
  };
  const failures: string[] = [];
  if (lost > 0) failures.push(`lost=${lost} (e.g. ${fmt(lostJobs.map((l) => `${l.jobId}:${l.status}`))})`);
  if (doubleEffects > 0) {
    failures.push(
      `doubleEffects=${doubleEffects} (completions>1: ${fmt(doubleCompletions.map((d) => d.jobId))}; stale renditions: ${fmt(staleRenditions.map((s) => s.key))})`,
    );
  }
  if (orphanRenditions.length > 0) failures.push(`orphanRenditions=${orphanRenditions.length} (e.g. ${fmt(orphanRenditions)})`);
  if (capBreaches > 0) failures.push(`capBreaches=${capBreaches} (max ${o.maxConcurrentExecutions} > reserved ${o.reservedConcurrency})`);
  if (o.staleFencedWritesAccepted > 0) failures.push(`staleFencedWritesAccepted=${o.staleFencedWritesAccepted}`);
  if (poisonInDlqWithReason < poison) failures.push(`poisonInDlqWithReason=${poisonInDlqWithReason} < poison=${poison} (missing: ${fmt(poisonMissingFromDlq)})`);
  return {
    report,
    details: { lostJobs, doubleCompletions, staleRenditions, orphanRenditions, poisonMissingFromDlq, goodJobsDeadLettered },
    failures,
  };
}

function fmt(items: readonly string[]): string {
  return items.length <= SAMPLE ? items.join(', ') || '-' : `${items.slice(0, SAMPLE).join(', ')} … +${items.length - SAMPLE}`;
}

/** The report line, keys in the order the issue names them. */
export function formatReport(r: ChaosReport): string {
  return (Object.keys(r) as (keyof ChaosReport)[]).map((k) => `${k}=${r[k]}`).join(' ');
}
