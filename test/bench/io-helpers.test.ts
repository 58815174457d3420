/** The benchmark's helpers that touch disk, child processes or the emulators. */
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureImageSet, mulberry32, synthesizePixels } from '../../bench/images';
import { startDdbCounter } from '../../bench/ddb-counter';
import { runChild } from '../../bench/child';
import { bundleSizes, handlerModule, measureImportMs } from '../../bench/scenarios/cold-start';
import { LOCAL_CREDENTIALS } from '@floodgate/local';
import { localEndpoints } from '../support/local-env';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fg-bench-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('image set', () => {
  it('is deterministic for a seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
    expect(synthesizePixels(16, 8, 3, 1, 10).equals(synthesizePixels(16, 8, 3, 1, 10))).toBe(true);
    expect(synthesizePixels(16, 8, 3, 1, 10).equals(synthesizePixels(16, 8, 3, 2, 10))).toBe(false);
  });

  it('generates decodable JPEGs and alpha PNGs once, then reuses the cache', async () => {
    const dir = await tempDir();
    const spec = { jpegs: 2, pngs: 1, jpegWidth: 120, jpegHeight: 90, pngWidth: 60, pngHeight: 40, seed: 3 };
    const first = await ensureImageSet(dir, spec);
    expect(first.map((i) => i.name)).toEqual(['photo-00.jpg', 'photo-01.jpg', 'graphic-00.png']);
    const jpeg = await sharp(first[0]!.path).metadata();
    expect(jpeg).toMatchObject({ format: 'jpeg', width: 120, height: 90 });
    const png = await sharp(first[2]!.path).metadata();
    expect(png).toMatchObject({ format: 'png', width: 60, height: 40, hasAlpha: true });
    const mtime = (await stat(first[0]!.path)).mtimeMs;
    const again = await ensureImageSet(dir, spec);
    expect(again).toEqual(first);
    expect((await stat(first[0]!.path)).mtimeMs).toBe(mtime);
  });
});

describe('DynamoDB wire counter', () => {
  it('counts data-plane requests by operation, not control-plane ones, and forwards answers', async () => {
    const endpoints = localEndpoints();
    const counter = await startDdbCounter(endpoints.dynamodb);
    try {
      const client = new DynamoDBClient({ region: endpoints.region, endpoint: counter.endpoint, credentials: LOCAL_CREDENTIALS });
      const TableName = `bench-counter-${Date.now()}`;
      await client.send(new CreateTableCommand({ TableName, KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
      await client.send(new PutItemCommand({ TableName, Item: { id: { S: 'a' }, v: { N: '1' } } }));
      await client.send(new PutItemCommand({ TableName, Item: { id: { S: 'b' }, v: { N: '2' } } }));
      const got = await client.send(new GetItemCommand({ TableName, Key: { id: { S: 'b' } } }));
      expect(got.Item?.['v']?.N).toBe('2');
      expect(counter.snapshot()).toEqual({ PutItem: 2, GetItem: 1 });
      expect(counter.total()).toBe(3);
      expect(Object.keys(counter.latencies()).sort()).toEqual(['GetItem', 'PutItem']);
      counter.reset();
      expect(counter.total()).toBe(0);
      client.destroy();
    } finally {
      await counter.stop();
    }
  });
});

describe('child runner', () => {
  it('returns the child result with its own peak RSS, and reports a failing child with its stderr', async () => {
    const dir = await tempDir();
    const ok = join(dir, 'ok.ts');
    await writeFile(ok, `import { childInput, reportResult } from ${JSON.stringify(join(process.cwd(), 'bench/child'))};\nconst i = childInput<{ n: number }>();\nconst big = Buffer.alloc(i.n * 1024 * 1024, 1);\nreportResult({ doubled: i.n * 2, sum: big[0] });\n`);
    const r = await runChild<{ doubled: number }>(ok, { n: 64 });
    expect(r.doubled).toBe(128);
    // 64 MB were touched, so the high-water mark is above that.
    expect(r.peakRssKb).toBeGreaterThan(64 * 1024);
    const bad = join(dir, 'bad.ts');
    await writeFile(bad, `console.error('something specific broke'); process.exit(3);\n`);
    await expect(runChild(bad, {})).rejects.toThrow(/exited with 3: something specific broke/);
  });
});

describe('cold start helpers', () => {
  it('sizes a bundle without node_modules, finds the handler module and imports it in a fresh process', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'index.mjs'), 'export const handler = async () => 1;\n');
    await rm(join(dir, 'node_modules'), { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'node_modules/x'), { recursive: true });
    await writeFile(join(dir, 'node_modules/x/big.js'), 'x'.repeat(10_000));
    const sizes = bundleSizes(dir);
    expect(sizes.bundleBytes).toBe(Buffer.byteLength('export const handler = async () => 1;\n'));
    expect(sizes.assetBytes).toBe(sizes.bundleBytes + 10_000);
    expect(handlerModule(dir, 'index.handler')).toBe(join(dir, 'index.mjs'));
    expect(() => handlerModule(dir, 'missing.handler')).toThrow(/no module/);
    const ms = await measureImportMs(join(dir, 'index.mjs'), {});
    expect(ms).toBeGreaterThan(0);
    await writeFile(join(dir, 'nohandler.mjs'), 'export const other = 1;\n');
    await expect(measureImportMs(join(dir, 'nohandler.mjs'), {})).rejects.toThrow(/no handler export/);
  });
});

describe('cold start pair', () => {
  it('alternates the two sides and reports a broken side with its reason, not a number', async () => {
    const { measureColdStartPair } = await import('../../bench/scenarios/cold-start');
    const dir = await tempDir();
    await writeFile(join(dir, 'index.mjs'), 'export const handler = async () => 1;\n');
    const [ok, broken] = await measureColdStartPair({ assetDir: dir, handler: 'index.handler', env: {} }, new Error('synth failed: boom'), 2);
    expect(ok.initMsSamples).toHaveLength(2);
    expect(ok.initMsMedian).toBeGreaterThan(0);
    expect(broken).toEqual({ bundleBytes: null, initMsMedian: null, initMsSamples: [], error: 'synth failed: boom' });
  });
});
