/** Human output of a run: the summary table, progress line, rendition download. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { getObjectBytes, type PipelineClients } from './producer';
import type { JobResult, Progress } from './run-jobs';

export const kb = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);

export function detail(j: JobResult): string {
  if (j.status === 'completed') return j.renditions.map((r) => `${r.name} ${r.width}x${r.height} ${r.format} ${kb(r.bytes)}`).join(', ');
  if (j.error) return `${j.error.class}: ${j.error.reason}`;
  return j.status === 'pending' ? 'not finished before the run timed out' : '';
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.min(i === rows[0]!.length - 1 ? 200 : 40, Math.max(...rows.map((r) => (r[i] ?? '').length))));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i]!))).join('  ')).join('\n');
}

export function progressLine(p: Progress): string {
  const done = p.completed + p.failed;
  const width = 24;
  const filled = p.total ? Math.round((done / p.total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${p.total}  submitted ${p.submitted}  completed ${p.completed}  failed ${p.failed}  dead-lettered ${p.deadLettered}  in flight ${p.inFlight}  ${(p.elapsedMs / 1000).toFixed(1)} s`;
}

export async function downloadRenditions(clients: PipelineClients, bucket: string, jobs: readonly JobResult[], outDir: string): Promise<number> {
  let n = 0;
  for (const j of jobs) {
    if (j.status !== 'completed') continue;
    const dir = join(outDir, basename(j.file, extname(j.file)));
    mkdirSync(dir, { recursive: true });
    for (const r of j.renditions) {
      writeFileSync(join(dir, basename(r.key)), await getObjectBytes(clients, bucket, r.key));
      n++;
    }
  }
  return n;
}

