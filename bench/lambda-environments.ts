/**
 * What N warm execution environments of a small handler cost, measured: the Lambda host forks one child
 * process per environment, so the local scaling ceiling (150 by default) must fit in memory.
 *
 *   npx tsx bench/lambda-environments.ts [--n 150] [--json]
 *
 * For each handler (no dependencies; one that imports the AWS SDK) and each flag set, it starts N
 * concurrent invocations (so N environments), then reads every environment's VmRSS and Pss
 * (/proc/<pid>/smaps_rollup: shared pages divided among the processes that share them) and the drop in
 * the machine's MemAvailable. Prints measured figures only.
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createFunctionHost } from '@floodgate/local';

const args = process.argv.slice(2);
const n = Number(args[args.indexOf('--n') + 1] ?? 150) || 150;
const json = args.includes('--json');
const assetDir = fileURLToPath(new URL('../packages/local/test/fixtures/handlers', import.meta.url));

const memAvailableKb = (): number => Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
const procKb = (pid: number, file: string, key: string): number => {
  try {
    return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

interface Row { handler: string; flags: string; environments: number; rssMbEach: number; pssMbEach: number; pssMbTotal: number; memAvailableDropMb: number; spawnSeconds: number }

async function measure(handler: string, event: object, flags: string[]): Promise<Row> {
  const before = memAvailableKb();
  const host = createFunctionHost({ functionName: `bench-${handler}`, assetDir, handler, timeoutSeconds: 120, memoryMb: 128, maxEnvironments: n, execArgv: flags, enforceMemoryLimit: false });
  const t0 = performance.now();
  try {
    const results = await Promise.all(Array.from({ length: n }, () => host.invoke(event)));
    const failed = results.filter((r) => !r.ok);
    if (failed.length) throw new Error(`${failed.length} invocations failed: ${JSON.stringify(failed[0])}`);
    const spawnSeconds = (performance.now() - t0) / 1000;
    const envs = host.stats().environments.filter((e) => e.alive);
    const rss = envs.reduce((s, e) => s + procKb(e.pid, 'status', 'VmRSS'), 0);
    const pss = envs.reduce((s, e) => s + procKb(e.pid, 'smaps_rollup', 'Pss'), 0);
    const drop = before - memAvailableKb();
    const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;
    return { handler, flags: flags.join(' ') || '(default)', environments: envs.length, rssMbEach: mb(rss / envs.length), pssMbEach: mb(pss / envs.length), pssMbTotal: Math.round(pss / 1024), memAvailableDropMb: Math.round(drop / 1024), spawnSeconds: Math.round(spawnSeconds * 10) / 10 };
  } finally {
    await host.stop();
  }
}

const rows: Row[] = [];
const variants: string[][] = [[], ['--max-semi-space-size=1', '--single-threaded']];
// The invocation sleeps long enough that all N overlap, so the pool grows to N environments.
const sleepMs = 2000 + n * 40;
for (const flags of variants) {
  rows.push(await measure('tiny.handler', { Records: [{ messageId: 'm', body: JSON.stringify({ id: 'x', ms: sleepMs }) }] }, flags));
  rows.push(await measure('sqs.handler', { Records: [{ messageId: 'm', body: JSON.stringify({ id: 'x', action: 'sleep', ms: sleepMs }), attributes: { ApproximateReceiveCount: '1' } }] }, flags));
}
const machine = { cpus: cpus().length, totalMemMb: Math.round(totalmem() / 2 ** 20), node: process.version };
if (json) console.log(JSON.stringify({ n, machine, rows }));
else {
  console.log(`${n} environments, memoryMb 128, on ${machine.cpus} cores / ${machine.totalMemMb} MB, Node ${machine.node}`);
  console.table(rows);
}
