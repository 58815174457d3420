/** What the floodgate run must show, whatever the machine: the checks the CLI and the test share. */
import type { CompareResult } from './run';

export function floodgateViolations(result: CompareResult): string[] {
  const f = result.runs.floodgate;
  const v: string[] = [];
  if (f.completed !== result.messages) v.push(`completed ${f.completed} of ${result.messages}`);
  if (f.refusedConnections !== 0) v.push(`${f.refusedConnections} refused connections`);
  if (f.peakDownstreamConnections > result.downstream.maxConnections) v.push(`peak connections ${f.peakDownstreamConnections} > max_connections ${result.downstream.maxConnections}`);
  if (f.duplicateEffects !== 0) v.push(`${f.duplicateEffects} duplicate effects`);
  if (f.deadLettered !== 0) v.push(`${f.deadLettered} good orders dead-lettered`);
  if (f.drainSeconds === null) v.push('the queue did not drain');
  return v;
}
