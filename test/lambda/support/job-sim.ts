/**
 * A simulation of many deliveries ("actors") of ONE job racing through claim -> put renditions ->
 * complete, under random interleavings with crashes, pauses (an actor simply not scheduled) and clock
 * jumps. The job record IS the claim (one item): the same command list runs against the pure model
 * (idempotency/model.ts) or against DynamoDB Local through the real adapter (the worker's jobs store).
 * Invariants are checked after every step and at the end.
 */
import { randomUUID } from 'node:crypto';
import { applyClaim, applyFinish, type IdempotencyRecord } from '@floodgate/runtime/idempotency';

export type ClaimRes = { type: 'claimed'; owner: string; fence: number } | { type: 'completed' | 'failed' | 'in-progress' | 'payload-mismatch' };
export interface JobBackend {
  claim(now: number, leaseExpiresAt: number): Promise<ClaimRes>;
  /** Completion conditioned on owner + fence (what the worker does: one write). */
  complete(owner: string, fence: number, now: number): Promise<boolean>;
  release(owner: string, fence: number, now: number): Promise<boolean>;
  /** The record's current in-progress owner (for the "two live owners" invariant). */
  currentOwner(): Promise<string | undefined>;
  job(): Promise<{ status?: string; fence?: number; completions: number }>;
}

export class ModelJobBackend implements JobBackend {
  /** Starts as the job API leaves it: `queued` (released), no payload hash, no fence. */
  private rec: IdempotencyRecord | undefined = { id: 'job', status: 'released', fence: 0, leaseExpiresAt: 0 };
  async claim(now: number, leaseExpiresAt: number): Promise<ClaimRes> {
    const owner = randomUUID();
    const r = applyClaim(this.rec, { id: 'job', owner, payloadHash: 'h', now, leaseExpiresAt });
    this.rec = r.record;
    return r.outcome.type === 'claimed' ? { type: 'claimed', owner, fence: r.outcome.fence } : { type: r.outcome.type };
  }
  async complete(owner: string, fence: number) {
    const r = applyFinish(this.rec, owner, { to: 'completed' }, fence);
    this.rec = r.record;
    return r.ok;
  }
  async release(owner: string, fence: number) {
    const r = applyFinish(this.rec, owner, { to: 'released' }, fence);
    this.rec = r.record;
    return r.ok;
  }
  async currentOwner() { return this.rec?.status === 'in_progress' ? this.rec.owner : undefined; }
  async job() {
    const status = this.rec?.status === 'completed' ? 'completed' : this.rec?.status;
    return { ...(status ? { status } : {}), ...(this.rec?.fence ? { fence: this.rec.fence } : {}), completions: this.rec?.completions ?? 0 };
  }
}

export type Command =
  | { kind: 'step'; actor: number }
  | { kind: 'crash'; actor: number }
  | { kind: 'jump'; actor: number; ms: number }
  | { kind: 'advance'; ms: number };

type Phase = 'idle' | 'claimed' | 'put' | 'done';
interface Actor { phase: Phase; owner?: string; fence?: number; lease?: number; skew: number }

export interface SimOptions {
  readonly actors: number;
  readonly leaseMs: number;
  /** When false, clock jumps are ignored (then published renditions must carry the record's fence). */
  readonly clockJumps: boolean;
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
    if (a.lease !== undefined && now >= a.lease) {
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
      case 'claimed':
        // The renditions go out with the fence in their metadata (only before the lease ends: checked above).
        renditionFence = a.fence!;
        a.phase = 'put';
        return;
      case 'put': {
        if (await backend.complete(a.owner!, a.fence!, now)) { accepted(a.fence!); a.phase = 'done'; }
        else { staleRejected++; reset(a); }
        return;
      }
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
