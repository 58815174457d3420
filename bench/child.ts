/**
 * Every memory-sensitive scenario runs in its own child process so peaks cannot mix: the child reports
 * its own VmHWM (peak resident set size, from /proc/self/status) with its result on one marked stdout
 * line. Children are TypeScript files run on the same Node (process.execPath) through tsx's loader.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseVmHwmKb } from './stats';

const MARKER = 'BENCH_RESULT ';

/** Child side: the input the parent passed. */
export function childInput<T>(): T {
  const raw = process.env.BENCH_INPUT;
  if (raw === undefined) throw new Error('BENCH_INPUT is not set: run this file through runChild()');
  return JSON.parse(raw) as T;
}

/** Child side: this process's peak RSS so far, KiB (VmHWM). */
export function selfPeakRssKb(): number {
  return parseVmHwmKb(readFileSync('/proc/self/status', 'utf8')) ?? 0;
}

/** Child side: prints the result (with peak RSS and CPU time used) on the marked line. */
export function reportResult(result: object): void {
  const cpu = process.cpuUsage();
  process.stdout.write(`${MARKER}${JSON.stringify({ ...result, peakRssKb: selfPeakRssKb(), cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
}

/** Parent side: the marked result line of a child's stdout, parsed. */
export function parseChildResult<T>(stdout: string): (T & { peakRssKb: number }) | null {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(MARKER));
  return line === undefined ? null : (JSON.parse(line.slice(MARKER.length)) as T & { peakRssKb: number });
}

export interface RunChildOptions {
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
  /** Extra node flags (e.g. --expose-gc). */
  readonly nodeArgs?: readonly string[];
}

/** Parent side: runs a TypeScript child script with `input`, returns its result or throws with its stderr. */
export async function runChild<T>(script: string, input: unknown, options: RunChildOptions = {}): Promise<T & { peakRssKb: number; cpuMs: number }> {
  const { env = {}, timeoutMs = 300_000, nodeArgs = [] } = options;
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    env: { ...process.env, ...env, BENCH_INPUT: JSON.stringify(input) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  const parsed = parseChildResult<T & { cpuMs: number }>(stdout);
  if (code !== 0 || parsed === null) {
    throw new Error(`${script} exited with ${code ?? 'a signal (timeout?)'}: ${stderr.trim().split('\n').slice(-6).join(' | ') || 'no output'}`);
  }
  return parsed;
}
