/** A self-contained report.html (inline SVG line charts, no scripts, no network) for the burst run. */

export interface Series {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
  /** Horizontal reference line (e.g. the concurrency cap). */
  readonly limit?: { readonly value: number; readonly label: string };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function chart(s: Series, width = 760, height = 200): string {
  const pad = { l: 56, r: 12, t: 24, b: 28 };
  const xs = s.points.map((p) => p[0]);
  const ys = s.points.map((p) => p[1]);
  const xMax = Math.max(1, ...xs);
  const yMax = Math.max(1, ...ys, s.limit?.value ?? 0) * 1.1;
  const x = (v: number) => pad.l + (v / xMax) * (width - pad.l - pad.r);
  const y = (v: number) => height - pad.b - (v / yMax) * (height - pad.t - pad.b);
  const path = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
  const limit = s.limit
    ? `<line x1="${pad.l}" x2="${width - pad.r}" y1="${y(s.limit.value)}" y2="${y(s.limit.value)}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="${width - pad.r - 4}" y="${y(s.limit.value) - 4}" text-anchor="end" fill="#c0392b" font-size="11">${esc(s.limit.label)}</text>`
    : '';
  return `<figure><figcaption>${esc(s.label)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(s.label)}">
<line x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}" stroke="#888"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${height - pad.b}" stroke="#888"/>
<text x="${pad.l - 6}" y="${pad.t + 4}" text-anchor="end" font-size="11">${Math.round(yMax)}</text><text x="${pad.l - 6}" y="${height - pad.b}" text-anchor="end" font-size="11">0</text>
<text x="${width - pad.r}" y="${height - 8}" text-anchor="end" font-size="11">${(xMax / 1000).toFixed(0)} s</text>
${limit}<path d="${path}" fill="none" stroke="#2c6fbb" stroke-width="1.5"/></svg></figure>`;
}

export function renderReport(title: string, summary: Record<string, string | number>, series: readonly Series[]): string {
  const rows = Object.entries(summary)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}th,td{text-align:left;padding:2px 12px 2px 0}figure{margin:1.5rem 0}figcaption{font-weight:600}</style>
</head><body><h1>${esc(title)}</h1><table>${rows}</table>${series.map((s) => chart(s)).join('\n')}</body></html>\n`;
}
