/**
 * report.html: a self-contained page (inline SVG, no scripts, no network) with the backpressure picture
 * of a run: queue depth, in-flight executions against the cap, completions and failures over time.
 */
export interface TimelineSample {
  /** ms since the run started. */
  readonly t: number;
  readonly visible: number;
  readonly inFlightMessages: number;
  readonly inFlightExecutions?: number;
  readonly deadLettered: number;
  readonly completed: number;
  readonly failed: number;
}

export interface ReportInput {
  readonly title: string;
  readonly samples: readonly TimelineSample[];
  readonly concurrencyCap?: number;
  readonly summary: Readonly<Record<string, string | number>>;
  /** `thumbnail`: a data: URI (the page stays self-contained), shown next to the row. */
  readonly jobs: ReadonlyArray<{ file: string; status: string; detail: string; thumbnail?: string }>;
}

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly dashed?: boolean;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  // Multiples whose quarters are whole numbers, so the grid labels of counts stay integers.
  for (const m of [1, 2, 4, 8, 10]) if (m * p >= v && Number.isInteger((m * p) / 4)) return m * p;
  for (const m of [1, 2, 4, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Fixed axis ranges, so that charts placed side by side compare at a glance. */
export interface ChartAxes {
  readonly tMax?: number;
  readonly yMax?: number;
}

/** One line chart as an SVG string (step lines: the values are counts sampled over time). */
export function lineChart(title: string, series: readonly Series[], width = 760, height = 220, axes: ChartAxes = {}): string {
  const pad = { l: 48, r: 12, t: 28, b: 30 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const all = series.flatMap((s) => s.points);
  const tMax = axes.tMax ?? Math.max(1, ...all.map((p) => p[0]));
  const yMax = niceMax(axes.yMax ?? Math.max(1, ...all.map((p) => p[1])));
  const x = (t: number): number => pad.l + (t / tMax) * w;
  const y = (v: number): number => pad.t + h - (v / yMax) * h;
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<line x1="${pad.l}" x2="${pad.l + w}" y1="${y(f * yMax)}" y2="${y(f * yMax)}" stroke="#e5e7eb"/><text x="${pad.l - 6}" y="${y(f * yMax) + 4}" text-anchor="end">${+(f * yMax).toFixed(1)}</text>`)
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${x(f * tMax)}" y="${pad.t + h + 18}" text-anchor="middle">${((f * tMax) / 1000).toFixed(1)} s</text>`).join('');
  const lines = series
    .filter((s) => s.points.length > 0)
    .map((s) => {
      let d = '';
      s.points.forEach(([t, v], i) => {
        d += i === 0 ? `M${x(t).toFixed(1)},${y(v).toFixed(1)}` : `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`;
      });
      return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
    })
    .join('');
  const step = Math.min(170, Math.floor(w / Math.max(1, series.length)));
  const legend = series.map((s, i) => `<g transform="translate(${pad.l + i * step},14)"><rect width="14" height="4" y="-4" fill="${s.color}"/><text x="20" y="0">${esc(s.name)}</text></g>`).join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui,sans-serif" font-size="11" fill="#374151">${grid}${ticks}${lines}${legend}</svg></figure>`;
}

export function renderReport(input: ReportInput): string {
  const s = input.samples;
  const pts = (f: (x: TimelineSample) => number | undefined): Array<[number, number]> => s.filter((x) => f(x) !== undefined).map((x) => [x.t, f(x)!]);
  const tEnd = s.at(-1)?.t ?? 0;
  const charts = [
    lineChart('Job queue depth', [
      { name: 'visible (waiting)', color: '#2563eb', points: pts((x) => x.visible) },
      { name: 'in flight (received)', color: '#f59e0b', points: pts((x) => x.inFlightMessages) },
      { name: 'dead-lettered', color: '#dc2626', points: pts((x) => x.deadLettered) },
    ]),
    lineChart('Concurrent executions', [
      { name: 'in-flight executions', color: '#7c3aed', points: pts((x) => x.inFlightExecutions) },
      ...(input.concurrencyCap !== undefined ? [{ name: `cap (${input.concurrencyCap})`, color: '#9ca3af', dashed: true, points: [[0, input.concurrencyCap], [tEnd, input.concurrencyCap]] as Array<[number, number]> }] : []),
    ]),
    lineChart('Jobs finished', [
      { name: 'completed', color: '#16a34a', points: pts((x) => x.completed) },
      { name: 'failed', color: '#dc2626', points: pts((x) => x.failed) },
    ]),
  ].join('\n');
  const summary = Object.entries(input.summary).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  const thumbs = input.jobs.some((j) => j.thumbnail !== undefined);
  const thumbCell = (j: { thumbnail?: string }): string => (thumbs ? `<td>${j.thumbnail?.startsWith('data:image/') ? `<img class="thumb" alt="" src="${esc(j.thumbnail)}">` : ''}</td>` : '');
  const jobs = input.jobs.map((j) => `<tr>${thumbCell(j)}<td>${esc(j.file)}</td><td class="${esc(j.status)}">${esc(j.status)}</td><td>${esc(j.detail)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#111827;max-width:960px}table{border-collapse:collapse;margin:12px 0}th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #e5e7eb;font-size:13px}figure{margin:18px 0}figcaption{font-weight:600;margin-bottom:4px}img.thumb{height:48px;display:block}.completed{color:#16a34a}.failed,.dead-lettered{color:#dc2626}</style>
</head><body><h1>${esc(input.title)}</h1>
<table>${summary}</table>
${charts}
<h2>Jobs</h2><table><tr>${thumbs ? '<th>thumbnail</th>' : ''}<th>file</th><th>status</th><th>detail</th></tr>${jobs}</table>
</body></html>
`;
}
