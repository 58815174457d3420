/** readBody: the S3 body straight into one buffer, with the size limit enforced while reading. */
import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '@floodgate/runtime';
import { readBody } from '../../lambda/image-worker/worker';

function body(chunks: number[][]) {
  let destroyed = false;
  return Object.assign(
    (async function* () {
      for (const c of chunks) yield Uint8Array.from(c);
    })(),
    { destroy: () => void (destroyed = true), destroyed: () => destroyed },
  );
}

describe('readBody', () => {
  it('fills one buffer of the announced length from the chunks', async () => {
    const buf = await readBody(body([[1, 2], [3], [4, 5, 6]]), 6, 100, 'source');
    expect([...buf]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(buf.length).toBe(6);
  });
  it('without a length, concatenates and stops at the limit with TooLarge', async () => {
    expect([...(await readBody(body([[1], [2, 3]]), undefined, 10, 'source'))]).toEqual([1, 2, 3]);
    const b = body([[1, 2, 3], [4, 5, 6]]);
    const err = await readBody(b, undefined, 4, 'source').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).errorClass).toBe('TooLarge');
    expect(b.destroyed()).toBe(true);
  });
  it('a body longer or shorter than its Content-Length is a retryable transport error', async () => {
    await expect(readBody(body([[1, 2, 3]]), 2, 100, 'source')).rejects.toBeInstanceOf(RetryableError);
    await expect(readBody(body([[1]]), 2, 100, 'source')).rejects.toThrow(/ended at 1 of 2/);
  });
});
