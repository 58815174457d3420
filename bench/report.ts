/**
 * Renders a run as a plain-text table (stdout) and as a self-contained HTML page with inline SVG bar
 * charts (no scripts, no network). Pure functions of the result, so they are tested without running
 * anything.
 */
import type { BenchResult, MachineInfo } from './result';
import { evaluateTargets, type TargetCheck } from './stats';

function f(n: number | null | undefined, digits = 2): string {
  return n == null ? 'n/a' : n.toFixed(digits);
}

export interface RunInfo {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly mode: 'full' | 'quick';
  readonly command: string;
}

/** Fixed-width table: one row per figure, then the targets. */
export function renderTable(r: BenchResult, run: RunInfo): string {
  const rows: [string, string, string][] = [
    ['limit', 'images/s (raw sharp, best of 1..4 parallel)', `${f(r.limit.imagesPerSec)} @${r.limit.bestConcurrency ?? 'n/a'}`],
    ['floodgate', 'images/s | ratio to limit', `${f(r.floodgate.imagesPerSec)} | ${f(r.floodgate.ratioToLimit)}`],
    ['floodgate', "ratio = (workers' CPU share / limit's) x efficiency", r.floodgate.ratioDecomposition ? `(${f(r.floodgate.ratioDecomposition.workerShare)} / ${f(r.floodgate.ratioDecomposition.limitShare)}) x ${f(r.floodgate.ratioDecomposition.efficiency)} = ${f(r.floodgate.ratioDecomposition.predicted)}` : 'n/a'],
    ['floodgate', 'peak RSS per execution MB | DDB req/record', `${f(r.floodgate.peakRssMb, 0)} | ${f(r.floodgate.ddbRequestsPerRecord)}`],
    ...(r.floodgate.variants ?? []).map((v): [string, string, string] => ['(diagnostic)', `floodgate with ${v.setting}: images/s | ratio | peak RSS MB`, `${f(v.imagesPerSec)} | ${f(v.ratioToLimit)} | ${f(v.peakRssMb, 0)}`]),
    ['powertools', 'images/s | ratio to limit', `${f(r.powertools.imagesPerSec)} | ${f(r.powertools.ratioToLimit)}`],
    ['powertools', 'worker CPU efficiency (same formula as floodgate)', f(r.powertools.efficiency ?? null)],
    ['powertools', 'peak RSS per execution MB | DDB req/record', `${f(r.powertools.peakRssMb, 0)} | ${f(r.powertools.ddbRequestsPerRecord)}`],
    ['bounded', `peak RSS MB, ${r.bounded.images} large images, lanes`, `${f(r.bounded.peakRssMb, 0)} (max ${r.bounded.maxInFlightRender ?? 'n/a'} rendering)`],
    ['unbounded', `peak RSS MB, ${r.unbounded.images} large images, Promise.all`, `${f(r.unbounded.peakRssMb, 0)} (max ${r.unbounded.maxInFlightRender ?? 'n/a'} rendering)`],
    ['overhead', `floodgate no-op step: records/s | DDB req/record | WCU/record`, `${f(r.overhead.floodgate.recordsPerSec, 1)} | ${f(r.overhead.floodgate.ddbRequestsPerRecord)} | ${f(r.overhead.floodgate.ddbWriteUnitsPerRecord)}`],
    ['overhead', `powertools no-op step: records/s | DDB req/record | WCU/record`, `${f(r.overhead.powertools.recordsPerSec, 1)} | ${f(r.overhead.powertools.ddbRequestsPerRecord)} | ${f(r.overhead.powertools.ddbWriteUnitsPerRecord)}`],
    ...r.scaling.runs.map((s): [string, string, string] => ['scaling', `${s.jobs} tiny jobs: ms | ms/job | peak RSS MB`, `${s.elapsedMs.toFixed(0)} | ${s.msPerJob.toFixed(3)} | ${s.peakRssMb.toFixed(0)}`]),
    ['coldStart', 'floodgate bundle KB | init ms (median)', `${f(kb(r.coldStart.floodgate.bundleBytes), 0)} | ${f(r.coldStart.floodgate.initMsMedian, 0)}`],
    ['coldStart', 'powertools bundle KB | init ms (median)', `${f(kb(r.coldStart.powertools.bundleBytes), 0)} | ${f(r.coldStart.powertools.initMsMedian, 0)}`],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const lines = [
    `Floodgate benchmark (${run.mode}) ${run.startedAt}, ${(run.durationMs / 1000).toFixed(0)} s, ${machineLine(r.limit.machine)}`,
    ...(r.limit.otherCpuShare !== undefined && r.limit.otherCpuShare > 0.1
      ? [`WARNING: other processes used up to ${(r.limit.otherCpuShare * 100).toFixed(0)}% of the CPU during the limit runs: figures are disturbed; rerun on a quiet machine.`]
      : []),
    ...rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`),
    '',
    'targets:',
    ...evaluateTargets(r).map((t) => `  ${t.status.toUpperCase().padEnd(7)} ${t.description}: ${t.detail}`),
  ];
  const errors = collectErrors(r);
  if (errors.length > 0) lines.push('', 'not measured:', ...errors.map((e) => `  ${e}`));
  return lines.join('\n');
}

function kb(bytes: number | null): number | null {
  return bytes === null ? null : bytes / 1024;
}

export function machineLine(m: MachineInfo): string {
  return `${m.cpus} x ${m.cpuModel}, ${Math.round(m.totalMemMb / 1024)} GB, Node ${m.node}, sharp ${m.sharp} (libvips ${m.libvips}), ${m.platform}`;
}

/** Every section that reported an error, as `section: reason`. */
export function collectErrors(r: BenchResult): string[] {
  const out: string[] = [];
  const add = (name: string, e: string | undefined) => e && out.push(`${name}: ${e}`);
  add('limit', r.limit.error);
  add('floodgate', r.floodgate.error);
  add('powertools', r.powertools.error);
  add('bounded', r.bounded.error);
  add('unbounded', r.unbounded.error);
  add('overhead.floodgate', r.overhead.floodgate.error);
  add('overhead.powertools', r.overhead.powertools.error);
  add('scaling', r.scaling.error);
  add('coldStart.floodgate', r.coldStart.floodgate.error);
  add('coldStart.powertools', r.coldStart.powertools.error);
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

interface Bar {
  readonly label: string;
  readonly value: number | null;
  readonly colour: string;
}

const COLOURS = { limit: '#6b7280', floodgate: '#2563eb', powertools: '#d97706', good: '#059669', bad: '#dc2626' };

/** A horizontal bar chart as an inline SVG; missing values are drawn as "n/a". */
export function barChart(title: string, unit: string, bars: readonly Bar[], digits = 2): string {
  const width = 560;
  const rowH = 28;
  const labelW = 180;
  const top = 28;
  const height = top + bars.length * rowH + 10;
  const max = Math.max(1e-9, ...bars.map((b) => b.value ?? 0));
  const plotW = width - labelW - 90;
  const rows = bars
    .map((b, i) => {
      const y = top + i * rowH;
      const w = b.value === null ? 0 : Math.max(1, (b.value / max) * plotW);
      const text = b.value === null ? 'n/a' : `${b.value.toFixed(digits)} ${unit}`;
      return (
        `<text x="${labelW - 8}" y="${y + 17}" text-anchor="end">${escapeHtml(b.label)}</text>` +
        `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${b.colour}"/>` +
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 17}">${escapeHtml(text)}</text>`
      );
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}" font-family="system-ui, sans-serif" font-size="13">` +
    `<text x="0" y="16" font-weight="600">${escapeHtml(title)}</text>${rows}</svg>`
  );
}

