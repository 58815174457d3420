/**
 * Many actors contending for ONE lease lock and writing to a fenced register under their grants, with
 * crashes (an actor forgets its grant), pauses (not scheduled), clock jumps and time advancing. Runs
 * against the pure model (lock/model.ts) or the DynamoDB adapter (LeaseLock).
 */
import { randomUUID } from 'node:crypto';
import { applyAcquire, applyRelease, applyRenew, type Grant, type LockRecord } from '@floodgate/runtime/lock';

export interface LockBackend {
  tryAcquire(actor: number, now: number): Promise<Grant | undefined>;
  renew(actor: number, grant: Grant, now: number): Promise<Grant | undefined>;
  release(actor: number, grant: Grant, now: number): Promise<boolean>;
}

export class ModelLockBackend implements LockBackend {
  private rec: LockRecord | undefined;
  constructor(private readonly leaseMs: number) {}
  async tryAcquire(actor: number, now: number) {
    const r = applyAcquire(this.rec, 'k', `actor-${actor}`, randomUUID(), now, this.leaseMs);
    this.rec = r.record;
    return r.grant;
  }
  async renew(_actor: number, grant: Grant, now: number) {
    const r = applyRenew(this.rec, grant, now, this.leaseMs);
    this.rec = r.record;
    return r.grant;
  }
  async release(_actor: number, grant: Grant) {
    const r = applyRelease(this.rec, grant);
    this.rec = r.record;
    return r.ok;
  }
}

export type LockCommand =
  | { kind: 'acquire' | 'renew' | 'release' | 'write' | 'crash'; actor: number }
  | { kind: 'jump'; actor: number; ms: number }
  | { kind: 'advance'; ms: number };

export interface LockSimResult { grants: number; writesAccepted: number; writesRejected: number }

export async function runLockSimulation(backend: LockBackend, commands: readonly LockCommand[], opts: { actors: number; leaseMs: number; clockJumps: boolean }): Promise<LockSimResult> {
  let T = 1_700_000_000_000;
  const skew = new Array<number>(opts.actors).fill(0);
  const held: (Grant | undefined)[] = new Array(opts.actors).fill(undefined);
  let lastFence = 0;
  let registerFence = 0; // the fenced storage: accepts a write only if no newer fence has written
  let grants = 0;
  let writesAccepted = 0;
  let writesRejected = 0;
  const fail = (msg: string): never => { throw new Error(`invariant violated: ${msg}`); };

  for (const c of commands) {
    if (c.kind === 'advance') { T += c.ms; continue; }
    const i = c.actor % opts.actors;
    const now = T + skew[i]!;
    switch (c.kind) {
      case 'jump': if (opts.clockJumps) skew[i]! += c.ms; break;
      case 'crash': held[i] = undefined; break;
      case 'acquire': {
        if (held[i]) break;
        const g = await backend.tryAcquire(i, now);
        if (g) {
          if (g.fence <= lastFence) fail(`fence ${g.fence} not above ${lastFence}`);
          lastFence = g.fence;
          grants++;
          held[i] = g;
        }
        break;
      }
      case 'renew': {
        const g = held[i];
        if (!g) break;
        const r = await backend.renew(i, g, now);
        if (r) {
          // A successful renewal must belong to the newest grant: nobody took the lease in between.
          if (r.fence !== lastFence) fail(`renewal by fence ${r.fence} while fence ${lastFence} was granted`);
          held[i] = r;
        } else held[i] = undefined; // lease lost: the holder's signal fires and it stops
        break;
      }
      case 'release': {
        const g = held[i];
        if (!g) break;
        await backend.release(i, g, now);
        held[i] = undefined;
        break;
      }
      case 'write': {
        const g = held[i];
        if (!g) break;
        if (now >= g.leaseExpiresAt) { held[i] = undefined; break; } // the lost-lease timer fired first
        if (g.fence >= registerFence) { registerFence = g.fence; writesAccepted++; }
        else writesRejected++;
        break;
      }
    }
    if (!opts.clockJumps) {
      // With agreeing clocks, at most one holder's lease is live at any instant.
      const live = held.filter((g) => g !== undefined && g.leaseExpiresAt > T);
      if (live.length > 1) fail(`${live.length} live owners at T=${T}: fences ${live.map((g) => g!.fence).join(',')}`);
    }
  }
  return { grants, writesAccepted, writesRejected };
}
