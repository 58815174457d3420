/**
 * A simulation of many deliveries ("actors") of ONE job racing through claim -> mark -> put -> complete,
 * under random interleavings with crashes, pauses (an actor simply not scheduled) and clock jumps. The
 * same command list runs against the pure model (idempotency/model.ts + lock/fence.ts) or against
 * DynamoDB Local through the real adapters (IdempotencyStore, JobsTable). Invariants are checked after
 * every step and at the end.
 */
import { randomUUID } from 'node:crypto';
import { applyClaim, applyFinish, isOwner, type IdempotencyRecord } from '@floodgate/runtime/idempotency';
import { judgeFencedWrite, type FenceVerdict } from '../../../lambda/shared/fence';
import type { JobStatus } from '../../../lambda/shared/job-record';

export type ClaimRes = { type: 'claimed'; owner: string; fence: number } | { type: 'completed' | 'failed' | 'in-progress' | 'payload-mismatch' };
export interface JobBackend {
  claim(now: number, leaseExpiresAt: number): Promise<ClaimRes>;
  mark(fence: number, now: number): Promise<{ verdict: FenceVerdict; previousStatus?: JobStatus }>;
  complete(fence: number, now: number): Promise<{ verdict: FenceVerdict; previousStatus?: JobStatus }>;
  completeClaim(owner: string, fence: number, now: number): Promise<boolean>;
  /** Job completion and claim completion in one atomic write (what the worker does). */
  completeAtomic(owner: string, fence: number, now: number): Promise<{ verdict: FenceVerdict; previousStatus?: JobStatus; claimLost: boolean }>;
  release(owner: string, fence: number, now: number): Promise<boolean>;
  /** The idempotency record's current owner (for the "two live owners" invariant). */
  currentOwner(): Promise<string | undefined>;
  job(): Promise<{ status?: JobStatus; fence?: number; completions: number }>;
}

export class ModelJobBackend implements JobBackend {
  private idem: IdempotencyRecord | undefined;
  private jobRec: { status?: JobStatus; fence?: number; completions: number } = { status: 'queued', completions: 0 };
  async claim(now: number, leaseExpiresAt: number): Promise<ClaimRes> {
    const owner = randomUUID();
    const r = applyClaim(this.idem, { id: 'job', owner, payloadHash: 'h', now, leaseExpiresAt, expiresAt: Math.ceil(now / 1000) + 86_400 });
    this.idem = r.record;
    return r.outcome.type === 'claimed' ? { type: 'claimed', owner, fence: r.outcome.fence } : { type: r.outcome.type };
  }
  private write(fence: number, to: JobStatus) {
    const verdict = judgeFencedWrite(this.jobRec, fence, to);
    const previousStatus = this.jobRec.status;
    if (verdict === 'accept') this.jobRec = { status: to, fence, completions: this.jobRec.completions + (to === 'completed' ? 1 : 0) };
    return { verdict, ...(previousStatus ? { previousStatus } : {}) };
  }
  async mark(fence: number) { return this.write(fence, 'processing'); }
  async complete(fence: number) { return this.write(fence, 'completed'); }
  async completeAtomic(owner: string, fence: number, now: number) {
    if (!isOwner(this.idem, owner)) return { verdict: 'not-forward' as const, claimLost: true };
    const verdict = judgeFencedWrite(this.jobRec, fence, 'completed');
    if (verdict !== 'accept') return { verdict, ...(this.jobRec.status ? { previousStatus: this.jobRec.status } : {}), claimLost: false };
    this.write(fence, 'completed');
    await this.completeClaim(owner, fence, now);
    return { verdict, claimLost: false };
  }
  async completeClaim(owner: string, _fence: number, now: number) {
    const r = applyFinish(this.idem, owner, { to: 'completed', expiresAt: Math.ceil(now / 1000) + 86_400 });
    this.idem = r.record;
    return r.ok;
  }
  async release(owner: string) {
    const r = applyFinish(this.idem, owner, { to: 'released' });
    this.idem = r.record;
    return r.ok;
  }
  async currentOwner() { return this.idem?.status === 'in_progress' ? this.idem.owner : undefined; }
  async job() { return this.jobRec; }
}

export type Command =
  | { kind: 'step'; actor: number }
  | { kind: 'crash'; actor: number }
  | { kind: 'jump'; actor: number; ms: number }
  | { kind: 'advance'; ms: number };

type Phase = 'idle' | 'claimed' | 'marked' | 'put' | 'jobDone' | 'done';
interface Actor { phase: Phase; owner?: string; fence?: number; lease?: number; skew: number }

export interface SimOptions {
  readonly actors: number;
  readonly leaseMs: number;
  /** When false, clock jumps are ignored (then published renditions must carry the record's fence). */
  readonly clockJumps: boolean;
  /** Complete the job and the claim in one atomic write (the worker's TransactWriteItems). */
  readonly atomicCompletion?: boolean;
}

export interface SimResult {
  readonly staleRejected: number;
  readonly grants: number;
}

