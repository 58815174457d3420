import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createFunctionHost, lambdaNodeFlags, type FunctionHost, type LogEntry } from '../src/lambda-host/index';
import { singleEndpoint } from '../src/emulators';
import { alive } from '../../../test/support/process';

const assetDir = fileURLToPath(new URL('./fixtures/handlers', import.meta.url));
const hosts: FunctionHost[] = [];
function host(opts: Partial<Parameters<typeof createFunctionHost>[0]> = {}): FunctionHost {
  const h = createFunctionHost({ functionName: 'fixture-fn', assetDir, handler: 'index.handler', timeoutSeconds: 5, memoryMb: 256, maxEnvironments: 2, ...opts });
  hosts.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

describe('lambda host', () => {
  it('runs the CommonJS bundle with a Lambda-like context and env, warm on reuse', async () => {
    const h = host({ environment: { CUSTOM: 'yes' }, endpoints: singleEndpoint('http://127.0.0.1:1') });
    const first = await h.invoke({});
    const second = await h.invoke({});
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    const a = first.value as { pid: number; calls: number; env: Record<string, string>; context: Record<string, unknown> };
    const b = second.value as typeof a;
    expect(b.pid).toBe(a.pid); // same warm environment
    expect(b.calls).toBe(2);
    expect(first.initDurationMs).toBeGreaterThan(0);
    expect(second.initDurationMs).toBeUndefined();
    // One endpoint for every service: a handler's default SDK clients reach the local stack unchanged.
    expect(a.env).toEqual({ fn: 'fixture-fn', mem: '256', custom: 'yes', endpoint: 'http://127.0.0.1:1', region: 'us-east-1', key: 'test' });
    expect(a.context.functionName).toBe('fixture-fn');
    expect(a.context.memoryLimitInMB).toBe('256');
    expect(a.context.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:fixture-fn');
    expect(a.context.awsRequestId).toBe(first.requestId);
    expect(a.context.remaining as number).toBeGreaterThan(4000);
    expect(a.context.remaining as number).toBeLessThanOrEqual(5000);
    const s = h.stats();
    expect(s.invocations).toBe(2);
    expect(s.coldStarts).toBe(1);
    expect(s.environments).toHaveLength(1);
    expect(s.environments[0]!.peakRssKb).toBeGreaterThan(10_000);
  });

  it('supports .mjs handlers and callback-style handlers', async () => {
    const esm = await host({ handler: 'esm.handler' }).invoke({ x: 1 });
    expect(esm.ok && esm.value).toEqual({ esm: true, echo: { x: 1 } });
    const cb = await host({ handler: 'index.callbackStyle' }).invoke({ x: 7 });
    expect(cb.ok && cb.value).toEqual({ viaCallback: 7 });
  });

  it('kills an invocation at its timeout and replaces the environment', async () => {
    const h = host({ timeoutSeconds: 1, maxEnvironments: 1 });
    const warm = await h.invoke({});
    const pid = (warm.ok ? (warm.value as { pid: number }).pid : -1);
    const timedOut = await h.invoke({ action: 'sleep', ms: 5000 });
    expect(timedOut.ok).toBe(false);
    if (!timedOut.ok) expect(timedOut.error).toMatchObject({ kind: 'timeout', errorType: 'Sandbox.Timedout' });
    expect(timedOut.durationMs).toBeLessThan(3000);
    const after = await h.invoke({});
    expect(after.ok).toBe(true);
    expect(after.ok && (after.value as { pid: number }).pid).not.toBe(pid);
    expect(after.initDurationMs).toBeGreaterThan(0); // a new cold start
    expect(alive(pid)).toBe(false);
    const s = h.stats();
    expect(s.timeouts).toBe(1);
    expect(s.environments.map((e) => e.endedBy)).toEqual(['timeout', undefined]);
  });

  it('gives a cold invocation its whole timeout: init is not counted in it', async () => {
    const h = host({ handler: 'slow-init.handler', timeoutSeconds: 2, maxEnvironments: 1, environment: { INIT_MS: '1200' } });
    // 1.2 s of init + 1 s of work: past 2 s in all, within the 2 s timeout of the invocation itself.
    const r = await h.invoke({ ms: 1000 });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.initDurationMs).toBeGreaterThanOrEqual(1200);
    if (r.ok) expect((r.value as { remaining: number }).remaining).toBeGreaterThan(500);
  });

  it('fails a crashed invocation (process.exit) and replaces the environment', async () => {
    const h = host({ maxEnvironments: 1 });
    const crash = await h.invoke({ action: 'exit', code: 7 });
    expect(crash.ok).toBe(false);
    if (!crash.ok) expect(crash.error).toMatchObject({ kind: 'crash', errorType: 'Runtime.ExitError' });
    if (!crash.ok) expect(crash.error.errorMessage).toContain('code 7');
    const next = await h.invoke({});
    expect(next.ok).toBe(true);
    expect(h.stats().crashes).toBe(1);
  });

  it('kills an environment whose memory passes the function memory (native buffers included)', async () => {
    const h = host({ memoryMb: 128, maxEnvironments: 1 });
    const small = await h.invoke({ action: 'alloc', mb: 8, holdMs: 300 });
    expect(small.ok).toBe(true);
    const big = await h.invoke({ action: 'alloc', mb: 300, holdMs: 2000 });
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.error).toMatchObject({ kind: 'oom', errorType: 'Runtime.OutOfMemory' });
    expect((await h.invoke({})).ok).toBe(true);
    const s = h.stats();
    expect(s.outOfMemory).toBe(1);
    expect(s.environments[0]).toMatchObject({ endedBy: 'oom' });
    expect(s.environments[0]!.peakRssKb).toBeGreaterThan(128 * 1024);
  });

  it('reports handler errors without killing the environment', async () => {
    const h = host();
    const r = await h.invoke({ action: 'throw', message: 'nope' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatchObject({ kind: 'handler', errorType: 'TypeError', errorMessage: 'nope' });
      // Lambda's error document carries the stack as `trace`.
      expect(r.error.trace?.[0]).toBe('TypeError: nope');
    }
    const again = await h.invoke({});
    expect(again.environmentId).toBe(r.environmentId);
  });

  it('caps environments and queues invocations beyond the cap', async () => {
    const h = host({ maxEnvironments: 2 });
    const results = await Promise.all(Array.from({ length: 5 }, () => h.invoke({ action: 'sleep', ms: 150 })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(h.stats().environments).toHaveLength(2);
  });

  it('updateCode (hot reload): the next invocation runs the new code in a standby process; the one in flight finishes on the old code', async () => {
    const v1 = mkdtempSync(join(tmpdir(), 'fg-code-v1-'));
    const v2 = mkdtempSync(join(tmpdir(), 'fg-code-v2-'));
    const code = (v: string) => `exports.handler = async (e) => { if (e.ms) await new Promise((r) => setTimeout(r, e.ms)); return { v: '${v}', pid: process.pid, root: process.env.LAMBDA_TASK_ROOT, cwd: process.cwd() }; };\n`;
    writeFileSync(join(v1, 'index.js'), code('v1'));
    writeFileSync(join(v2, 'index.js'), code('v2'));
    const h = host({ assetDir: v1, maxEnvironments: 2, standby: true });
    const warm = await h.invoke({});
    expect(warm.ok && warm.value).toMatchObject({ v: 'v1', root: v1 });
    const slow = h.invoke({ ms: 800 });
    await new Promise((r) => setTimeout(r, 300));
    h.updateCode({ assetDir: v2 });
    expect(h.codeGeneration).toBe(1);
    const next = await h.invoke({});
    // Its environment (the standby process, started on v1's directory) runs with the new asset as task root and cwd.
    expect(next.ok && next.value).toMatchObject({ v: 'v2', root: v2, cwd: v2 });
    const old = await slow;
    expect(old.ok && old.value).toMatchObject({ v: 'v1' });
    const envs = h.stats().environments;
    // The environment of the slow invocation retired once it ended; the new code runs in generation 1.
    expect(envs.find((e) => e.pid === (old.ok && (old.value as { pid: number }).pid))).toMatchObject({ codeGeneration: 0, endedBy: 'code-update' });
    expect(envs.find((e) => e.pid === (next.ok && (next.value as { pid: number }).pid))).toMatchObject({ codeGeneration: 1, alive: true });
    expect(envs.filter((e) => e.alive).every((e) => e.codeGeneration === 1)).toBe(true);
  });

  it('exposes structured log lines and fails init errors clearly', async () => {
    const logs: LogEntry[] = [];
    const h = host({ onLog: (l) => logs.push(l) });
    const r = await h.invoke({ action: 'log', message: 'hello' });
    expect(r.ok).toBe(true);
    await new Promise((res) => setTimeout(res, 50));
    expect(logs.find((l) => l.json?.message === 'hello')?.json?.requestId).toBe(r.requestId);
    const bad = await host({ handler: 'missing.handler' }).invoke({});
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatchObject({ kind: 'init', errorType: 'Runtime.ImportModuleError' });
  });
});

describe('lambdaNodeFlags', () => {
  it("sizes the heap as the Lambda Node.js bootstrap does: semi space = memory / 20, old space = memory - memory / 10", () => {
    expect(lambdaNodeFlags(2048)).toEqual(['--expose-gc', '--max-http-header-size=81920', '--max-semi-space-size=102', '--max-old-space-size=1844']);
    expect(lambdaNodeFlags(128)).toEqual(['--expose-gc', '--max-http-header-size=81920', '--max-semi-space-size=6', '--max-old-space-size=116']);
  });
});
