/**
 * Turns a run's figures (and the worker's own stage timings) into plain-language findings: where a
 * target is missed, which stage or request costs the difference. Pure; only measured numbers go in.
 */
import type { BenchResult } from './result';
import type { StageProfile } from './scenarios/pipeline';
import { ratio } from './stats';

const f = (n: number | null | undefined, d = 2): string => (n == null ? 'n/a' : n.toFixed(d));

function perRecord(ops: Readonly<Record<string, number>>, records: number): string {
  const parts = Object.entries(ops)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([op, n]) => `${op} ${f(n / records)}`);
  return parts.length ? parts.join(' + ') : 'none';
}

export function findings(r: BenchResult, profiles: Partial<Record<'floodgate' | 'powertools', StageProfile>>): string[] {
  const out: string[] = [];
  const fp = profiles.floodgate;

  // Throughput against the limit: where the time goes.
  if (r.floodgate.ratioToLimit !== null && r.floodgate.ratioToLimit < 0.85) {
    const parts = [`floodgate reaches ${f(r.floodgate.ratioToLimit)} of the sharp limit (target 0.85)`];
    if (fp && Object.keys(fp.stagesMs).length > 0) {
      const total = Object.values(fp.stagesMs).reduce((a, b) => a + b, 0);
      const stages = Object.entries(fp.stagesMs)
        .map(([s, ms]) => `${s} ${f(ms, 0)} ms (${f((ms / total) * 100, 0)}%)`)
        .join(', ');
      parts.push(`mean per-record stage times in the worker (each includes waiting for its lane slot): ${stages}`);
      const render = fp.stagesMs['render'];
      if (render !== undefined && r.limit.imagesPerSec && r.limit.bestConcurrency) {
        // In the limit run each image takes bestConcurrency / imagesPerSec seconds of wall time.
        const limitMs = (r.limit.bestConcurrency / r.limit.imagesPerSec) * 1000;
        parts.push(`render inside the worker ${f(render, 0)} ms vs ${f(limitMs, 0)} ms per image in the limit run at ${r.limit.bestConcurrency} in parallel`);
      }
    }
    if (fp) {
      parts.push(`${fp.coldStarts} cold starts in the measured phase (mean init ${f(fp.meanInitMs, 0)} ms) over ${fp.invocations} invocations`);
      if (Object.keys(fp.ddbLatencyMs).length) parts.push(`DynamoDB Local latency per request: ${Object.entries(fp.ddbLatencyMs).map(([op, ms]) => `${op} ${f(ms, 1)} ms`).join(', ')}`);
    }
    if (r.floodgate.maxConcurrentExecutions !== null) parts.push(`max ${r.floodgate.maxConcurrentExecutions} executions at once`);
    if (fp && fp.batchSizes.length) {
      parts.push(`the runner formed ${fp.batchSizes.length} invocation(s) of ${fp.batchSizes.join(', ')} records, each rendering at most ${fp.cpuLane ?? 'n/a'} image(s) at a time (CPU lane from the memory size)`);
      const idle = r.floodgate.cpu ? (r.floodgate.cpu.cpuSec['idle'] ?? 0) / r.floodgate.cpu.capacitySec : null;
      if (idle !== null && idle > 0.1 && fp.cpuLane !== null && fp.batchSizes.length * fp.cpuLane < r.limit.machine.cpus) {
        parts.push(
          `the cores were ${f(idle * 100, 0)}% idle: fewer images rendering than cores (locally every execution may use all ${r.limit.machine.cpus} cores, unlike a 2048 MB Lambda with ~1.2 vCPU)`,
        );
      }
    }
    // CPU accounting: the ratio to the limit is the workers' share of the machine times their CPU
    // efficiency per image against the limit run.
    const cpu = r.floodgate.cpu;
    if (cpu && r.floodgate.completed > 0 && r.limit.imagesPerSec) {
      const workerShare = (cpu.cpuSec['workers'] ?? 0) / cpu.capacitySec;
      const workerMsPerImage = ((cpu.cpuSec['workers'] ?? 0) * 1000) / r.floodgate.completed;
      const limitMsPerImage = (r.limit.machine.cpus * 1000) / r.limit.imagesPerSec;
      const emulators = Object.entries(cpu.cpuSec)
        .filter(([g]) => g !== 'workers' && g !== 'idle')
        .map(([g, s]) => `${g} ${f((s / cpu.capacitySec) * 100, 0)}%`)
        .join(', ');
      parts.push(
        `CPU accounting: the workers got ${f(workerShare * 100, 0)}% of the machine (${emulators}, idle ${f(((cpu.cpuSec['idle'] ?? 0) / cpu.capacitySec) * 100, 0)}%) ` +
          `and spent ${f(workerMsPerImage, 0)} ms of CPU per image against at most ${f(limitMsPerImage, 0)} ms in the limit run (${r.limit.machine.cpus} cores / limit img/s); ` +
          `${f(workerShare, 2)} x ${f(limitMsPerImage / workerMsPerImage, 2)} = ${f(workerShare * (limitMsPerImage / workerMsPerImage), 2)} predicts the measured ratio`,
      );
    }
    const wt = r.floodgate.workerThreadCpuMsPerImage;
    const lt = r.limit.bestConcurrency !== null ? r.limit.threadCpuMsPerImage?.[String(r.limit.bestConcurrency)] : undefined;
    if (wt && lt) {
      const groups = [...new Set([...Object.keys(wt), ...Object.keys(lt)])].sort();
      parts.push(`CPU per image by thread, worker vs limit run: ${groups.map((g) => `${g} ${f(wt[g] ?? 0, 0)} vs ${f(lt[g] ?? 0, 0)} ms`).join(', ')}`);
      const pt = r.powertools.workerThreadCpuMsPerImage;
      if (pt) {
        // The alternative in the same runtime: says whether the cost around sharp is ours or any worker's.
        const total = (o: Readonly<Record<string, number>>) => Object.values(o).reduce((a, b) => a + b, 0);
        parts.push(
          `Powertools' worker spent ${f(total(pt), 0)} ms per image against our ${f(total(wt), 0)} (efficiency ${f(r.powertools.efficiency ?? null)} vs ${f(r.floodgate.efficiency ?? null)}; ` +
            `main thread ${f(pt['main thread (JS)'] ?? 0, 0)} ms, V8 workers ${f(pt['V8 workers (GC, compiler)'] ?? 0, 0)} ms)`,
        );
      }
    }
    out.push(`${parts.join('; ')}.`);
  }

  for (const v of r.floodgate.variants ?? []) {
    out.push(
      `diagnostic: floodgate end to end with ${v.setting}: ${f(v.imagesPerSec)} img/s (ratio to limit ${f(v.ratioToLimit)}, peak RSS ${f(v.peakRssMb, 0)} MB) vs ${f(r.floodgate.imagesPerSec)} img/s with the template's lane` +
        (v.error ? ` (${v.error})` : '') +
        '.',
    );
  }

  for (const [name, p] of [['floodgate', r.floodgate], ['powertools', r.powertools]] as const) {
    if (!p.cpu) continue;
    const parts = Object.entries(p.cpu.cpuSec).map(([g, s]) => `${g} ${f(s, 1)} s (${f((s / p.cpu!.capacitySec) * 100, 0)}%)`);
    out.push(`CPU during the ${name} measured phase (${r.limit.machine.cpus} cores x ${f(p.cpu.wallSec, 1)} s = ${f(p.cpu.capacitySec, 1)} core-s): ${parts.join(', ')}.`);
  }

  // Throughput against Powertools.
  const thr = ratio(r.floodgate.imagesPerSec, r.powertools.imagesPerSec);
  if (thr !== null) {
    out.push(
      `throughput floodgate/powertools x${f(thr)} (${f(r.floodgate.imagesPerSec)} vs ${f(r.powertools.imagesPerSec)} img/s); ` +
        `peak RSS per execution ${f(r.floodgate.peakRssMb, 0)} vs ${f(r.powertools.peakRssMb, 0)} MB; ` +
        `max executions ${r.floodgate.maxConcurrentExecutions ?? 'n/a'} vs ${r.powertools.maxConcurrentExecutions ?? 'n/a'}.`,
    );
  }

  // DynamoDB requests per record, by operation.
  const ov = r.overhead;
  if (ov.floodgate.ddbRequestsPerRecord !== null && ov.powertools.ddbRequestsPerRecord !== null) {
    const msg = `DynamoDB requests per record (no-op step): floodgate ${perRecord(ov.floodgate.ddbByOperation, ov.records)} = ${f(ov.floodgate.ddbRequestsPerRecord)}; powertools ${perRecord(ov.powertools.ddbByOperation, ov.records)} = ${f(ov.powertools.ddbRequestsPerRecord)}`;
    const extra =
      ov.floodgate.ddbRequestsPerRecord > ov.powertools.ddbRequestsPerRecord
        ? '. Floodgate sends more requests per record than the Powertools consumer: see the operations above for the extra one.'
        : ov.floodgate.ddbRequestsPerRecord < ov.powertools.ddbRequestsPerRecord
          ? '. Floodgate\'s job record is its claim (claim + completion on one item); Powertools claims and completes its own record and then writes the job.'
          : '.';
    out.push(msg + extra);
    if (ov.floodgate.ddbWriteUnitsPerRecord != null && ov.powertools.ddbWriteUnitsPerRecord != null) {
      out.push(
        `write capacity units per record (items <= 1 KB; a TransactWriteItems bills each item twice): floodgate ${f(ov.floodgate.ddbWriteUnitsPerRecord)} vs powertools ${f(ov.powertools.ddbWriteUnitsPerRecord)}` +
          (ov.floodgate.ddbWriteUnitsPerRecord > ov.powertools.ddbWriteUnitsPerRecord ? ' - equal request counts can still cost more on an on-demand table.' : '.'),
      );
    }
    const lat = (side: typeof ov.floodgate) => Object.entries(side.ddbLatencyMs ?? {}).map(([op, ms]) => `${op} ${f(ms, 1)} ms`).join(', ');
    if (ov.floodgate.ddbLatencyMs && ov.powertools.ddbLatencyMs) {
      // A record's requests run one after another: its DynamoDB wire time is the sum over its requests.
      const wire = (side: typeof ov.floodgate) => Object.entries(side.ddbByOperation).reduce((a, [op, n]) => a + (n / ov.records) * (side.ddbLatencyMs?.[op] ?? 0), 0);
      out.push(
        `DynamoDB Local latency per request in the no-op run: floodgate ${lat(ov.floodgate)}; powertools ${lat(ov.powertools)}; ` +
          `DynamoDB wire time per record (requests x mean latency, one after another): floodgate ${f(wire(ov.floodgate), 1)} ms vs powertools ${f(wire(ov.powertools), 1)} ms ` +
          `(the records of a batch of 10 overlap, so records/s of one execution follow the per-record wire time more than the request count).`,
      );
    }
  }
  if (ov.floodgate.recordsPerSec !== null && ov.powertools.recordsPerSec !== null) {
    const x = ratio(ov.floodgate.recordsPerSec, ov.powertools.recordsPerSec);
    const st = ov.floodgate.stagesMs;
    const stageText = st && Object.keys(st).length ? `; floodgate per-record stages (lane waits included): ${Object.entries(st).map(([k, v]) => `${k} ${f(v, 1)} ms`).join(', ')}` : '';
    out.push(`bookkeeping throughput (no-op step, batches of 10, one execution): floodgate ${f(ov.floodgate.recordsPerSec, 1)} vs powertools ${f(ov.powertools.recordsPerSec, 1)} records/s (x${f(x)})${stageText}.`);
  }

  // Memory.
  const mem = ratio(r.bounded.peakRssMb, r.unbounded.peakRssMb);
  if (mem !== null) {
    out.push(
      `one batch of ${r.bounded.images} large images: bounded ${f(r.bounded.peakRssMb, 0)} MB with at most ${r.bounded.maxInFlightRender ?? 'n/a'} rendering vs unbounded ${f(r.unbounded.peakRssMb, 0)} MB with ${r.unbounded.maxInFlightRender ?? 'n/a'} rendering (x${f(mem)}); ` +
        `time ${f((r.bounded.elapsedMs ?? 0) / 1000, 1)} vs ${f((r.unbounded.elapsedMs ?? 0) / 1000, 1)} s.`,
    );
  }

  // Scaling.
  if (r.scaling.runs.length > 1) {
    out.push(
      `scaling ${r.scaling.runs.map((s) => s.jobs).join(' / ')} jobs: ms/job ${r.scaling.runs.map((s) => f(s.msPerJob, 2)).join(' / ')}, peak RSS ${r.scaling.runs.map((s) => f(s.peakRssMb, 0)).join(' / ')} MB ` +
        `(batches of up to 10,000 records, Lambda's maximum; the event itself grows with the batch); ` +
        `peak JS heap in use ${r.scaling.runs.map((s) => f(s.peakHeapUsedMb, 0)).join(' / ')} MB, heap after a full GC at the end ${r.scaling.runs.map((s) => f(s.retainedHeapMb, 1)).join(' / ')} MB ` +
        `(flat after GC = nothing accumulates across batches; peak heap above it = one batch's live records and garbage V8 had not yet collected).`,
    );
    const lh = r.scaling.liveHeap;
    if (lh) {
      out.push(
        `live data per record: one batch of ${lh.jobs} with a forced full GC every second held at most ${f(lh.maxLiveHeapMb - lh.baselineHeapMb, 1)} MB above its ${f(lh.baselineHeapMb, 1)} MB baseline = ${f(lh.perRecordKb, 2)} KB per record (the SQS event included); ` +
          `so peak RSS growing with the run is V8 collecting lazily, not records being kept.`,
      );
    }
  }

  // Cold start.
  const cf = r.coldStart.floodgate;
  const cp = r.coldStart.powertools;
  if (cf.initMsMedian !== null && cp.initMsMedian !== null) {
    out.push(`cold start: module init ${f(cf.initMsMedian, 0)} vs ${f(cp.initMsMedian, 0)} ms (median of ${r.coldStart.samples}), bundle ${f((cf.bundleBytes ?? 0) / 1024, 0)} vs ${f((cp.bundleBytes ?? 0) / 1024, 0)} KB.`);
  }
  return out;
}
