/** The environment contract is copied in @floodgate/runtime (each package stands alone): the copies must agree. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONSUMER_ENV as RUNTIME_ENV } from '../../runtime/src/env';
import { CONSUMER_ENV } from '../src/env';

/** The file without its leading doc comment (which says which side it is on). */
function body(relative: string): string {
  const text = readFileSync(fileURLToPath(new URL(relative, import.meta.url)), 'utf8');
  return text.replace(/^\/\*\*[\s\S]*?\*\/\s*/, '').trim();
}

describe('CONSUMER_ENV', () => {
  it('has the same names and values in @floodgate/cdk and @floodgate/runtime', () => {
    expect(CONSUMER_ENV).toEqual(RUNTIME_ENV);
  });

  it('is the same source text (doc comments included) in both packages', () => {
    expect(body('../src/env.ts')).toBe(body('../../runtime/src/env.ts'));
  });
});
