/**
 * Property test of `POST /jobs` idempotency with crashes at every step, against in-memory stores: the
 * runtime's InMemoryIdempotencyStore (the same model as its DynamoDB store) and a conditional job store. A crash is a request that stops
 * forever at one call (nothing released), like a killed Lambda. Invariants checked after every step:
 * one job id per key, every 202 for a key is the same bytes, a 202 means the job record and its message
 * exist, another payload never gets a 202, and after the lease every key can complete.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createJobApi, ROUTES } from '../../lambda/job-api/app';
import { InMemoryIdempotencyStore, type IdempotencyPersistence } from '@floodgate/runtime/idempotency';
import { str } from '@floodgate/runtime';
import { IDEMPOTENCY_RETENTION_SECONDS } from '../../lambda/job-api/idempotency';
import type { JobQueue, JobStore, Presigner } from '../../lambda/job-api/ports';
import type { JobMessage } from '../../lambda/shared/job-message';
import type { JobRecord } from '../../lambda/shared/job-record';
import { event, silentLogger } from './support';

type CrashPoint = 'none' | 'createQueued' | 'send' | 'complete';
const LEASE_MS = 10_000;
const hang = () => new Promise<never>(() => {});

function world() {
  let clock = 1_800_000_000_000;
  let crashAt: CrashPoint = 'none';
  let ids = 0;
  const store = new InMemoryIdempotencyStore({ recordTtlSeconds: IDEMPOTENCY_RETENTION_SECONDS, now: () => clock });
  const jobs = new Map<string, JobRecord>();
  const sent: JobMessage[] = [];
  const idempotency: IdempotencyPersistence = {
    claim: (...a) => store.claim(...a),
    complete: (...a) => (crashAt === 'complete' ? hang() : store.complete(...a)),
    fail: (...a) => store.fail(...a),
    release: (claim) => store.release(claim),
  };
  const jobStore: JobStore = {
    async createQueued(record) {
      if (crashAt === 'createQueued') return hang();
      if (jobs.has(record.jobId)) return 'exists';
      jobs.set(record.jobId, record);
      return 'created';
    },
    async get(jobId) {
      return jobs.get(jobId) ?? null;
    },
  };
  const queue: JobQueue = {
    async send(m) {
      if (crashAt === 'send') return hang();
      sent.push(m);
    },
  };
  const presigner: Presigner = { presignUpload: async () => 'u', presignDownload: async () => 'd' };
  const api = createJobApi({ maxUploadBytes: 1000, leaseMs: LEASE_MS }, { idempotency, jobs: jobStore, queue, presigner, logger: silentLogger(), now: () => clock, newId: () => `id${++ids}` });
  return {
    api,
    boundJobId: (id: string) => str(store.get(id)?.attrs, 'jobId'),
    jobs,
    sent,
    advance: (ms: number) => (clock += ms),
    setCrash: (c: CrashPoint) => (crashAt = c),
  };
}

const PAYLOADS = [{ sourceKey: 'uploads/a.jpg' }, { sourceKey: 'uploads/b.jpg', renditions: ['thumb'] }, { sourceKey: 'uploads/a.jpg', renditions: ['large'] }];
const KEYS = ['k0', 'k1'];

const opArb = fc.oneof(
  fc.record({ kind: fc.constant('submit' as const), key: fc.integer({ min: 0, max: 1 }), payload: fc.integer({ min: 0, max: 2 }), crash: fc.constantFrom<CrashPoint>('none', 'none', 'createQueued', 'send', 'complete') }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(1000, 5000, LEASE_MS + 1) }),
);

describe('POST /jobs idempotency model', () => {
  it('keeps its invariants under crashes at every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const w = world();
        const accepted = new Map<string, string>(); // key -> 202 body
        const firstPayload = new Map<string, number>(); // key -> payload index bound by the first claim
        for (const op of ops) {
          if (op.kind === 'advance') {
            w.advance(op.ms);
            continue;
          }
          const key = KEYS[op.key]!;
          w.setCrash(op.crash);
          const pending = w.api(event(ROUTES.createJob, { body: PAYLOADS[op.payload], headers: { 'idempotency-key': key } }));
          let res: Awaited<typeof pending> | undefined;
          pending.then((r) => (res = r));
          for (let i = 0; i < 20 && res === undefined; i++) await new Promise((r) => setImmediate(r));
          w.setCrash('none');
          if (!firstPayload.has(key) && w.boundJobId(`api#${key}`) !== undefined) firstPayload.set(key, op.payload);
          if (res === undefined) continue; // crashed: stays in flight forever
          if (res.statusCode === 202) {
            expect(firstPayload.get(key)).toBe(op.payload);
            const prev = accepted.get(key);
            if (prev !== undefined) expect(res.body).toBe(prev);
            accepted.set(key, res.body);
            const { jobId } = JSON.parse(res.body) as { jobId: string };
            expect(w.jobs.get(jobId)?.status).toBe('queued');
            expect(w.sent.some((m) => m.jobId === jobId)).toBe(true);
          } else {
            expect([409, 422]).toContain(res.statusCode);
            if (res.statusCode === 422) expect(firstPayload.get(key)).not.toBe(op.payload);
          }
        }
        // One job id per key, ever; every message belongs to a bound job id.
        const bound = new Map(KEYS.map((k) => [`api#${k}`, w.boundJobId(`api#${k}`)] as const).filter(([, j]) => j !== undefined));
        for (const m of w.sent) expect([...bound.values()]).toContain(m.jobId);
        expect(new Set(w.jobs.keys()).size).toBeLessThanOrEqual(bound.size);
        // Liveness: after the lease, the bound payload completes with the bound job id.
        w.advance(LEASE_MS + 1);
        for (const [key, p] of firstPayload) {
          const res = await w.api(event(ROUTES.createJob, { body: PAYLOADS[p], headers: { 'idempotency-key': key } }));
          expect(res.statusCode).toBe(202);
          const { jobId } = JSON.parse(res.body) as { jobId: string };
          expect(jobId).toBe(bound.get(`api#${key}`));
          if (accepted.has(key)) expect(res.body).toBe(accepted.get(key));
          expect(w.sent.some((m) => m.jobId === jobId)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
