/**
 * A smaller, seeded chaos run (the same code as `npm run chaos`): 100 jobs through the job API into the
 * bundled worker on the local stack, with crashes, pauses, SDK-level AWS errors, duplicate submissions
 * and poison jobs. Every invariant must hold.
 */
import { describe, expect, it } from 'vitest';
import { formatReport } from '../../chaos/invariants';
import { runChaos } from '../../chaos/run-chaos';
import { localEndpoints } from '../support/local-env';
import { testAssembly } from './assembly';

describe('chaos (100 jobs, seeded)', () => {
  it('loses nothing, does nothing twice, holds the cap, dead-letters every poison job with its reason', async () => {
    const assemblyDir = await testAssembly();
    const lines: string[] = [];
    const result = await runChaos({
      jobs: 100,
      seed: 20261123,
      endpoints: localEndpoints(),
      assemblyDir,
      // Twice the default kill rate: a small run must still see killed invocations most of the time.
      rates: { killRate: 0.1 },
      timeBudgetMs: 110_000,
      log: (l) => lines.push(l),
    });
    const { report, failures } = result.verdict;
    const summary = `${formatReport(report)}\n${JSON.stringify(result.logEvents)}\n${lines.slice(-5).join('\n')}`;
    expect(result.settled, summary).toBe(true);
    expect(failures, summary).toEqual([]);
    expect(report.jobs).toBe(100);
    expect(report.poison).toBe(2);
    expect(report.completed).toBe(98);
    expect(report.maxConcurrentExecutions).toBeGreaterThan(1);
    // 10 % of the jobs were submitted again (API replays and duplicate SQS messages).
    expect(result.submissions).toBeGreaterThan(100);
    expect(result.producer).toBe('api');
    // A holder resuming after a newer owner completed: every such write is rejected, nothing changes.
    expect(result.staleHolderProbe).toEqual({ attempts: 5, rejected: 5, accepted: 0, recordsChanged: 0 });
  }, 170_000);
});
