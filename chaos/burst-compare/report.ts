/**
 * The comparison's report page: self-contained HTML with inline SVG (no scripts, no network). The three
 * runs side by side, one column each, with the same y axis per row so that heights compare: queue depth,
 * concurrent executions (against the run's cap) and PostgreSQL connections (against max_connections).
 */
import { lineChart, type Series } from '../../local/report';
import { ORDERS_DOWNSTREAM_BUDGET } from '../../examples/orders-postgres/lib/orders-stack';
import { SEED_SNIPPET } from './baseline-stack';
import type { CompareResult, RunTimeline, TimelinePoint } from './run';
import { RUN_NAMES, type RunName } from './stacks';

export interface CompareReportInput {
  readonly result: CompareResult;
  readonly timelines: Record<RunName, RunTimeline>;
  readonly machine: string;
  readonly postgres: { readonly version: string; readonly binaries: string };
  readonly runSeconds: number;
  readonly ceiling: number;
  readonly workMs: number;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pts = (p: readonly TimelinePoint[]): Array<[number, number]> => p.map((x) => [x.t, x.value]);
const flat = (v: number, tEnd: number): Array<[number, number]> => [
  [0, v],
  [tEnd, v],
];

const SETTINGS: Record<RunName, string> = {
  unbounded: `seed handler (Promise.all, one connection per record, no idempotency); no reserved concurrency, no MaximumConcurrency; visibility ${SEED_SNIPPET.visibilityTimeoutSeconds} s, timeout ${SEED_SNIPPET.timeoutSeconds} s, batch ${SEED_SNIPPET.batchSize}`,
  seedSnippet: `seed handler; reserved ${SEED_SNIPPET.reservedConcurrency}, MaximumConcurrency ${SEED_SNIPPET.maxConcurrency}, visibility ${SEED_SNIPPET.visibilityTimeoutSeconds} s, timeout ${SEED_SNIPPET.timeoutSeconds} s, batch ${SEED_SNIPPET.batchSize}`,
  floodgate: `examples/orders-postgres: BoundedQueueConsumer downstreamBudget ${ORDERS_DOWNSTREAM_BUDGET.maxConnections}/${ORDERS_DOWNSTREAM_BUDGET.connectionsPerExecution} -> cap ${Math.floor(ORDERS_DOWNSTREAM_BUDGET.maxConnections / ORDERS_DOWNSTREAM_BUDGET.connectionsPerExecution)}, pg Pool max ${ORDERS_DOWNSTREAM_BUDGET.connectionsPerExecution}, ON CONFLICT DO NOTHING, partial batch failures`,
};

export function renderCompareReport(input: CompareReportInput): string {
  const { result, timelines } = input;
  const max = result.downstream.maxConnections;
  const ends = Object.fromEntries(RUN_NAMES.map((n) => [n, Math.max(1, ...[...timelines[n].executions, ...timelines[n].connections, ...timelines[n].queueVisible].map((p) => p.t))])) as Record<RunName, number>;
  const yQueue = result.messages;
  const yExec = Math.max(...RUN_NAMES.map((n) => Math.max(result.runs[n].peakConcurrentExecutions, ...timelines[n].limit.map((p) => p.value))));
  const yConn = Math.max(max, ...RUN_NAMES.map((n) => result.runs[n].peakDownstreamConnections)) * 1.1;
  const W = 430;
  const H = 200;
  const column = (n: RunName): string => {
    const tl = timelines[n];
    const tEnd = ends[n];
    const cap: Series[] = [{ name: tl.executionCap !== undefined ? `cap ${tl.executionCap}` : "allowed (Lambda's scale-up)", color: '#6b7280', dashed: true, points: pts(tl.limit) }];
    return [
      lineChart('Queue depth', [
        { name: 'waiting', color: '#2563eb', points: pts(tl.queueVisible) },
        { name: 'in flight', color: '#f59e0b', points: pts(tl.queueInFlight) },
      ], W, H, { yMax: yQueue }),
      lineChart('Concurrent executions', [{ name: 'executions', color: '#7c3aed', points: pts(tl.executions) }, ...cap], W, H, { yMax: yExec }),
      lineChart('PostgreSQL connections (pg_stat_activity)', [
        { name: 'client connections', color: '#0891b2', points: pts(tl.connections) },
        { name: `max_connections ${max}`, color: '#dc2626', dashed: true, points: flat(max, tEnd) },
      ], W, H, { yMax: yConn }),
    ].join('\n');
  };
  const keys = ['completed', 'peakDownstreamConnections', 'refusedConnections', 'duplicateEffects', 'deadLettered', 'peakConcurrentExecutions', 'drainSeconds'] as const;
  const bad = (n: RunName, k: (typeof keys)[number]): boolean => {
    const r = result.runs[n];
    if (k === 'completed') return r.completed !== result.messages;
    if (k === 'peakDownstreamConnections') return r.peakDownstreamConnections > max;
    if (k === 'drainSeconds') return r.drainSeconds === null;
    if (k === 'peakConcurrentExecutions') return false;
    return (r[k] as number) > 0;
  };
  const rows = keys
    .map((k) => `<tr><th>${k}</th>${RUN_NAMES.map((n) => `<td class="${bad(n, k) ? 'bad' : 'good'}">${esc(String(result.runs[n][k] ?? `not drained in ${input.runSeconds} s`))}</td>`).join('')}</tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The seed's scenario, measured</title>
<style>body{font-family:system-ui,sans-serif;margin:20px;color:#111827}table{border-collapse:collapse;margin:10px 0}th,td{text-align:left;padding:3px 12px;border-bottom:1px solid #e5e7eb;font-size:13px}
td.bad{color:#b91c1c;font-weight:600}td.good{color:#15803d}.grid{display:grid;grid-template-columns:repeat(3,${W + 10}px);gap:8px}.grid h2{font-size:16px;margin:6px 0}.grid p{font-size:12px;color:#4b5563;margin:0 0 6px;min-height:48px}figure{margin:4px 0}figcaption{font-weight:600;font-size:13px}p.meta{font-size:13px;color:#374151;max-width:1320px}</style>
</head><body>
<h1>The seed's scenario, measured: ${result.messages} orders, PostgreSQL with max_connections ${max}</h1>
<p class="meta">The same burst (all ${result.messages} messages enqueued before the pollers start) three ways against one PostgreSQL ${esc(input.postgres.version)} (${esc(input.postgres.binaries)}), max_connections ${max}, superuser_reserved_connections 0.
Connections: client backends in pg_stat_activity every 100 ms (the observer is a replication session and is not counted). Refused: SQLSTATE 53300 errors the handlers met. Duplicates: order_effects rows beyond the first per order. Each order's effect holds its connection for ${input.workMs} ms (a trigger on order_effects sleeps, the same in every run). Without a cap, executions follow Lambda's SQS scale-up (5 at first, up to 300 more a minute) up to the local stack's ceiling of ${input.ceiling}. Machine: ${esc(input.machine)}.</p>
<table><tr><th></th>${RUN_NAMES.map((n) => `<th>${n}</th>`).join('')}</tr>${rows}</table>
<div class="grid">
${RUN_NAMES.map((n) => `<div><h2>${n}</h2><p>${esc(SETTINGS[n])}</p>${column(n)}</div>`).join('\n')}
</div>
</body></html>
`;
}
