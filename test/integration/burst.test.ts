/**
 * Backpressure under a burst: the executions never exceed the reserved concurrency, and what cannot run
 * stays in the queue. The stack reserves 10; the test lowers it to 3 (same code path) to fit 2 cores.
 */
import { afterAll, expect, it } from 'vitest';
import { deployIntegrationStack, sampleImage, type IntegrationStack } from '../support/local-stack';

let s: IntegrationStack | undefined;
afterAll(async () => {
  await s?.stop();
});

it('under a burst the concurrent executions never exceed the reserved concurrency', { timeout: 150_000 }, async () => {
  s = await deployIntegrationStack({ startRunners: false, functionOverrides: () => ({ reservedConcurrency: 3 }) });
  const runner = [...s.stack.runners.values()][0]!;
  expect(runner.concurrencyCap).toBe(3);
  const img = await sampleImage('jpeg', 96, 64, 7);
  const ids: string[] = [];
  for (let i = 0; i < 60; i += 10) ids.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => s!.submit(`burst-${i + j}.jpg`, img)))));
  s.stack.startRunners();
  const records = await s.settle(ids, 120_000);
  await s.drained();
  expect(records.every((r) => r.status === 'completed' && r.completions === 1)).toBe(true);
  const st = runner.stats();
  expect(st.maxConcurrentExecutions).toBeLessThanOrEqual(3);
  expect(st.maxConcurrentExecutions).toBeGreaterThanOrEqual(2);
  expect(Math.max(...st.samples.map((x) => x.inFlight))).toBeLessThanOrEqual(3);
  expect([...s.stack.hosts.values()][0]!.stats().environments.length).toBeLessThanOrEqual(3);
});
