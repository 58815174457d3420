/** writeBodyToFile: the S3 body straight into a temporary file, with the size limit enforced while writing. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '@floodgate/runtime';
import { ScratchFileError, writeBodyToFile } from '../../lambda/image-worker/source-file';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-source-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function body(chunks: number[][]) {
  let destroyed = false;
  return Object.assign(
    (async function* () {
      for (const c of chunks) yield Uint8Array.from(c);
    })(),
    { destroy: () => void (destroyed = true), destroyed: () => destroyed },
  );
}

describe('writeBodyToFile', () => {
  it('writes every chunk in order and removes the file on dispose', async () => {
    const f = await writeBodyToFile(body([[1, 2], [3], [4, 5, 6]]), 6, 100, 'source', dir);
    expect(f.bytes).toBe(6);
    expect([...readFileSync(f.path)]).toEqual([1, 2, 3, 4, 5, 6]);
    await f.dispose();
    await f.dispose();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes a body of unknown length', async () => {
    const big = Array.from({ length: 40 }, (_, i) => Array.from({ length: 65_536 }, () => i)); // 2.5 MiB: several writev batches
    const f = await writeBodyToFile(body(big), undefined, 10 << 20, 'source', dir);
    const bytes = readFileSync(f.path);
    expect(f.bytes).toBe(40 * 65_536);
    expect([bytes[0], bytes[65_536], bytes[bytes.length - 1]]).toEqual([0, 1, 39]);
    await f.dispose();
  });

  it('stops at the limit with a permanent TooLarge, destroys the body and leaves no file', async () => {
    const b = body([[1, 2, 3], [4, 5, 6]]);
    const err = await writeBodyToFile(b, undefined, 4, 'source', dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).errorClass).toBe('TooLarge');
    expect(b.destroyed()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a body longer or shorter than its Content-Length is retryable', async () => {
    await expect(writeBodyToFile(body([[1, 2, 3]]), 2, 100, 'source', dir)).rejects.toBeInstanceOf(RetryableError);
    await expect(writeBodyToFile(body([[1]]), 2, 100, 'source', dir)).rejects.toThrow(/ended at 1 of 2/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a directory it cannot write to is a ScratchFileError (the worker then reads into memory)', async () => {
    await expect(writeBodyToFile(body([[1]]), 1, 100, 'source', join(dir, 'missing'))).rejects.toBeInstanceOf(ScratchFileError);
  });
});
