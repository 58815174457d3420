/**
 * `npm run burst -- --compare` end to end, small: the floodgate run's invariants (not its timings), and
 * the JSON interface. The baselines are given a short budget (they wait out 60 s visibility timeouts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { floodgateViolations } from '../../chaos/burst-compare/invariants';
import type { CompareResult } from '../../chaos/burst-compare/run';

it('burst --compare: floodgate completes every order with 0 refused connections, <= max_connections, 0 duplicates, 0 dead-lettered', { timeout: 240_000 }, async () => {
  const report = join(mkdtempSync(join(tmpdir(), 'compare-')), 'report.html');
  const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/burst.ts', '--compare', '--messages', '300', '--run-seconds', '25', '--json', '--report', report], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = stdout.trim().split('\n').at(-1) ?? '';
  expect(last.startsWith('{'), `no JSON line (exit ${code}):\n${stdout}\n${stderr}`).toBe(true);
  const result = JSON.parse(last) as CompareResult;

  expect(Object.keys(result)).toEqual(['downstream', 'messages', 'runs']);
  expect(result.downstream).toEqual({ kind: 'postgres', maxConnections: 100 });
  expect(result.messages).toBe(300);
  expect(Object.keys(result.runs)).toEqual(['unbounded', 'seedSnippet', 'floodgate']);
  for (const run of Object.values(result.runs)) {
    expect(Object.keys(run).sort()).toEqual(['completed', 'deadLettered', 'drainSeconds', 'duplicateEffects', 'peakConcurrentExecutions', 'peakDownstreamConnections', 'refusedConnections']);
  }
  const f = result.runs.floodgate;
  expect(floodgateViolations(result)).toEqual([]);
  expect(f.completed).toBe(300);
  expect(f.refusedConnections).toBe(0);
  expect(f.peakDownstreamConnections).toBeLessThanOrEqual(100);
  // The pool really was used: connections were seen, and the cap held.
  expect(f.peakDownstreamConnections).toBeGreaterThan(0);
  expect(f.peakConcurrentExecutions).toBeLessThanOrEqual(50);
  expect(f.duplicateEffects).toBe(0);
  expect(f.deadLettered).toBe(0);

  expect(existsSync(report)).toBe(true);
  const html = readFileSync(report, 'utf8');
  for (const name of ['unbounded', 'seedSnippet', 'floodgate']) expect(html).toContain(`<h2>${name}</h2>`);
  expect(html).toContain('max_connections 100');
});
