/**
 * A smaller, seeded event-path chaos run (the same code as `npm run chaos:events`): 100 events over SNS
 * (raw and enveloped), EventBridge, S3 notifications and a DynamoDB stream into bounded consumers with
 * idempotency on the local stack, published in one burst before the pollers start (every consumer at its
 * cap), with killed environments, pauses, SDK-level AWS errors, held and dropped responses, duplicates
 * and poison events; and 2 events on the policy-less paths (an SNS subscription and an EventBridge rule
 * target to a queue with no queue policy). Every invariant must hold: both of those denied and counted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formatEventReport } from '../../chaos/event-paths/invariants';
import { runEventChaos, synthEventPathsApp } from '../../chaos/event-paths/run';
import { localEndpoints } from '../support/local-env';

let assemblyDir = '';
beforeAll(async () => {
  assemblyDir = await synthEventPathsApp();
}, 180_000);

describe('event-path chaos (100 events, seeded)', () => {
  it('every event takes effect once or is dead-lettered with its reason; no double effect, no cap breach, stale writes refused', async () => {
    const lines: string[] = [];
    const result = await runEventChaos({
      events: 100,
      seed: 20261206,
      endpoints: localEndpoints(),
      assemblyDir,
      // Three times the default kill rate: a small run must still see killed invocations most of the time.
      rates: { killRate: 0.15 },
      // An upper bound: a quiet 2-core machine settles in about a minute; at load average 24 (8 sessions on
      // 2 cores) it took 115 to 160 s, with most batches running into their soft deadline.
      timeBudgetMs: 240_000,
      log: (l) => lines.push(l),
    });
    const { report, failures, details } = result.verdict;
    const summary = `${formatEventReport(report)}\n${JSON.stringify(details.byPath)}\n${JSON.stringify(result.logEvents)} ${JSON.stringify(result.recordFailures)}\n${lines.slice(-6).join('\n')}`;
    expect(result.settled, summary).toBe(true);
    expect(failures, summary).toEqual([]);
    expect(report).toMatchObject({ events: 100, poison: 5, poisonInDlqWithReason: 5, lost: 0, doubleEffects: 0, capBreaches: 0, staleFencedWritesAccepted: 0, consumers: 5, consumersAtCap: 5 });
    expect(report.effectOnce + report.goodDeadLetteredWithReason).toBe(95);
    expect(report.staleFencedWritesRejected).toBeGreaterThan(0);
    for (const p of ['sns-raw', 'sns-envelope', 'eventbridge', 's3', 'dynamodb-stream']) expect(details.byPath[p], p).toMatchObject({ events: 20, poison: 1, poisonInDlqWithReason: 1, lost: 0 });
    // Duplicates were published and skipped by the idempotency records.
    expect(result.publishes).toBeGreaterThan(100);
    expect(result.logEvents['duplicate skipped']).toBeGreaterThan(0);
    expect(result.staleHolderProbe).toMatchObject({ rejected: result.staleHolderProbe.attempts, accepted: 0, recordsChanged: 0 });
    // The policy-less paths: each event denied, counted by the stack and by SNS / EventBridge, no effect.
    expect(report).toMatchObject({ policyLessEvents: 2, deniedDeliveries: 2, deliveredWithoutGrant: 0 });
    expect(details.denied.paths).toEqual([{ path: 'sns-no-policy', sent: 1, counted: 1 }, { path: 'eventbridge-no-policy', sent: 1, counted: 1 }]);
    expect(details.denied.latest?.message).toMatch(/is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:\S+ because no resource-based policy allows the sqs:sendmessage action/);
  }, 330_000);
});