export async function runJobSimulation(backend: JobBackend, commands: readonly Command[], opts: SimOptions): Promise<SimResult> {
  let T = 1_700_000_000_000;
  const actors: Actor[] = Array.from({ length: opts.actors }, () => ({ phase: 'idle', skew: 0 }));
  let renditionFence: number | undefined; // last writer wins, like S3
  let maxAccepted = 0;
  let lastGrant = 0;
  let grants = 0;
  let staleRejected = 0;
  const fail = (msg: string): never => { throw new Error(`invariant violated: ${msg}`); };
  const accepted = (fence: number) => {
    if (fence < maxAccepted) fail(`stale fenced write accepted: fence ${fence} after ${maxAccepted}`);
    maxAccepted = fence;
  };
  const reset = (a: Actor) => { a.phase = 'idle'; delete a.owner; delete a.fence; delete a.lease; };

  const step = async (a: Actor) => {
    const now = T + a.skew;
    // What the hard-deadline abort does in the handler: past the lease, stop and give the claim back.
    if (a.lease !== undefined && a.phase !== 'jobDone' && now >= a.lease) {
      await backend.release(a.owner!, a.fence!, now);
      reset(a);
      return;
    }
    switch (a.phase) {
      case 'idle': {
        const r = await backend.claim(now, now + opts.leaseMs);
        if (r.type === 'claimed') {
          if (r.fence <= lastGrant) fail(`fence not increasing: ${r.fence} after ${lastGrant}`);
          lastGrant = r.fence;
          grants++;
          Object.assign(a, { phase: 'claimed', owner: r.owner, fence: r.fence, lease: now + opts.leaseMs });
        } else if (r.type === 'completed') a.phase = 'done';
        else if (r.type !== 'in-progress') fail(`unexpected claim outcome ${r.type}`);
        return;
      }
      case 'claimed': {
        const r = await backend.mark(a.fence!, now);
        if (r.verdict === 'accept') { accepted(a.fence!); a.phase = 'marked'; }
        else if (r.previousStatus === 'completed') { await backend.completeClaim(a.owner!, a.fence!, now); a.phase = 'done'; }
        else { if (r.verdict === 'stale') staleRejected++; reset(a); }
        return;
      }
      case 'marked':
        renditionFence = a.fence!;
        a.phase = 'put';
        return;
      case 'put': {
        if (opts.atomicCompletion) {
          const r = await backend.completeAtomic(a.owner!, a.fence!, now);
          if (r.claimLost) reset(a);
          else if (r.verdict === 'accept') { accepted(a.fence!); a.phase = 'done'; }
          else if (r.verdict === 'stale') { staleRejected++; reset(a); }
          else if (r.previousStatus === 'completed') { await backend.completeClaim(a.owner!, a.fence!, now); a.phase = 'done'; }
          else reset(a);
          return;
        }
        const r = await backend.complete(a.fence!, now);
        if (r.verdict === 'accept') { accepted(a.fence!); a.phase = 'jobDone'; }
        else if (r.verdict === 'stale') { staleRejected++; reset(a); }
        else if (r.previousStatus === 'completed') a.phase = 'jobDone';
        else reset(a);
        return;
      }
      case 'jobDone':
        await backend.completeClaim(a.owner!, a.fence!, now);
        a.phase = 'done';
        return;
      case 'done':
        return;
    }
  };

  const checkLiveOwners = async () => {
    const current = await backend.currentOwner();
    const live = actors.filter((a) => a.owner !== undefined && a.owner === current && a.phase !== 'done');
    if (live.length > 1) fail(`${live.length} live owners`);
    const job = await backend.job();
    if (job.completions > 1) fail(`job completed ${job.completions} times`);
  };

  for (const c of commands) {
    if (c.kind === 'advance') T += c.ms;
    else if (c.kind === 'jump') { if (opts.clockJumps) actors[c.actor % actors.length]!.skew += c.ms; }
    else if (c.kind === 'crash') reset(actors[c.actor % actors.length]!); // its claim stays, like a killed Lambda's; the message comes back
    else await step(actors[c.actor % actors.length]!);
    await checkLiveOwners();
  }

  // Drain: clocks agree again, every lease has run out, and SQS keeps redelivering until someone finishes.
  T += opts.leaseMs * 2 + 1_000_000;
  for (const a of actors) a.skew = 0;
  for (let round = 0; round < 50 && actors.some((a) => a.phase !== 'done'); round++) {
    for (const a of actors) if (a.phase !== 'done') { await step(a); await checkLiveOwners(); }
  }
  const job = await backend.job();
  if (actors.some((a) => a.phase !== 'done')) fail('job lost: deliveries still unfinished after the drain');
  if (job.status !== 'completed' || job.completions !== 1) fail(`job lost or doubled: status ${job.status}, completions ${job.completions}`);
  if (!opts.clockJumps && renditionFence !== job.fence) fail(`published renditions carry fence ${renditionFence}, the record ${job.fence}`);
  return { staleRejected, grants };
}
