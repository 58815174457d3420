/**
 * `npm run chaos -- [--jobs N] [--seed S] [--json] [--no-api] [--budget-seconds T]`
 * Prints the invariant report; with --json the LAST line of stdout is one JSON object. Exit code 1 when
 * an invariant fails (or the run could not settle in its time budget), 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { formatReport } from './invariants';
import { runChaos } from './run-chaos';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'no-api': { type: 'boolean', default: false },
    'budget-seconds': { type: 'string', default: '540' },
  },
});
const jobs = Number(values.jobs);
const seed = Number(values.seed);
const budget = Number(values['budget-seconds']);
if (!Number.isInteger(jobs) || jobs < 1 || !Number.isInteger(seed) || !(budget > 0)) {
  process.stderr.write('usage: npm run chaos -- [--jobs N>=1] [--seed INT] [--json] [--no-api] [--budget-seconds T]\n');
  process.exit(2);
}
// Progress goes to stderr so that stdout stays the report (and the JSON line last).
const result = await runChaos({ jobs, seed, useApi: !values['no-api'], timeBudgetMs: budget * 1000, log: (l) => process.stderr.write(`${l}\n`) });
const { report, details } = result.verdict;
const probe = result.staleHolderProbe;
const probeOk = probe.accepted === 0 && probe.recordsChanged === 0 && probe.rejected === probe.attempts;
const lock = result.lockSingleton;
const failures = [
  ...result.verdict.failures,
  ...(probeOk ? [] : [`staleHolderProbe ${JSON.stringify(probe)}`]),
  // The network faults exist to make stale writes happen in the run: none happening is a failed run too.
  ...(result.network && report.staleFencedWritesRejected === 0 ? ['staleFencedWritesRejected = 0: no held write reached the storage after a newer owner'] : []),
  ...(lock && !lock.passed ? [`lockSingleton ${JSON.stringify(lock)}`] : []),
];
const out = (s: string) => process.stdout.write(`${s}\n`);
out(`producer: ${result.producer === 'api' ? 'through the job API (local front, SigV4 signed)' : 'direct: S3 PutObject + job record + SendMessage (no HTTP API in the template)'}`);
out(`local overrides: ${Object.entries(result.overrides).map(([k, v]) => `${k} ${v}`).join('; ') || 'none'}`);
out(`faults: ${JSON.stringify(result.faults)}; submissions ${result.submissions}; invocations ${result.invocations}; killed ${(result.killedShare * 100).toFixed(1)}% of invocations`);
out(`log events: ${JSON.stringify(result.logEvents)}; API retries by status: ${JSON.stringify(result.apiRetries)}`);
out(`DLQ by class: ${JSON.stringify(result.deadLetterClasses)}`);
if (result.network) out(`network faults (worker <-> DynamoDB/S3, seeded): rates ${JSON.stringify(result.network.rates)}; ${JSON.stringify(result.network.stats)}`);
if (lock) out(`LockTable singleton: ${lock.holders} holders, ${lock.grants} grants (${lock.pausedHolders} paused past their lease), max live holders ${lock.maxLiveHolders}, stale writes rejected ${lock.staleWritesRejected}, accepted ${lock.staleWritesAccepted}; network ${JSON.stringify(lock.network)}`);
out(formatReport(report));
out(`stale-holder probe (older-fence completions replayed after the run): ${probe.rejected}/${probe.attempts} rejected, ${probe.accepted} accepted, ${probe.recordsChanged} records changed`);
if (!result.settled) out('NOT SETTLED: the time budget ran out before every job reached its end state');
if (failures.length > 0) for (const f of failures) out(`INVARIANT FAILED: ${f}`);
else out('all invariants hold');
if (values.json) out(JSON.stringify({ ...report, passed: failures.length === 0 && result.settled, producer: result.producer, staleHolderProbe: probe, network: result.network, lockSingleton: lock, failures, details: { ...details, lostJobs: details.lostJobs.slice(0, 20) } }));
process.exit(failures.length === 0 && result.settled ? 0 : 1);
