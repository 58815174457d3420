/**
 * The redrive rule on the pure model (model.ts), over random interleavings of claims (plain, and redrives
 * naming some dead-lettered message), completions, failures and releases by whoever holds the claim:
 * a completed key is never claimed again (completions stay <= 1); a failed key is claimed only by a redrive
 * of exactly the message its failure dead-lettered, and then under a larger fence.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyClaim, applyFinish, type IdempotencyRecord } from '../src/idempotency/model';

const MSG = fc.constantFrom('m1', 'm2', 'm3');
const command = fc.oneof(
  fc.record({ type: fc.constant('claim' as const), redriveOf: fc.option(MSG, { nil: undefined }) }),
  fc.record({ type: fc.constant('fail' as const), messageId: MSG }),
  fc.record({ type: fc.constant('complete' as const) }),
  fc.record({ type: fc.constant('release' as const) }),
);

describe('redrive on the model', () => {
  it('only a redrive of the dead-lettered message claims a failed key; nothing claims a completed one', () => {
    let redrivesGranted = 0;
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (cmds) => {
        let rec: IdempotencyRecord | undefined;
        let owner: { id: string; fence: number } | undefined;
        let n = 0;
        const now = 1_000;
        for (const c of cmds) {
          if (c.type === 'claim') {
            const before = rec;
            const id = `o${++n}`;
            const r = applyClaim(rec, { id: 'k', owner: id, payloadHash: 'h', now, leaseExpiresAt: now + 60_000, ...(c.redriveOf ? { redriveOf: c.redriveOf } : {}) });
            const granted = r.outcome.type === 'claimed';
            if (before?.status === 'completed') expect(granted).toBe(false);
            if (before?.status === 'failed') {
              expect(granted).toBe(c.redriveOf !== undefined && c.redriveOf === before.deadLetteredMessageId);
              if (granted) redrivesGranted++;
            }
            if (before?.status === 'in_progress') expect(granted).toBe(false); // the lease has not ended
            if (granted) {
              expect(r.record!.fence).toBeGreaterThan(before?.fence ?? 0);
              expect(r.record!.deadLetteredMessageId).toBeUndefined();
              owner = { id, fence: r.record!.fence };
            }
            rec = r.record;
          } else if (owner) {
            const t = c.type === 'fail' ? { to: 'failed' as const, errorClass: 'AccessDenied', errorReason: 'r', deadLetteredMessageId: c.messageId } : c.type === 'complete' ? { to: 'completed' as const } : { to: 'released' as const };
            const r = applyFinish(rec, owner.id, t, owner.fence);
            expect(r.ok).toBe(true);
            rec = r.record;
            owner = undefined;
          }
          expect(rec?.completions ?? 0).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 2000, seed: 22 },
    );
    // Not vacuous: redrives of failed keys were granted.
    expect(redrivesGranted).toBeGreaterThan(50);
  });
});
