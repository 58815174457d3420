/**
 * `npm run burst -- --compare [--messages N] [--json] [--report FILE] [--run-seconds T] [--ceiling C] [--work-ms W]`
 *
 * The seed's scenario, measured (see burst-compare/run.ts): N orders (default 2,000) three ways against
 * one PostgreSQL with max_connections 100. Prints a table; writes a report page with the three runs side
 * by side (queue depth, executions, Postgres connections against max_connections). --json: the last stdout
 * line is one object { downstream, messages, runs: { unbounded, seedSnippet, floodgate } }.
 * Exit code 0 when the floodgate run holds its invariants and the unbounded run met refused connections.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { renderCompareReport } from './burst-compare/report';
import { DEFAULT_UNBOUNDED_CEILING, runCompare } from './burst-compare/run';
import { floodgateViolations } from './burst-compare/invariants';
import { RUN_NAMES } from './burst-compare/stacks';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      compare: { type: 'boolean', default: false },
      messages: { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
      report: { type: 'string', default: 'report-compare.html' },
      'run-seconds': { type: 'string', default: '900' },
      ceiling: { type: 'string', default: String(DEFAULT_UNBOUNDED_CEILING) },
      'work-ms': { type: 'string', default: '500' },
    },
  });
  const messages = Number(values.messages);
  const runSeconds = Number(values['run-seconds']);
  const ceiling = Number(values.ceiling);
  const workMs = Number(values['work-ms']);
  if (!Number.isInteger(messages) || messages < 1 || !(runSeconds > 0) || !Number.isInteger(ceiling) || ceiling < 1 || !Number.isInteger(workMs) || workMs < 0) {
    process.stderr.write('usage: npm run burst -- --compare [--messages N>=1] [--json] [--report FILE] [--run-seconds T] [--ceiling C] [--work-ms W]\n');
    return 2;
  }
  const err = (s: string) => process.stderr.write(`${s}\n`);
  const { result, timelines, postgres } = await runCompare({ messages, runSeconds, unboundedCeiling: ceiling, workMs, log: err });
  const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  writeFileSync(values.report, renderCompareReport({ result, timelines, machine, postgres, runSeconds, ceiling, workMs }));

  const out = (s: string) => process.stdout.write(`${s}\n`);
  const keys = ['completed', 'peakDownstreamConnections', 'refusedConnections', 'duplicateEffects', 'deadLettered', 'peakConcurrentExecutions', 'drainSeconds'] as const;
  out(`${'run'.padEnd(28)}${RUN_NAMES.map((n) => n.padStart(14)).join('')}`);
  for (const k of keys) out(`${k.padEnd(28)}${RUN_NAMES.map((n) => String(result.runs[n][k] ?? 'not drained').padStart(14)).join('')}`);
  const violations = floodgateViolations(result);
  const reproduced = result.runs.unbounded.refusedConnections > 0;
  out(`machine: ${machine}; PostgreSQL ${postgres.version} (${postgres.binaries}); report: ${values.report}`);
  out(violations.length === 0 ? 'floodgate: every invariant held' : `floodgate: FAILED: ${violations.join('; ')}`);
  out(reproduced ? `unbounded: ${result.runs.unbounded.refusedConnections} refused connections (the seed's failure, reproduced)` : 'unbounded: no refused connection (the failure was NOT reproduced)');
  if (values.json) out(JSON.stringify(result));
  return violations.length === 0 && reproduced ? 0 : 1;
}
