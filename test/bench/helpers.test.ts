/** Correctness of the benchmark's pure helpers (no timing assertions: benchmarks are scripts). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bestOf, cpuEfficiency, evaluateTargets, median, parseVmHwmKb, ratio, ratioDecomposition, requestsPerRecord } from '../../bench/stats';
import { operationFromTarget, DATA_PLANE_OPERATIONS } from '../../bench/ddb-counter';
import { parseChildResult } from '../../bench/child';
import { collectErrors, escapeHtml, renderHtml, renderTable, barChart } from '../../bench/report';
import { RESULT_KEYS, type BenchResult } from '../../bench/result';
import { parseArgs, pickImages, pickKeys, pipelineOrder, FULL_PLAN, QUICK_PLAN } from '../../bench/run';
import { mergePipelineRounds } from '../../bench/stats';
import { mergeStageProfiles } from '../../bench/scenarios/pipeline';
import type { PipelineResult } from '../../bench/result';
import { StageCollector } from '../../bench/scenarios/pipeline';
import { findings } from '../../bench/findings';
import type { BenchImage } from '../../bench/images';

const machine = { cpus: 2, cpuModel: 'test', totalMemMb: 4096, node: '24', sharp: '0.35.5', libvips: '8.18.7', platform: 'linux-x64' };

function sample(over: Partial<BenchResult> = {}): BenchResult {
  const pipeline = { imagesPerSec: 4, ratioToLimit: 0.8, peakRssMb: 300, ddbRequestsPerRecord: 4, ddbWriteUnitsPerRecord: 6, images: 40, completed: 40, failed: 0, elapsedMs: 10_000, maxConcurrentExecutions: 4, ddbByOperation: { UpdateItem: 160 } };
  return {
    limit: { imagesPerSec: 5, bestConcurrency: 2, byConcurrency: { '1': 3, '2': 5 }, images: 20, renditions: ['thumb'], machine },
    floodgate: pipeline,
    powertools: { ...pipeline, imagesPerSec: 3, ratioToLimit: 0.6, ddbRequestsPerRecord: 3, ddbWriteUnitsPerRecord: 3, ddbByOperation: { PutItem: 40, UpdateItem: 80 } },
    bounded: { peakRssMb: 200, images: 50, elapsedMs: 1000, maxInFlightRender: 1 },
    unbounded: { peakRssMb: 600, images: 50, elapsedMs: 900, maxInFlightRender: 50 },
    overhead: {
      records: 100,
      floodgate: { recordsPerSec: 50, ddbRequestsPerRecord: 4, ddbWriteUnitsPerRecord: 6, ddbByOperation: { UpdateItem: 400 }, elapsedMs: 2000 },
      powertools: { recordsPerSec: 100, ddbRequestsPerRecord: 3, ddbWriteUnitsPerRecord: 3, ddbByOperation: { PutItem: 100, UpdateItem: 200 }, elapsedMs: 1000 },
    },
    scaling: { runs: [{ jobs: 10, elapsedMs: 100, msPerJob: 10, peakRssMb: 100 }, { jobs: 100, elapsedMs: 1000, msPerJob: 10, peakRssMb: 120 }], timePerJobGrowth: 1, memoryGrowth: 1.2 },
    coldStart: { samples: 3, floodgate: { bundleBytes: 1000, initMsMedian: 100, initMsSamples: [90, 100, 110] }, powertools: { bundleBytes: 2000, initMsMedian: 150, initMsSamples: [150] } },
    ...over,
  };
}

describe('stats', () => {
  it('median of odd and even lists, null for none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });

  it('median lies between min and max (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1 }), (xs) => {
        const m = median(xs)!;
        return m >= Math.min(...xs) && m <= Math.max(...xs);
      }),
    );
  });

  it('ratio refuses missing or zero denominators', () => {
    expect(ratio(1, 2)).toBe(0.5);
    expect(ratio(null, 2)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(1, undefined)).toBeNull();
  });

  it('parses VmHWM from /proc status text', () => {
    expect(parseVmHwmKb('Name:\tnode\nVmPeak:\t 999 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1 kB\n')).toBe(123456);
    expect(parseVmHwmKb('Name: x\n')).toBeNull();
  });

  it('bestOf picks the highest throughput, ties to the lower concurrency', () => {
    expect(bestOf({ '1': 3, '2': 5, '3': 5, '4': 4 })).toEqual({ concurrency: 2, value: 5 });
    expect(bestOf({})).toBeNull();
  });

  it('requests per record sums every operation', () => {
    expect(requestsPerRecord({ PutItem: 10, UpdateItem: 20 }, 10)).toBe(3);
    expect(requestsPerRecord({ PutItem: 10 }, 0)).toBeNull();
  });
});

describe('targets', () => {
  it('judges each target from the figures', () => {
    const t = Object.fromEntries(evaluateTargets(sample()).map((x) => [x.id, x.status]));
    expect(t).toEqual({ 'floodgate-vs-limit': 'fail', 'worker-efficiency': 'unknown', 'floodgate-vs-powertools': 'pass', 'bounded-memory': 'pass', 'ddb-requests': 'fail', 'ddb-two-writes': 'fail', bookkeeping: 'fail', scaling: 'pass' });
  });

  it('efficiency = limit CPU per image / worker CPU per image (all threads); the ratio decomposes into shares x efficiency', () => {
    const base = sample();
    const limit = { ...base.limit, imagesPerSec: 8, bestConcurrency: 2, threadCpuMsPerImage: { '2': { main: 20, vips: 180 } } };
    const floodgate = { ...base.floodgate, workerThreadCpuMsPerImage: { main: 50, vips: 200 }, cpu: { wallSec: 10, capacitySec: 20, cpuSec: { workers: 16, idle: 1 } } } as typeof base.floodgate;
    expect(cpuEfficiency(limit, floodgate)).toBeCloseTo(0.8, 6);
    const d = ratioDecomposition(limit, floodgate)!;
    expect(d.workerShare).toBeCloseTo(0.8, 6);
    expect(d.limitShare).toBeCloseTo((200 * 8) / (limit.machine.cpus * 1000), 6);
    expect(d.predicted).toBeCloseTo((d.workerShare / d.limitShare) * 0.8, 6);
    expect(cpuEfficiency({ ...limit, threadCpuMsPerImage: {} }, floodgate)).toBeNull();
  });

  it("the efficiency target's detail names Powertools' efficiency beside ours", () => {
    const base = sample();
    const r = { ...base, floodgate: { ...base.floodgate, efficiency: 0.79 }, powertools: { ...base.powertools, efficiency: 0.78 } };
    const t = evaluateTargets(r).find((x) => x.id === 'worker-efficiency')!;
    expect(t.status).toBe('fail');
    expect(t.detail).toContain("efficiency 0.79 (Powertools' worker: 0.78)");
  });

  it('an unmeasured figure is unknown, never pass', () => {
    const r = sample({ floodgate: { ...sample().floodgate, ratioToLimit: null, imagesPerSec: null, ddbRequestsPerRecord: null } });
    const r2 = { ...r, overhead: { ...r.overhead, floodgate: { ...r.overhead.floodgate, ddbRequestsPerRecord: null } } };
    const t = Object.fromEntries(evaluateTargets(r2).map((x) => [x.id, x.status]));
    expect(t['floodgate-vs-limit']).toBe('unknown');
    expect(t['floodgate-vs-powertools']).toBe('unknown');
    expect(t['ddb-requests']).toBe('unknown');
  });

  it('bounded memory passes at exactly half and fails above', () => {
    const at = (b: number) => evaluateTargets(sample({ bounded: { ...sample().bounded, peakRssMb: b } })).find((x) => x.id === 'bounded-memory')!.status;
    expect(at(300)).toBe('pass');
    expect(at(301)).toBe('fail');
  });
});

describe('DynamoDB wire counter', () => {
  it('reads the operation from X-Amz-Target', () => {
    expect(operationFromTarget('DynamoDB_20120810.PutItem')).toBe('PutItem');
    expect(operationFromTarget(['DynamoDB_20120810.UpdateItem'])).toBe('UpdateItem');
    expect(operationFromTarget('AmazonSQS.SendMessage')).toBeNull();
    expect(operationFromTarget(undefined)).toBeNull();
    expect(DATA_PLANE_OPERATIONS.has('CreateTable')).toBe(false);
    expect(DATA_PLANE_OPERATIONS.has('TransactWriteItems')).toBe(true);
  });
});

describe('child result line', () => {
  it('takes the last marked line and ignores logs', () => {
    const out = 'log\nBENCH_RESULT {"a":1,"peakRssKb":5}\nnoise\nBENCH_RESULT {"a":2,"peakRssKb":7}\ntrailing\n';
    expect(parseChildResult<{ a: number }>(out)).toEqual({ a: 2, peakRssKb: 7 });
    expect(parseChildResult('nothing')).toBeNull();
  });
});

describe('report', () => {
  it('escapes HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('renders a self-contained page with inline SVG and no external resources', () => {
    const html = renderHtml(sample(), { startedAt: '2026-01-01T00:00:00Z', durationMs: 1000, mode: 'quick', command: 'npm run bench -- --quick' }, ['a <finding>']);
    expect(html).toContain('<svg');
    expect(html).toContain('a &lt;finding&gt;');
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org)/);
  });

  it('draws missing values as n/a and scales bars to the largest value', () => {
    const svg = barChart('t', 'u', [
      { label: 'a', value: 10, colour: '#000' },
      { label: 'b', value: 5, colour: '#000' },
      { label: 'c', value: null, colour: '#000' },
    ]);
    const widths = [...svg.matchAll(/<rect x="\d+" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[0]).toBeCloseTo(widths[1]! * 2, 0);
    expect(widths[2]).toBe(0);
    expect(svg).toContain('>n/a<');
  });

  it('table lists every target and every unmeasured section', () => {
    const r = sample({ scaling: { runs: [], timePerJobGrowth: null, memoryGrowth: null, error: 'boom' } });
    const table = renderTable(r, { startedAt: 'x', durationMs: 1, mode: 'full', command: 'c' });
    expect(table).toContain('FAIL    floodgate / limit >= 0.85');
    expect(table).toContain('UNKNOWN scaling');
    expect(collectErrors(r)).toEqual(['scaling: boom']);
    expect(table).toContain('scaling: boom');
  });
});

describe('run options', () => {
  it('parses flags', () => {
    expect(parseArgs([]).plan).toBe(FULL_PLAN);
    expect(parseArgs(['--quick', '--json'])).toMatchObject({ plan: QUICK_PLAN, json: true });
    expect([...parseArgs(['--only', 'limit,coldStart']).only]).toEqual(['limit', 'coldStart']);
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/unknown section "nope"/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown argument/);
    expect(parseArgs(['--help']).help).toBe(true);
  });

  it('the full plan is what the issue asks', () => {
    expect(FULL_PLAN.memoryBatch).toBe(50);
    expect(FULL_PLAN.scalingSizes).toEqual([1000, 5000, 20000]);
    expect(FULL_PLAN.limitConcurrencies).toEqual([1, 2, 3, 4]);
  });

  it('picks images cycling through the set, with a share of PNGs', () => {
    const img = (name: string, format: 'jpeg' | 'png'): BenchImage => ({ name, path: name, format, width: 1, height: 1, bytes: 1 });
    const set = [img('a.jpg', 'jpeg'), img('b.jpg', 'jpeg'), img('c.png', 'png')];
    const picked = pickImages(set, 10);
    expect(picked).toHaveLength(10);
    expect(picked.filter((i) => i.format === 'png')).toHaveLength(1);
    expect(pickImages(set, 5, { pngShare: 0 }).every((i) => i.format === 'jpeg')).toBe(true);
  });

  it('the JSON object has exactly the documented keys, in order', () => {
    const extra = { ...sample(), targets: [] } as unknown as BenchResult;
    expect(Object.keys(pickKeys(extra))).toEqual([...RESULT_KEYS]);
    expect(RESULT_KEYS).toEqual(['limit', 'floodgate', 'powertools', 'bounded', 'unbounded', 'overhead', 'scaling', 'coldStart']);
  });
});

describe('findings', () => {
  it('explains a missed limit target with the stage times and names the extra DynamoDB write', () => {
    const notes = findings(sample(), {
      floodgate: { stagesMs: { claim: 20, download: 30, render: 400, upload: 30, complete: 20 }, ddbLatencyMs: { UpdateItem: 12 }, invocations: 5, coldStarts: 1, meanInitMs: 300, cpuLane: 1, batchSizes: [10, 10] },
    });
    const text = notes.join('\n');
    expect(text).toContain('render 400 ms (80%)');
    expect(text).toContain('1 cold starts');
    expect(text).toContain('UpdateItem 4.00 = 4.00');
    expect(text).toContain('Floodgate sends more requests per record');
    expect(text).toContain('2 invocation(s) of 10, 10 records, each rendering at most 1 image(s)');
    expect(text).toContain('write capacity units per record (items <= 1 KB; a TransactWriteItems bills each item twice): floodgate 6.00 vs powertools 3.00');
  });

  it('aggregates EMF stage averages weighted by records', () => {
    const c = new StageCollector();
    c.add({ json: { _aws: {}, RecordsSucceeded: 1, renderDurationAvg: 100 } });
    c.add({ json: { _aws: {}, RecordsSucceeded: 3, renderDurationAvg: 200 } });
    c.add({ json: { level: 'INFO', renderDurationAvg: 1e9 } });
    expect(c.result()).toEqual({ render: 175 });
  });
});

describe('write units', () => {
  it('counts transaction items twice and batch items once', async () => {
    const { writeUnitsOf } = await import('../../bench/ddb-counter');
    expect(writeUnitsOf('TransactWriteItems', JSON.stringify({ TransactItems: [{ Update: {} }, { Update: {} }] }))).toBe(4);
    expect(writeUnitsOf('BatchWriteItem', JSON.stringify({ RequestItems: { a: [{}, {}], b: [{}] } }))).toBe(3);
    expect(writeUnitsOf('TransactWriteItems', 'not json')).toBe(0);
  });
});

describe('image worker selection', () => {
  it('picks the function fed by the queue, not another function with the same table env (the job API)', async () => {
    const { imageWorker } = await import('../../bench/scenarios/pipeline');
    const fn = (logicalId: string) => ({ logicalId, functionName: logicalId, assetDir: '/x', handler: 'index.handler', runtime: 'nodejs24.x', timeoutSeconds: 60, memoryMb: 2048, environment: { JOBS_TABLE_NAME: 't' }, architectures: [] });
    const mapping = { logicalId: 'M', functionLogicalId: 'Worker', queueLogicalId: 'Q', queueUrl: 'u', queueArn: 'a', batchSize: 10, maximumBatchingWindowSeconds: 0, reportBatchItemFailures: true, enabled: true };
    expect(imageWorker({ functions: [fn('JobApi'), fn('Worker')], eventSourceMappings: [mapping] }).fn.logicalId).toBe('Worker');
    expect(() => imageWorker({ functions: [fn('JobApi')], eventSourceMappings: [] })).toThrow(/no image worker/);
  });
});

describe('CPU accounting from /proc', () => {
  it('parses utime + stime and ppid even when the command name has spaces and parentheses', async () => {
    const { parseStatTicks, parseProcStat, cpuBreakdown } = await import('../../bench/cpu');
    const stat = '1234 (node (worker) x) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 12345 0 0';
    expect(parseStatTicks(stat)).toEqual({ ticks: 300, ppid: 77 });
    expect(parseStatTicks('garbage')).toBeNull();
    expect(parseProcStat('cpu  100 5 20 300 10 1 2 3 0 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 131, idle: 310 });
    const before = { at: 0, machine: { busy: 0, idle: 0 }, groups: { workers: 0, bench: 10 } };
    const after = { at: 2000, machine: { busy: 350, idle: 50 }, groups: { workers: 250, bench: 40 } };
    // 100 ticks per second on Linux: workers 2.5 s, bench 0.3 s, other = 3.5 - 2.8 = 0.7 s, idle 0.5 s.
    const b = cpuBreakdown(before, after, 2);
    expect(b.wallSec).toBe(2);
    expect(b.capacitySec).toBe(4);
    expect(b.cpuSec['workers']).toBeCloseTo(2.5);
    expect(b.cpuSec['bench']).toBeCloseTo(0.3);
    expect(b.cpuSec['other']).toBeCloseTo(0.7);
    expect(b.cpuSec['idle']).toBeCloseTo(0.5);
  });

  it('finds this process among the descendants of its parent', async () => {
    const { descendants } = await import('../../bench/cpu');
    expect(descendants(process.ppid)).toContain(process.pid);
  });
});

describe('disturbed runs', () => {
  it('the table and the page warn when other processes took CPU during the limit runs', () => {
    const base = sample();
    const r = { ...base, limit: { ...base.limit, otherCpuShare: 0.4 } };
    const run = { startedAt: 'x', durationMs: 1, mode: 'full' as const, command: 'c' };
    expect(renderTable(r, run)).toContain('WARNING: other processes used up to 40% of the CPU');
    expect(renderHtml(r, run)).toContain('Other processes used up to 40% of the CPU');
    expect(renderTable({ ...base, limit: { ...base.limit, otherCpuShare: 0.02 } }, run)).not.toContain('WARNING');
  });
});

describe('CPU accounting finding', () => {
  it('decomposes the ratio to the limit into the workers share and their CPU per image', () => {
    const base = sample();
    // limit: 5 img/s on 2 cores -> at most 400 ms CPU per image. Workers: 8 of 10 core-s for 40 images = 200 ms/image.
    const r = { ...base, floodgate: { ...base.floodgate, cpu: { wallSec: 5, capacitySec: 10, cpuSec: { workers: 8, 'dynamodb-local': 1, other: 0.5, idle: 0.5 } } } };
    const text = findings(r, {}).join('\n');
    expect(text).toContain('the workers got 80% of the machine (dynamodb-local 10%, other 5%, idle 5%)');
    expect(text).toContain('spent 200 ms of CPU per image against at most 400 ms in the limit run');
    expect(text).toContain('0.80 x 2.00 = 1.60 predicts the measured ratio');
  });

  it("sets Powertools' CPU per image by thread beside ours", () => {
    const base = sample();
    const r = {
      ...base,
      limit: { ...base.limit, bestConcurrency: 2, threadCpuMsPerImage: { '2': { libvips: 260, 'main thread (JS)': 6 } } },
      floodgate: { ...base.floodgate, efficiency: 0.8, workerThreadCpuMsPerImage: { libvips: 280, 'main thread (JS)': 32, 'V8 workers (GC, compiler)': 40 } },
      powertools: { ...base.powertools, efficiency: 0.78, workerThreadCpuMsPerImage: { libvips: 230, 'exited threads': 70, 'main thread (JS)': 34, 'V8 workers (GC, compiler)': 26 } },
    };
    const text = findings(r, {}).join('\n');
    expect(text).toContain("Powertools' worker spent 360 ms per image against our 352 (efficiency 0.78 vs 0.80; main thread 34 ms, V8 workers 26 ms)");
  });
});

describe('thread groups', () => {
  it('names the threads Node, libuv and libvips create', async () => {
    const { threadGroup, threadTicks, threadDeltaMs } = await import('../../bench/cpu');
    expect(threadGroup('MainThread')).toBe('main thread (JS)');
    expect(threadGroup('libvips worker')).toBe('libvips');
    expect(threadGroup('libuv-worker')).toBe('libuv pool');
    expect(threadGroup('V8Worker')).toBe('V8 workers (GC, compiler)');
    expect(threadGroup('SignalInspector')).toBe('other threads');
    expect(Object.keys(threadTicks(process.pid))).toContain('main thread (JS)');
    expect(threadDeltaMs({ a: 10 }, { a: 35, b: 5 })).toEqual({ a: 250, b: 50 });
  });

  it('keeps the CPU of threads that ended (the process total minus the live threads)', async () => {
    const { EXITED_THREADS, threadTicks, threadDeltaMs } = await import('../../bench/cpu');
    const { Worker } = await import('node:worker_threads');
    const before = threadTicks(process.pid);
    // A thread that burns ~400 ms of CPU and exits: /proc/<pid>/task no longer lists it afterwards.
    const w = new Worker('const t = Date.now(); while (Date.now() - t < 400) {}', { eval: true });
    await new Promise((resolve) => w.on('exit', resolve));
    const delta = threadDeltaMs(before, threadTicks(process.pid));
    expect(delta[EXITED_THREADS]).toBeGreaterThan(200);
  });
});

describe('end-to-end rounds', () => {
  it('runs the sides A B B A', () => {
    expect(pipelineOrder(1)).toEqual(['floodgate', 'powertools']);
    expect(pipelineOrder(2)).toEqual(['floodgate', 'powertools', 'powertools', 'floodgate']);
    expect(FULL_PLAN.pipelineRounds).toBe(2);
  });

  const round = (over: Partial<PipelineResult>): PipelineResult => ({
    imagesPerSec: 4, ratioToLimit: null, peakRssMb: 200, ddbRequestsPerRecord: 2, ddbWriteUnitsPerRecord: 2, images: 40, completed: 40, failed: 0, elapsedMs: 10_000,
    maxConcurrentExecutions: 4, ddbByOperation: { UpdateItem: 80 }, cpu: { wallSec: 10, capacitySec: 20, cpuSec: { workers: 16, idle: 1 } },
    workerThreadCpuMsPerImage: { libvips: 300, 'main thread (JS)': 30 }, maxItemBytes: 500, ...over,
  });

  it('merges rounds from their sums, not by averaging rates', () => {
    const m = mergePipelineRounds([round({}), round({ imagesPerSec: 2, elapsedMs: 20_000, peakRssMb: 250, maxItemBytes: 600, workerThreadCpuMsPerImage: { libvips: 400, 'main thread (JS)': 50 }, cpu: { wallSec: 20, capacitySec: 40, cpuSec: { workers: 30 } } })], 8);
    expect(m.imagesPerSec).toBeCloseTo(80 / 30, 6); // not (4 + 2) / 2
    expect(m.ratioToLimit).toBeCloseTo(80 / 30 / 8, 6);
    expect(m).toMatchObject({ images: 80, completed: 80, elapsedMs: 30_000, peakRssMb: 250, maxItemBytes: 600, ddbRequestsPerRecord: 2, ddbByOperation: { UpdateItem: 160 }, roundsImagesPerSec: [4, 2] });
    expect(m.cpu).toEqual({ wallSec: 30, capacitySec: 60, cpuSec: { workers: 46, idle: 1 } });
    expect(m.workerThreadCpuMsPerImage).toEqual({ libvips: 350, 'main thread (JS)': 40 });
  });

  it('a round that was not measured leaves the merged rate unmeasured, with its reason', () => {
    const m = mergePipelineRounds([round({}), round({ imagesPerSec: null, elapsedMs: null, error: 'timed out' })], 8);
    expect(m.imagesPerSec).toBeNull();
    expect(m.error).toBe('round 2: timed out');
  });

  it('merges stage profiles weighted by invocations', () => {
    const p = (claim: number, invocations: number) => ({ stagesMs: { claim }, ddbLatencyMs: { UpdateItem: claim / 10 }, invocations, coldStarts: 0, meanInitMs: null, cpuLane: 1, batchSizes: [10] });
    expect(mergeStageProfiles([p(100, 1), p(400, 3)])).toEqual({ stagesMs: { claim: 325 }, ddbLatencyMs: { UpdateItem: 32.5 }, invocations: 4, coldStarts: 0, meanInitMs: null, cpuLane: 1, batchSizes: [10, 10] });
    expect(mergeStageProfiles([])).toBeNull();
  });
});
