/**
 * A source image goes from the S3 body straight into a file in the temporary directory (Lambda's /tmp),
 * and sharp opens the file: the bytes are never assembled into one V8 buffer. V8 counts external bytes
 * allocated since its last mark-compact against the old generation's headroom, so a 4 MB buffer per
 * image is paid for in major GCs (measured with bench/profile/worker-cpu.ts; figures in docs/benchmarks.md).
 * The size limit is enforced while writing, as readBody does in memory.
 */
import { randomUUID } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentError, RetryableError } from '@floodgate/runtime';

export interface SourceFile {
  readonly path: string;
  readonly bytes: number;
  /** Removes the file (idempotent). */
  dispose(): Promise<void>;
}

/** The file system refused (full, read-only, no permission): the caller can read into memory instead. */
export class ScratchFileError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ScratchFileError';
  }
}

/** Chunks are written in batches of about this many bytes (one writev each, not one write per chunk). */
const WRITE_BATCH_BYTES = 1 << 20;

export async function writeBodyToFile(
  body: AsyncIterable<Uint8Array> & { destroy?: () => void },
  length: number | undefined,
  maxBytes: number,
  what: string,
  dir: string = tmpdir(),
): Promise<SourceFile> {
  const path = join(dir, `floodgate-source-${randomUUID()}`);
  const dispose = () => rm(path, { force: true });
  const fs = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw new ScratchFileError(`${what}: cannot write ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const file = await fs(() => open(path, 'wx'));
  let total = 0;
  try {
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const chunks = batch;
      batch = [];
      batchBytes = 0;
      await fs(() => file.writev(chunks));
    };
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        body.destroy?.();
        throw new PermanentError('TooLarge', `${what} is more than ${total} bytes; the limit is ${maxBytes}`);
      }
      if (length !== undefined && total > length) {
        body.destroy?.();
        throw new RetryableError('ServiceUnavailable', `${what}: body longer than its Content-Length ${length}`);
      }
      batch.push(chunk);
      batchBytes += chunk.byteLength;
      if (batchBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
    if (length !== undefined && total !== length) throw new RetryableError('ServiceUnavailable', `${what}: body ended at ${total} of ${length} bytes`);
    await fs(() => file.close());
    return { path, bytes: total, dispose };
  } catch (err) {
    await file.close().catch(() => undefined);
    await dispose();
    throw err;
  }
}
