/**
 * The synthesized app for the reliability tests: the one the global setup provides (whole-suite runs), or
 * synthesized here (cached by input hash) when only these files run. A directory lock keeps two test
 * files from synthesizing into the same assembly directory at once; the second one then hits the cache.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { inject } from 'vitest';
import { synthesize } from '@floodgate/local';

const LOCK = '.floodgate/reliability-synth.lock';

export async function testAssembly(): Promise<string> {
  const provided = inject('assemblyDir');
  if (provided) return provided;
  mkdirSync('.floodgate', { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed run (synth takes well under 3 minutes) is stale.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 180_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return (await synthesize()).assemblyDir;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
