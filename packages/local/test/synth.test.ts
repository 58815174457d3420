import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostArchitecture, inputHash } from '../src/synth';

describe('synth input hash', () => {
  it('changes with file content, names and context, and ignores node_modules and dot folders', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-hash-'));
    mkdirSync(join(dir, 'lib', 'node_modules'), { recursive: true });
    mkdirSync(join(dir, 'lib', '.cache'), { recursive: true });
    writeFileSync(join(dir, 'lib', 'a.ts'), 'export const a = 1;');
    const ctx = { 'floodgate:architecture': 'x86_64' };
    const h0 = inputHash(dir, ['lib', 'missing.json'], ctx);
    expect(inputHash(dir, ['lib', 'missing.json'], ctx)).toBe(h0);
    writeFileSync(join(dir, 'lib', 'node_modules', 'x.js'), 'ignored');
    writeFileSync(join(dir, 'lib', '.cache', 'y'), 'ignored');
    expect(inputHash(dir, ['lib'], ctx)).toBe(h0);
    expect(inputHash(dir, ['lib'], { 'floodgate:architecture': 'arm64' })).not.toBe(h0);
    writeFileSync(join(dir, 'lib', 'a.ts'), 'export const a = 2;');
    const h1 = inputHash(dir, ['lib'], ctx);
    expect(h1).not.toBe(h0);
    writeFileSync(join(dir, 'lib', 'b.ts'), '');
    expect(inputHash(dir, ['lib'], ctx)).not.toBe(h1);
  });

  it('names the host architecture the way Lambda does', () => {
    expect(['x86_64', 'arm64']).toContain(hostArchitecture());
    if (process.arch === 'x64') expect(hostArchitecture()).toBe('x86_64');
  });
});
