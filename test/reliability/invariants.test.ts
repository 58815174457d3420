import { describe, expect, it } from 'vitest';
import { checkInvariants, formatReport, type Observations } from '../../chaos/invariants';
import type { JobRecord } from '../../lambda/shared/job-record';

const T = '2026-11-23T00:00:00.000Z';
function rec(jobId: string, status: JobRecord['status'], extra: Partial<JobRecord> = {}): JobRecord {
  return { jobId, status, sourceKey: `uploads/${jobId}.jpg`, createdAt: T, updatedAt: T, ...extra };
}

function healthy(): Observations {
  return {
    jobs: [
      { jobId: 'a', poison: false },
      { jobId: 'b', poison: false },
      { jobId: 'b', poison: false }, // submitted twice: still one job
      { jobId: 'p1', poison: true },
      { jobId: 'p2', poison: true, body: '{"v":1,"jobId":' },
    ],
    records: [
      rec('a', 'completed', { fence: 1, completions: 1 }),
      rec('b', 'completed', { fence: 3, completions: 1 }),
      rec('p1', 'failed', { fence: 1, error: { class: 'CorruptImage', reason: 'truncated' } }),
    ],
    renditions: [
      { jobId: 'a', key: 'renditions/a/thumb.jpg', fence: 1 },
      { jobId: 'b', key: 'renditions/b/thumb.jpg', fence: 3 },
    ],
    deadLetters: [
      { jobId: 'p1', body: '{}', errorClass: 'CorruptImage', kind: 'permanent', reason: 'JPEG is truncated' },
      // Invalid JSON: no job id, matched by body.
      { jobId: '(unknown)', body: '{"v":1,"jobId":', errorClass: 'InvalidMessage', kind: 'permanent', reason: 'not valid JSON' },
    ],
    maxConcurrentExecutions: 4,
    reservedConcurrency: 4,
    concurrencySamplesAboveCap: 0,
    staleFencedWritesAccepted: 0,
    staleFencedWritesRejected: 7,
    executionsKilled: 3,
    elapsedMs: 1234,
  };
}

describe('chaos invariants', () => {
  it('passes a healthy run and counts each job once', () => {
    const v = checkInvariants(healthy());
    expect(v.failures).toEqual([]);
    expect(v.report).toEqual({
      jobs: 4,
      completed: 2,
      lost: 0,
      doubleEffects: 0,
      capBreaches: 0,
      staleFencedWritesAccepted: 0,
      staleFencedWritesRejected: 7,
      executionsKilled: 3,
      poison: 2,
      poisonInDlqWithReason: 2,
      maxConcurrentExecutions: 4,
      elapsedMs: 1234,
    });
    expect(formatReport(v.report)).toMatch(/^jobs=4 completed=2 lost=0 doubleEffects=0 capBreaches=0 /);
  });

  it('a good job not completed is lost, whatever its state (also when dead-lettered)', () => {
    const o = healthy();
    const v = checkInvariants({
      ...o,
      jobs: [...o.jobs, { jobId: 'c', poison: false }, { jobId: 'd', poison: false }],
      records: [...o.records, rec('c', 'processing')],
      deadLetters: [...o.deadLetters, { jobId: 'd', body: '', errorClass: 'RetriesExhausted', kind: 'exhausted', reason: 'x' }],
    });
    expect(v.report.lost).toBe(2);
    expect(v.details.lostJobs).toEqual([{ jobId: 'c', status: 'processing' }, { jobId: 'd', status: 'no record' }]);
    expect(v.details.goodJobsDeadLettered).toEqual(['d']);
    expect(v.failures[0]).toMatch(/^lost=2/);
  });

  it('a job completed twice is a double effect', () => {
    const o = healthy();
    const v = checkInvariants({ ...o, records: o.records.map((r) => (r.jobId === 'a' ? { ...r, completions: 2 } : r)) });
    expect(v.report.doubleEffects).toBe(1);
    expect(v.details.doubleCompletions).toEqual([{ jobId: 'a', completions: 2 }]);
  });

  it('a published rendition written by a stale holder (fence != record fence, or no fence) is a double effect, once per job', () => {
    const o = healthy();
    const v = checkInvariants({
      ...o,
      renditions: [
        ...o.renditions,
        { jobId: 'b', key: 'renditions/b/medium.webp', fence: 2 },
        { jobId: 'b', key: 'renditions/b/large.jpg' },
        { jobId: 'a', key: 'renditions/a/large.jpg' },
      ],
    });
    expect(v.report.doubleEffects).toBe(2);
    expect(v.details.staleRenditions.map((s) => s.key)).toEqual(['renditions/b/medium.webp', 'renditions/b/large.jpg', 'renditions/a/large.jpg']);
  });

  it('renditions left behind by a failed job fail the run', () => {
    const o = healthy();
    const v = checkInvariants({ ...o, renditions: [...o.renditions, { jobId: 'p1', key: 'renditions/p1/thumb.jpg', fence: 1 }] });
    expect(v.details.orphanRenditions).toEqual(['renditions/p1/thumb.jpg']);
    expect(v.failures.some((f) => f.startsWith('orphanRenditions=1'))).toBe(true);
  });

  it('poison must be in the DLQ as a permanent failure with a reason; retries-exhausted does not count', () => {
    const o = healthy();
    const v = checkInvariants({
      ...o,
      deadLetters: [
        { jobId: 'p1', body: '{}', errorClass: 'RetriesExhausted', kind: 'exhausted', reason: 'retries exhausted' },
        { jobId: '(unknown)', body: '{"v":1,"jobId":', errorClass: 'InvalidMessage', kind: 'permanent', reason: ' ' },
      ],
    });
    expect(v.report.poisonInDlqWithReason).toBe(0);
    expect(v.details.poisonMissingFromDlq).toEqual(['p1', 'p2']);
    expect(v.failures.some((f) => f.startsWith('poisonInDlqWithReason=0 < poison=2'))).toBe(true);
  });

  it('a DLQ message matched by body vouches for one poison job only', () => {
    const o = healthy();
    const v = checkInvariants({ ...o, jobs: [...o.jobs, { jobId: 'p3', poison: true, body: '{"v":1,"jobId":' }] });
    expect(v.report.poison).toBe(3);
    expect(v.report.poisonInDlqWithReason).toBe(2);
    expect(v.details.poisonMissingFromDlq).toEqual(['p3']);
  });

  it('a poison job whose record does not say failed is lost', () => {
    const o = healthy();
    const v = checkInvariants({ ...o, records: o.records.map((r) => (r.jobId === 'p1' ? { ...r, status: 'processing' as const } : r)) });
    expect(v.details.lostJobs).toEqual([{ jobId: 'p1', status: 'processing' }]);
  });

  it('concurrency above reserved and accepted stale writes fail the run', () => {
    const o = healthy();
    expect(checkInvariants({ ...o, maxConcurrentExecutions: 5 }).report.capBreaches).toBe(1);
    expect(checkInvariants({ ...o, concurrencySamplesAboveCap: 3 }).report.capBreaches).toBe(3);
    const v = checkInvariants({ ...o, staleFencedWritesAccepted: 1 });
    expect(v.failures).toEqual(['staleFencedWritesAccepted=1']);
  });
});
