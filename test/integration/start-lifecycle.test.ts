/**
 * `npm start` lifecycle: bad arguments exit 2 before anything starts; Ctrl-C in the middle of a run
 * stops everything it started (DynamoDB Local JVM, execution environments) and exits 130.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { assemblyDir } from '../support/local-stack';
import { onExternalEndpoint } from '../support/target';
import { descendants } from '../support/listeners';

const run = promisify(execFile);
const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], { timeout: 60_000 });

beforeAll(async () => {
  await assemblyDir();
});

it('rejects unknown flags and a missing --images directory with exit code 2', async () => {
  for (const args of [['--bogus'], ['--images', '/nonexistent/floodgate'], ['--target', 'mars']]) {
    const err = (await cli(args).then(() => undefined, (e: unknown) => e)) as { code?: number; stderr?: string; stdout?: string } | undefined;
    expect(err?.code, args.join(' ')).toBe(2);
    expect(`${err?.stdout}${err?.stderr}`).toMatch(/Usage: npm start/);
  }
});


const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it.skipIf(onExternalEndpoint('checks that the embedded DynamoDB Local JVM is stopped: there is none with an external endpoint'))('Ctrl-C during a run stops the emulators and every execution environment, exit 130', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const end = Date.now() + 90_000;
  while (!/submitting/.test(out) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  expect(out).toMatch(/submitting/);
  await new Promise((r) => setTimeout(r, 1500)); // let the runners start environments
  const started = descendants(child.pid!);
  const java = started.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('DynamoDBLocal');
    } catch {
      return false;
    }
  });
  expect(java.length).toBeGreaterThan(0);
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  const deadline = Date.now() + 10_000;
  while (started.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(started.filter(alive)).toEqual([]);
});
