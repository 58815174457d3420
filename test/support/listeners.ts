/**
 * The TCP listening sockets of a process tree, read from /proc (Linux): /proc/net/tcp and tcp6 give
 * each socket's local address, state and inode; /proc/<pid>/fd links (`socket:[INODE]`) say which
 * process holds it. Used by the loopback test: no process of the local stack may listen on anything
 * but loopback.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface Listener {
  /** Local address as text: 127.0.0.1, 0.0.0.0, ::, ::1, ::ffff:127.0.0.1, ... */
  readonly address: string;
  readonly port: number;
  readonly inode: number;
  readonly family: 4 | 6;
}

export interface OwnedListener extends Listener {
  readonly pid: number;
  /** The process's command line (for the failure message). */
  readonly command: string;
}

const TCP_LISTEN = '0A';

/** The kernel writes each 32-bit word of an address in host order (little-endian on x86 and arm64). */
function wordLE(hex8: string): number[] {
  return [hex8.slice(6, 8), hex8.slice(4, 6), hex8.slice(2, 4), hex8.slice(0, 2)].map((b) => parseInt(b, 16));
}

export function decodeAddress(hex: string): string {
  if (hex.length === 8) return wordLE(hex).join('.');
  const bytes = [0, 8, 16, 24].flatMap((i) => wordLE(hex.slice(i, i + 8)));
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  // Shorten the longest run of zero groups (enough for ::, ::1 and the like).
  const text = groups.join(':');
  const m = /(?:^|:)0(?::0)+(?::|$)/.exec(text);
  return m ? `${text.slice(0, m.index)}::${text.slice(m.index + m[0].length)}` : text;
}

/** The LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6. */
export function parseProcNetTcp(text: string, family: 4 | 6): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const [addr, port] = f[1]!.split(':');
    out.push({ address: decodeAddress(addr!), port: parseInt(port!, 16), inode: Number(f[9]), family });
  }
  return out;
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

/** `root` and all its descendants, from the parent pids in /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) if (tree.has(ppid) && !tree.has(pid)) (tree.add(pid), (grew = true));
  }
  return [...tree];
}

/** Every descendant of `root` (children of children included), without `root`. */
export function descendants(root: number): number[] {
  return processTree(root).filter((pid) => pid !== root);
}

function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** Every TCP listener held by one of `pids` (whatever its network namespace's /proc/net shows). */
export function listenersOf(pids: readonly number[]): OwnedListener[] {
  const out: OwnedListener[] = [];
  for (const pid of pids) {
    const inodes = socketInodes(pid);
    if (inodes.size === 0) continue;
    let all: Listener[];
    try {
      all = [...parseProcNetTcp(readFileSync(`/proc/${pid}/net/tcp`, 'utf8'), 4), ...parseProcNetTcp(readFileSync(`/proc/${pid}/net/tcp6`, 'utf8'), 6)];
    } catch {
      continue;
    }
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 200);
    } catch {
      // gone
    }
    for (const l of all) if (inodes.has(l.inode)) out.push({ ...l, pid, command });
  }
  return out;
}

/** The listeners of `root`'s process tree that are not on loopback. */
export function nonLoopbackListeners(root: number): OwnedListener[] {
  return listenersOf(processTree(root)).filter((l) => !isLoopback(l.address));
}