/** A line chart of scaling runs: x = jobs, two series normalised to their first point. */
function scalingChart(r: BenchResult): string {
  const runs = r.scaling.runs;
  if (runs.length < 2) return '<p>scaling: not enough runs to chart.</p>';
  const width = 560;
  const height = 220;
  const pad = { l: 50, r: 20, t: 30, b: 40 };
  const xs = runs.map((s) => s.jobs);
  const t = runs.map((s) => s.msPerJob / runs[0]!.msPerJob);
  const m = runs.map((s) => s.peakRssMb / runs[0]!.peakRssMb);
  const yMax = Math.max(2, ...t, ...m);
  const xMax = Math.max(...xs);
  const X = (x: number) => pad.l + (x / xMax) * (width - pad.l - pad.r);
  const Y = (y: number) => height - pad.b - (y / yMax) * (height - pad.t - pad.b);
  const line = (ys: number[], colour: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${xs.map((x, i) => `${X(x).toFixed(1)},${Y(ys[i]!).toFixed(1)}`).join(' ')}"/>` +
    xs.map((x, i) => `<circle cx="${X(x).toFixed(1)}" cy="${Y(ys[i]!).toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  const ticks = xs.map((x) => `<text x="${X(x).toFixed(1)}" y="${height - pad.b + 16}" text-anchor="middle">${x}</text>`).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="scaling" font-family="system-ui, sans-serif" font-size="12">` +
    `<text x="0" y="16" font-weight="600">Scaling: ms per job and peak RSS, relative to the ${xs[0]}-job run (flat = 1)</text>` +
    `<line x1="${pad.l}" y1="${Y(1)}" x2="${width - pad.r}" y2="${Y(1)}" stroke="#9ca3af" stroke-dasharray="4 3"/>` +
    `<text x="${pad.l - 6}" y="${Y(1) + 4}" text-anchor="end">1x</text>` +
    `<line x1="${pad.l}" y1="${Y(2)}" x2="${width - pad.r}" y2="${Y(2)}" stroke="#e5e7eb"/>` +
    `<text x="${pad.l - 6}" y="${Y(2) + 4}" text-anchor="end">2x</text>` +
    line(t, COLOURS.floodgate) +
    line(m, COLOURS.good) +
    ticks +
    `<text x="${width / 2}" y="${height - 6}" text-anchor="middle">jobs</text>` +
    `<text x="${width - pad.r}" y="${pad.t}" text-anchor="end" fill="${COLOURS.floodgate}">ms/job</text>` +
    `<text x="${width - pad.r}" y="${pad.t + 14}" text-anchor="end" fill="${COLOURS.good}">peak RSS</text>` +
    `</svg>`
  );
}

function targetRow(t: TargetCheck): string {
  const colour = t.status === 'pass' ? COLOURS.good : t.status === 'fail' ? COLOURS.bad : COLOURS.limit;
  return `<tr><td style="color:${colour};font-weight:600">${t.status.toUpperCase()}</td><td>${escapeHtml(t.description)}</td><td>${escapeHtml(t.detail)}</td></tr>`;
}

/** The whole report page. `notes` are free-text findings (e.g. profiling) shown under the targets. */
export function renderHtml(r: BenchResult, run: RunInfo, notes: readonly string[] = []): string {
  const charts = [
    barChart('Throughput (images/s, higher is better)', 'img/s', [
      { label: 'limit (raw sharp)', value: r.limit.imagesPerSec, colour: COLOURS.limit },
      { label: 'floodgate', value: r.floodgate.imagesPerSec, colour: COLOURS.floodgate },
      { label: 'powertools', value: r.powertools.imagesPerSec, colour: COLOURS.powertools },
    ]),
    barChart('Peak RSS per execution, end to end (MB, lower is better)', 'MB', [
      { label: 'floodgate', value: r.floodgate.peakRssMb, colour: COLOURS.floodgate },
      { label: 'powertools', value: r.powertools.peakRssMb, colour: COLOURS.powertools },
    ], 0),
    barChart(`Peak RSS, one batch of ${r.bounded.images} large images (MB)`, 'MB', [
      { label: 'bounded (lanes)', value: r.bounded.peakRssMb, colour: COLOURS.floodgate },
      { label: 'unbounded (Promise.all)', value: r.unbounded.peakRssMb, colour: COLOURS.bad },
    ], 0),
    barChart('DynamoDB requests per record (lower is better)', 'req', [
      { label: 'floodgate e2e', value: r.floodgate.ddbRequestsPerRecord, colour: COLOURS.floodgate },
      { label: 'powertools e2e', value: r.powertools.ddbRequestsPerRecord, colour: COLOURS.powertools },
      { label: 'floodgate no-op', value: r.overhead.floodgate.ddbRequestsPerRecord, colour: COLOURS.floodgate },
      { label: 'powertools no-op', value: r.overhead.powertools.ddbRequestsPerRecord, colour: COLOURS.powertools },
    ]),
    barChart('Overhead: no-op image step (records/s, higher is better)', 'rec/s', [
      { label: 'floodgate', value: r.overhead.floodgate.recordsPerSec, colour: COLOURS.floodgate },
      { label: 'powertools', value: r.overhead.powertools.recordsPerSec, colour: COLOURS.powertools },
    ], 1),
    scalingChart(r),
    barChart('Cold start: module init, median (ms, lower is better)', 'ms', [
      { label: 'floodgate', value: r.coldStart.floodgate.initMsMedian, colour: COLOURS.floodgate },
      { label: 'powertools', value: r.coldStart.powertools.initMsMedian, colour: COLOURS.powertools },
    ], 0),
    barChart('Bundle size (KB, lower is better)', 'KB', [
      { label: 'floodgate', value: kb(r.coldStart.floodgate.bundleBytes), colour: COLOURS.floodgate },
      { label: 'powertools', value: kb(r.coldStart.powertools.bundleBytes), colour: COLOURS.powertools },
    ], 0),
  ];
  const errors = collectErrors(r);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Floodgate benchmark</title>
<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#111}
.grid{display:flex;flex-wrap:wrap;gap:24px}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #e5e7eb;text-align:left}
pre{background:#f3f4f6;padding:1em;overflow:auto}</style></head><body>
<h1>Floodgate benchmark</h1>
<p>${escapeHtml(run.mode)} run started ${escapeHtml(run.startedAt)}, took ${(run.durationMs / 1000).toFixed(0)} s, command <code>${escapeHtml(run.command)}</code>.<br>
Machine: ${escapeHtml(machineLine(r.limit.machine))}. Ratios measured side by side in the same run matter; absolute figures depend on the machine.</p>
${r.limit.otherCpuShare !== undefined && r.limit.otherCpuShare > 0.1 ? `<p style="color:${COLOURS.bad};font-weight:600">Other processes used up to ${(r.limit.otherCpuShare * 100).toFixed(0)}% of the CPU during the limit runs: these figures are disturbed; rerun on a quiet machine.</p>` : ''}
<h2>Targets</h2>
<table><tr><th>status</th><th>target</th><th>measured</th></tr>${evaluateTargets(r).map(targetRow).join('')}</table>
${notes.length ? `<h2>Findings</h2><ul>${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
${errors.length ? `<h2>Not measured</h2><ul>${errors.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>` : ''}
<h2>Charts</h2>
<div class="grid">${charts.join('\n')}</div>
<h2>Raw result</h2>
<pre>${escapeHtml(JSON.stringify(r, null, 2))}</pre>
</body></html>
`;
}
