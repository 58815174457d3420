/**
 * `npm run chaos:events -- [--events N] [--seed S] [--json] [--budget-seconds T]`
 * The event-path chaos run (chaos/event-paths/run.ts): a burst of N events over SNS (raw and enveloped),
 * EventBridge, S3 notifications and a DynamoDB stream into bounded consumers with idempotency, under
 * faults, plus events on two paths without their grant (denied, and counted). Prints the invariant report; with --json the LAST line of stdout is one JSON object. Exit code 1
 * when an invariant fails (or the run did not settle in its budget), 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { formatEventReport } from './event-paths/invariants';
import { runEventChaos } from './event-paths/run';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'budget-seconds': { type: 'string', default: '540' },
  },
});
const events = Number(values.events);
const seed = Number(values.seed);
const budget = Number(values['budget-seconds']);
if (!Number.isInteger(events) || events < 1 || !Number.isInteger(seed) || !(budget > 0)) {
  process.stderr.write('usage: npm run chaos:events -- [--events N>=1] [--seed INT] [--json] [--budget-seconds T]\n');
  process.exit(2);
}
const result = await runEventChaos({ events, seed, timeBudgetMs: budget * 1000, log: (l) => process.stderr.write(`${l}\n`) });
const { report, details } = result.verdict;
const probe = result.staleHolderProbe;
const probeOk = probe.accepted === 0 && probe.recordsChanged === 0 && probe.rejected === probe.attempts;
const failures = [...result.verdict.failures, ...(probeOk ? [] : [`staleHolderProbe ${JSON.stringify(probe)}`])];
const out = (s: string) => process.stdout.write(`${s}\n`);
out(`paths: ${Object.entries(details.byPath).map(([p, r]) => `${p} ${JSON.stringify(r)}`).join('; ')}`);
out(`local overrides: ${Object.entries(result.overrides).map(([k, v]) => `${k} ${v}`).join('; ') || 'none'}`);
out(`faults: ${JSON.stringify(result.faults)}; publishes ${result.publishes}; invocations ${result.invocations}; killed ${(result.killedShare * 100).toFixed(1)}% of invocations`);
out(`burst: ${report.events} events published in ${result.burstPublishMs} ms before the pollers started; log events: ${JSON.stringify(result.logEvents)}; record failures by class: ${JSON.stringify(result.recordFailures)}`);
out(`failed-message queues by path and class: ${JSON.stringify(result.failedMessageClasses)}`);
out(`consumers (cap, max concurrent): ${details.concurrency.map((c) => `${c.path} ${c.cap}/${c.maxConcurrentExecutions}`).join('; ')}`);
if (result.network) out(`network faults (consumers <-> DynamoDB, seeded): rates ${JSON.stringify(result.network.rates)}; ${JSON.stringify(result.network.stats)}`);
out(`denied deliveries: ${report.deniedDeliveries} counted by the stack${details.denied.enforced ? '' : ' (resource policies NOT enforced: iam off)'}; policy-less paths (sent/counted): ${details.denied.paths.map((p) => `${p.path} ${p.sent}/${p.counted}`).join('; ')}; delivered without a grant ${report.deliveredWithoutGrant}; EventBridge FailedInvocations (all rules) ${result.eventBridgeFailedInvocations}`);
if (details.denied.latest) out(`latest denial: ${details.denied.latest.service} ${details.denied.latest.action} on ${details.denied.latest.resource} from ${details.denied.latest.sourceArn}: ${details.denied.latest.message}`);
out(formatEventReport(report));
out(`stale-holder probe (older-fence completions replayed after the run): ${probe.rejected}/${probe.attempts} rejected, ${probe.accepted} accepted, ${probe.recordsChanged} records changed`);
if (!result.settled) out('NOT SETTLED: the time budget ran out before every event reached its end state');
if (failures.length > 0) for (const f of failures) out(`INVARIANT FAILED: ${f}`);
else out('all invariants hold');
if (values.json) {
  out(JSON.stringify({ ...report, passed: failures.length === 0 && result.settled, deniedDeliveriesCheck: details.denied, byPath: details.byPath, consumers: details.concurrency, staleHolderProbe: probe, network: result.network, failures, details: { lost: details.lost.slice(0, 20), doubleEffects: details.doubleEffects.slice(0, 20), poisonMissing: details.poisonMissing.slice(0, 20) } }));
}
process.exit(failures.length === 0 && result.settled ? 0 : 1);
