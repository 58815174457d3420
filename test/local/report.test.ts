import { describe, expect, it } from 'vitest';
import { lineChart, renderReport, type TimelineSample } from '../../local/report';

const samples: TimelineSample[] = [
  { t: 0, visible: 20, inFlightMessages: 0, inFlightExecutions: 0, deadLettered: 0, completed: 0, failed: 0 },
  { t: 500, visible: 10, inFlightMessages: 10, inFlightExecutions: 3, deadLettered: 0, completed: 0, failed: 0 },
  { t: 1000, visible: 0, inFlightMessages: 4, inFlightExecutions: 3, deadLettered: 1, completed: 15, failed: 1 },
];

describe('report.html', () => {
  it('is self-contained: three inline SVG charts, no scripts, no external resources', () => {
    const html = renderReport({ title: 'run <1>', samples, concurrencyCap: 3, summary: { submitted: 20 }, jobs: [{ file: 'a<b>.jpg', status: 'failed', detail: 'CorruptImage: "x"' }] });
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).not.toMatch(/<script|<link|src=|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain('run &lt;1&gt;');
    expect(html).toContain('a&lt;b&gt;.jpg');
    expect(html).toContain('cap (3)');
  });

  it("shows each job's thumbnail next to its row, inline (data: URIs only)", () => {
    const thumb = 'data:image/jpeg;base64,/9j/AA==';
    const html = renderReport({ title: 't', samples, summary: {}, jobs: [{ file: 'a.jpg', status: 'completed', detail: '', thumbnail: thumb }, { file: 'b.jpg', status: 'failed', detail: 'x' }, { file: 'c.jpg', status: 'completed', detail: '', thumbnail: 'https://evil/x.jpg' }] });
    expect(html).toContain(`<th>thumbnail</th>`);
    expect(html).toContain(`<img class="thumb" alt="" src="${thumb}">`);
    expect(html.match(/<img /g)).toHaveLength(1);
    expect(html).not.toMatch(/<script|<link|src="(?!data:)|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('draws step lines through every sample, scaled to integer grid labels', () => {
    const svg = lineChart('x', [{ name: 'in flight', color: '#000', points: samples.map((s) => [s.t, s.inFlightExecutions!] as const) }], 200, 100);
    const d = /<path d="([^"]+)"/.exec(svg)![1]!;
    expect(d.startsWith('M')).toBe(true);
    expect(d.match(/H/g)).toHaveLength(2);
    // y max 4 (from 3): labels 0 1 2 3 4
    expect([...svg.matchAll(/text-anchor="end">([\d.]+)</g)].map((m) => m[1])).toEqual(['0', '1', '2', '3', '4']);
  });
});
