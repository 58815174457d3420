/**
 * The Node 24 guard (scripts/check-node.mjs) runs before test, start, synth, chaos, burst, bench, dlq and
 * corpus. `npm ci --ignore-scripts` skips node@24's install step and npm scripts would then silently run on
 * the machine's Node: the guard must refuse that loudly.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const guard = 'scripts/check-node.mjs';

/** A node binary on PATH outside node_modules whose major is not 24 (the machine's own), if any. */
function otherNode(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules'));
  for (const dir of dirs) {
    const bin = `${dir}/node`;
    const r = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status === 0 && !r.stdout.startsWith('24.')) return bin;
  }
  return undefined;
}

describe('Node 24 guard', () => {
  it('passes on the Node 24 the project installs', () => {
    expect(process.versions.node.startsWith('24.')).toBe(true);
    expect(() => execFileSync(process.execPath, [guard])).not.toThrow();
  });

  const other = otherNode();
  it.skipIf(other === undefined)(`fails loudly on another major (${other ?? 'none on PATH'})`, () => {
    const r = spawnSync(other!, [guard], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Floodgate needs Node 24 .* runs on v\d+/);
    expect(r.stderr).toMatch(/--ignore-scripts/);
  });

  it('guards every entry script', () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    for (const name of ['test', 'start', 'synth', 'chaos', 'burst', 'bench', 'dlq', 'corpus']) {
      // The guard comes first; some entries then build the packages (`&& npm run build`).
      expect(scripts[`pre${name}`], `pre${name}`).toMatch(/^node scripts\/check-node\.mjs( && |$)/);
    }
  });
});
