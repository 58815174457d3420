/** Property tests on the pure models: many actors, random interleavings, crashes, pauses, clock jumps. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelJobBackend, runJobSimulation } from '../../../test/lambda/support/job-sim';
import { ModelLockBackend, runLockSimulation } from '../../../test/lambda/support/lock-sim';
import { jobCommands, LEASE, lockCommands } from '../../../test/lambda/support/sim-arbitraries';

describe('the job record as the claim: claim takes the fence, completion needs owner + fence (model)', () => {
  it('with crashes, pauses and clock jumps: no two live owners, no stale write accepted, the job completes exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), jobCommands(6, 120), async (actors, cmds) => {
        await runJobSimulation(new ModelJobBackend(), cmds, { actors, leaseMs: LEASE, clockJumps: true });
      }),
      { numRuns: 400 },
    );
  });
  it('with agreeing clocks the published renditions always carry the record fence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), jobCommands(6, 120), async (actors, cmds) => {
        await runJobSimulation(new ModelJobBackend(), cmds, { actors, leaseMs: LEASE, clockJumps: false });
      }),
      { numRuns: 400 },
    );
  });
  it('really exercises stale owners (the properties are not vacuous)', async () => {
    let stale = 0;
    let multiGrant = 0;
    await fc.assert(
      fc.asyncProperty(jobCommands(4, 150), async (cmds) => {
        const r = await runJobSimulation(new ModelJobBackend(), cmds, { actors: 4, leaseMs: LEASE, clockJumps: true });
        stale += r.staleRejected;
        if (r.grants > 1) multiGrant++;
      }),
      { numRuns: 300, seed: 42 },
    );
    expect(stale).toBeGreaterThan(0);
    expect(multiGrant).toBeGreaterThan(10);
  });
});

describe('lease lock with fencing (model)', () => {
  it('with agreeing clocks: never two live owners, fences strictly increase, the register never goes back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), lockCommands(6, 150), async (actors, cmds) => {
        await runLockSimulation(new ModelLockBackend(LEASE), cmds, { actors, leaseMs: LEASE, clockJumps: false });
      }),
      { numRuns: 400 },
    );
  });
  it('with clock jumps the fence still rejects every stale holder', async () => {
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), lockCommands(6, 150), async (actors, cmds) => {
        rejected += (await runLockSimulation(new ModelLockBackend(LEASE), cmds, { actors, leaseMs: LEASE, clockJumps: true })).writesRejected;
      }),
      { numRuns: 400, seed: 7 },
    );
    // Clock jumps do produce overlapping believers; the fence is what stops them.
    expect(rejected).toBeGreaterThan(0);
  });
});
