/** Fault injection (chaos hooks) and the worker's bundle. */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHandlerClients, needsPathStyle } from '@floodgate/runtime';
import { CRASH_EXIT_CODE, faultPoint, faultsEnabled, parseFaultConfig, resetFaults, seededRandom } from '@floodgate/runtime';
import { localEndpoints } from '../support/local-env';

afterEach(() => {
  delete process.env['FLOODGATE_FAULTS'];
  resetFaults();
  vi.restoreAllMocks();
});

describe('fault injection', () => {
  it('is off, and free, without FLOODGATE_FAULTS', async () => {
    resetFaults();
    expect(faultsEnabled()).toBe(false);
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => { throw new Error('must not exit'); });
    for (let i = 0; i < 1000; i++) await faultPoint('after-claim');
    expect(exit).not.toHaveBeenCalled();
  });

  it('validates its configuration', () => {
    expect(parseFaultConfig(undefined)).toBeUndefined();
    expect(parseFaultConfig('{"seed":3,"awsErrorRate":0.05}')).toMatchObject({ seed: 3, awsErrorRate: 0.05, crashRate: 0, pauseRate: 0 });
    expect(() => parseFaultConfig('{"crashRate":2}')).toThrow(/crashRate must be a number in 0..1/);
  });

  it('seeded randomness replays', () => {
    const a = seededRandom(5);
    const b = seededRandom(5);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  it('crashes the execution environment with exit code 137 and pauses a holder', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => { throw new Error(`exit ${code}`); }) as never);
    process.env['FLOODGATE_FAULTS'] = JSON.stringify({ seed: 1, crashRate: 1 });
    resetFaults();
    await expect(faultPoint('before-complete')).rejects.toThrow(`exit ${CRASH_EXIT_CODE}`);
    expect(exit).toHaveBeenCalledWith(137);

    process.env['FLOODGATE_FAULTS'] = JSON.stringify({ seed: 1, pauseRate: 1, pauseMs: 120, points: ['after-claim'] });
    resetFaults();
    const t0 = Date.now();
    await faultPoint('after-claim');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    const t1 = Date.now();
    await faultPoint('before-complete'); // not in `points`
    expect(Date.now() - t1).toBeLessThan(50);
  });

  it('injects throttling/5xx errors below the SDK retry strategy, which retries them; every attempt is counted', async () => {
    const ep = localEndpoints();
    Object.assign(process.env, { AWS_ENDPOINT_URL_DYNAMODB: ep.dynamodb, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: ep.region });
    process.env['FLOODGATE_FAULTS'] = JSON.stringify({ seed: 11, awsErrorRate: 0.3 });
    resetFaults();
    const c = createHandlerClients(process.env, 6);
    // The stream is seeded with the pid too (one per execution environment): 40 calls at 30% leave no
    // injected error with probability 0.7^40 (< 1e-6), where 8 calls did with 0.7^8 (6%).
    for (let i = 0; i < 40; i++) await c.dynamodb.send(new ListTablesCommand({ Limit: 1 }));
    expect(c.requests.get('dynamodb')).toBeGreaterThan(40);

    process.env['FLOODGATE_FAULTS'] = JSON.stringify({ seed: 11, awsErrorRate: 1 });
    resetFaults();
    const always = createHandlerClients(process.env, 2);
    const err = await always.dynamodb.send(new ListTablesCommand({})).then(() => undefined, (e: unknown) => e as Error & { $metadata?: { attempts?: number } });
    if (!err) throw new Error('expected the call to fail');
    expect(['ThrottlingException', 'InternalServerError']).toContain(err.name);
    expect(err.$metadata?.attempts).toBe(2);
    expect(always.requests.get('dynamodb')).toBe(2);
  }, 30_000);

  it('addresses S3 path-style only when an endpoint override is set', () => {
    expect(needsPathStyle({})).toBe(false);
    expect(needsPathStyle({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4566' })).toBe(true);
    expect(needsPathStyle({ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' })).toBe(true);
  });
});

describe('bundle', () => {
  it('the handler bundles with esbuild as ESM (as NodejsFunction does) and loads', async () => {
    const dir = join(process.cwd(), 'node_modules', '.cache', 'floodgate-bundle-test', randomUUID());
    mkdirSync(dir, { recursive: true });
    try {
      const out = join(dir, 'index.mjs');
      const result = await build({
        entryPoints: ['lambda/image-worker/handler.ts'],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node24',
        external: ['sharp'],
        outfile: out,
        metafile: true,
        logLevel: 'silent',
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      });
      expect(result.errors).toEqual([]);
      const mod = (await import(pathToFileURL(out).href)) as { handler?: unknown };
      expect(typeof mod.handler).toBe('function');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
