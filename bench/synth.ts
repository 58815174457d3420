/**
 * Synthesizes the two apps the benchmark deploys locally: the real one (bin/app.ts, Floodgate worker)
 * and bench/app.ts (Powertools worker), each into its own assembly under .floodgate/bench/, for the
 * host's architecture so the bundled sharp binary loads. A run is skipped when none of the inputs changed
 * (hash of the source trees and the lockfile), as local/ does for `npm start`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join, relative } from 'node:path';
import { ARCH_CONTEXT } from '../lambda/shared/contract';

export interface SynthTarget {
  readonly name: 'floodgate' | 'powertools';
  /** The `--app` command. */
  readonly app: string;
  readonly outDir: string;
}

export function hostArchitecture(): 'x86_64' | 'arm64' {
  return arch() === 'arm64' ? 'arm64' : 'x86_64';
}

function listFiles(dir: string, acc: string[] = []): string[] {
  if (!existsSync(dir)) return acc;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) listFiles(p, acc);
    else if (/\.(ts|mts|js|mjs|json)$/.test(e.name)) acc.push(p);
  }
  return acc;
}

/** Hash of everything that changes what an assembly contains. */
export function inputsHash(root: string, target: SynthTarget): string {
  const h = createHash('sha256');
  h.update(target.app).update(hostArchitecture());
  const files = [
    ...['bin', 'lib', 'lambda', 'bench/powertools-worker'].flatMap((d) => listFiles(join(root, d))),
    join(root, 'bench/app.ts'),
    join(root, 'package-lock.json'),
    join(root, 'cdk.json'),
  ].filter((f) => existsSync(f) && statSync(f).isFile());
  for (const f of files.sort()) h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

export async function synthesize(root: string, target: SynthTarget, log: (m: string) => void = () => undefined): Promise<{ skipped: boolean; ms: number }> {
  const stamp = join(target.outDir, '.bench-inputs-hash');
  const hash = inputsHash(root, target);
  if (existsSync(join(target.outDir, 'manifest.json')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) {
    return { skipped: true, ms: 0 };
  }
  log(`synthesizing ${target.name} (${target.app}) into ${relative(root, target.outDir)}`);
  const start = Date.now();
  const args = ['cdk', 'synth', '--quiet', '--app', target.app, '-o', target.outDir, '-c', `${ARCH_CONTEXT}=${hostArchitecture()}`];
  const child = spawn('npx', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-6000)));
  child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-6000)));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`cdk synth of ${target.name} failed (exit ${code}):\n${out.trim()}`);
  writeFileSync(stamp, hash);
  return { skipped: false, ms: Date.now() - start };
}

export function benchTargets(root: string): SynthTarget[] {
  return [
    { name: 'floodgate', app: 'npx tsx bin/app.ts', outDir: join(root, '.floodgate/bench/cdk.out.floodgate') },
    { name: 'powertools', app: 'npx tsx bench/app.ts', outDir: join(root, '.floodgate/bench/cdk.out.powertools') },
  ];
}
