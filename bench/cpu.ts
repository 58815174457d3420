/**
 * Where the machine's CPU went during a measured phase, from /proc: the workers' execution environments,
 * the benchmark process (fauxqs SQS + S3, the event source runner, the counting proxy), DynamoDB Local's
 * JVM, everything else on the machine (other users), and idle. This is what says whether a throughput
 * below the limit is the consumer's fault or the emulators' or a busy machine's.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of one process from a /proc/<pid>/stat line, in clock ticks (null if unparsable). */
export function parseStatTicks(stat: string): { ticks: number; ppid: number } | null {
  // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
  const end = stat.lastIndexOf(')');
  if (end < 0) return null;
  const f = stat.slice(end + 2).split(' ');
  // After the name: state(3) ppid(4) ... utime(14) stime(15) -> indexes 0-based from field 3.
  const ppid = Number(f[1]);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { ticks: utime + stime, ppid };
}

/** The aggregate `cpu` line of /proc/stat: busy and idle ticks. */
export function parseProcStat(text: string): { busy: number; idle: number } | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

function readTicks(pid: number): number {
  try {
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.ticks ?? 0;
  } catch {
    return 0; // exited
  }
}

/** Every live descendant of `pid` (scan of /proc: no dependency on CONFIG_PROC_CHILDREN). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const p = parseStatTicks(readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (p) parent.set(Number(name), p.ppid);
    } catch {
      // raced with an exit
    }
  }
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [child, pp] of parent) if (pp === p) (out.push(child), frontier.push(child));
  }
  return out;
}

/** Thread groups by the names Node 24, libuv and libvips give their threads (/proc/<pid>/task/<tid>/comm). */
export function threadGroup(name: string): string {
  if (name === 'MainThread' || name === 'node') return 'main thread (JS)';
  if (name.startsWith('libvips')) return 'libvips';
  if (name === 'libuv-worker') return 'libuv pool';
  if (name === 'V8Worker') return 'V8 workers (GC, compiler)';
  return 'other threads';
}

/**
 * Threads that ended: the process's own utime + stime (/proc/<pid>/stat) keeps the CPU of its exited
 * threads, /proc/<pid>/task lists only live ones. libvips retires idle pool threads, so without this
 * group a process that starts and ends many pipelines looks cheaper than it is.
 */
export const EXITED_THREADS = 'exited threads';

/** CPU ticks of every thread of `pid`, summed by thread group (EXITED_THREADS: the rest of the process's). */
export function threadTicks(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  let live = 0;
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const t = parseStatTicks(stat);
      if (t) {
        out[threadGroup(name)] = (out[threadGroup(name)] ?? 0) + t.ticks;
        live += t.ticks;
      }
    } catch {
      // thread ended: its ticks are now in the process total
    }
  }
  // Read after the threads, so the total covers them (it can only have grown since).
  out[EXITED_THREADS] = Math.max(0, readTicks(pid) - live);
  return out;
}

/** Sum of per-group ticks over several processes. */
export function sumThreadTicks(pids: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids) for (const [g, t] of Object.entries(threadTicks(pid))) out[g] = (out[g] ?? 0) + t;
  return out;
}

/** after - before, per group, in ms of CPU (threads that ended in between count under EXITED_THREADS). */
export function threadDeltaMs(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const hz = clockTicks();
  return Object.fromEntries(Object.keys(after).map((g) => [g, Math.max(0, ((after[g] ?? 0) - (before[g] ?? 0)) * (1000 / hz))]));
}

export interface CpuSnapshot {
  readonly at: number;
  readonly machine: { busy: number; idle: number };
  readonly groups: Record<string, number>;
}

export interface CpuBreakdown {
  /** Wall time of the phase, s. */
  readonly wallSec: number;
  /** Cores x wall time, s. */
  readonly capacitySec: number;
  /** CPU seconds per group (e.g. workers, bench process, dynamodb-local), plus `other` and `idle`. */
  readonly cpuSec: Record<string, number>;
}

/** Snapshot of CPU ticks for named groups of pids (read at call time) and of the whole machine. */
export function cpuSnapshot(groups: Record<string, () => readonly number[]>): CpuSnapshot {
  const machine = parseProcStat(readFileSync('/proc/stat', 'utf8')) ?? { busy: 0, idle: 0 };
  const g: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) g[name] = pids().reduce((a, pid) => a + readTicks(pid), 0);
  return { at: performance.now(), machine, groups: g };
}

/**
 * Difference of two snapshots. A process that exited between them loses its ticks (its group is then
 * under-counted and `other` over-counted); execution environments stay alive during a measured phase.
 */
export function cpuBreakdown(before: CpuSnapshot, after: CpuSnapshot, cores: number): CpuBreakdown {
  const hz = clockTicks();
  const wallSec = (after.at - before.at) / 1000;
  const cpuSec: Record<string, number> = {};
  let ours = 0;
  for (const name of Object.keys(after.groups)) {
    const sec = Math.max(0, (after.groups[name]! - (before.groups[name] ?? 0)) / hz);
    cpuSec[name] = sec;
    ours += sec;
  }
  const busySec = (after.machine.busy - before.machine.busy) / hz;
  cpuSec['other'] = Math.max(0, busySec - ours);
  cpuSec['idle'] = Math.max(0, (after.machine.idle - before.machine.idle) / hz);
  return { wallSec, capacitySec: wallSec * cores, cpuSec };
}
