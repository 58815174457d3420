/** fast-check generators of actor schedules for the job and lock simulations. */
import fc from 'fast-check';
import type { Command } from './job-sim';
import type { LockCommand } from './lock-sim';

export const LEASE = 10_000;
export const jobCommands = (actors: number, max: number) =>
  fc.array(
    fc.oneof(
      { weight: 10, arbitrary: fc.record({ kind: fc.constant('step' as const), actor: fc.nat(actors - 1) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), actor: fc.nat(actors - 1) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('jump' as const), actor: fc.nat(actors - 1), ms: fc.integer({ min: -3 * LEASE, max: 3 * LEASE }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 2 * LEASE }) }) },
    ),
    { minLength: Math.floor(max / 2), maxLength: max },
  ) as fc.Arbitrary<Command[]>;

export const lockCommands = (actors: number, max: number) =>
  fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('acquire' as const, 'renew' as const, 'write' as const), actor: fc.nat(actors - 1) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('release' as const, 'crash' as const), actor: fc.nat(actors - 1) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('jump' as const), actor: fc.nat(actors - 1), ms: fc.integer({ min: -3 * LEASE, max: 3 * LEASE }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 2 * LEASE }) }) },
    ),
    { minLength: Math.floor(max / 2), maxLength: max },
  ) as fc.Arbitrary<LockCommand[]>;

