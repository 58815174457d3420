/**
 * `npm start` end to end, as a user runs it: a directory of real and junk files, --out and --json.
 * Runs the CLI in a child process (the synthesized assembly is reused from the cache).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, expect, it } from 'vitest';
import { sampleImage } from '../../local/samples';
import { assemblyDir } from '../support/local-stack';

const run = promisify(execFile);

beforeAll(async () => {
  await assemblyDir(); // synthesized once by the global setup (or here), so the CLI reuses it
});

it('npm start --images DIR --out OUT --json: real photos complete, junk fails with a reason, the run succeeds', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-start-in-'));
  const out = mkdtempSync(join(tmpdir(), 'fg-start-out-'));
  writeFileSync(join(dir, 'Holiday Photo.JPG'), await sampleImage('jpeg', 2000, 1500, 1));
  writeFileSync(join(dir, 'scan'), await sampleImage('png', 500, 700, 2));
  writeFileSync(join(dir, 'notes.txt'), 'not an image\n');
  writeFileSync(join(dir, 'empty.jpg'), '');
  const full = await sampleImage('jpeg', 800, 600, 3);
  writeFileSync(join(dir, 'cut.jpg'), full.subarray(0, full.length >> 1));

  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'local/start.ts', '--images', dir, '--out', out, '--json'], { maxBuffer: 16 << 20, timeout: 220_000 });
  const last = stdout.trim().split('\n').at(-1)!;
  const summary = JSON.parse(last) as {
    submitted: number; completed: number; failed: number; deadLettered: number; pending: number;
    maxConcurrentExecutions: number; reservedConcurrency: number; elapsedMs: number;
    jobs: Array<{ file: string; jobId: string | null; status: string; renditions: Array<{ name: string; key: string; width: number; height: number; bytes: number; format: string }>; error?: { class: string; reason: string } }>;
  };
  expect(summary).toMatchObject({ submitted: 5, completed: 2, failed: 3, pending: 0 });
  expect(summary.maxConcurrentExecutions).toBeGreaterThanOrEqual(1);
  expect(summary.maxConcurrentExecutions).toBeLessThanOrEqual(summary.reservedConcurrency);
  const byFile = new Map(summary.jobs.map((j) => [j.file, j]));
  expect(byFile.get('notes.txt')).toMatchObject({ status: 'failed', error: { class: 'UnsupportedFormat' } });
  expect(byFile.get('cut.jpg')).toMatchObject({ status: 'failed', error: { class: 'CorruptImage' } });
  expect(byFile.get('empty.jpg')?.status).toBe('failed');
  expect(byFile.get('empty.jpg')?.error?.reason).toBeTruthy();

  const photo = byFile.get('Holiday Photo.JPG')!;
  expect(photo.status).toBe('completed');
  const files = readdirSync(join(out, 'Holiday Photo')).sort();
  expect(files).toEqual(photo.renditions.map((r) => r.key.split('/').at(-1)!).sort());
  for (const r of photo.renditions) {
    const bytes = readFileSync(join(out, 'Holiday Photo', r.key.split('/').at(-1)!));
    expect(bytes.length).toBe(r.bytes);
    const meta = await sharp(bytes).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([r.width, r.height, r.format]);
  }
  expect(existsSync(join(out, 'scan'))).toBe(true);
  expect(existsSync('report.html')).toBe(true);
});
