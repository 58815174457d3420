import { describe, expect, it } from 'vitest';
import os from 'node:os';
import sharp from 'sharp';
import { configureSharp, sharpThreadsPerPipeline } from '../../../lambda/image-worker/image/index';
import { classifySharpError } from '../../../lambda/image-worker/image/sharp-errors';
import { PermanentError, RetryableError } from '@floodgate/runtime';
import { CONSUMER_ENV } from '../../../lambda/shared/contract';

describe('sharp thread settings', () => {
  it('splits vCPUs between the images of the CPU lane, at least one thread each', () => {
    expect(sharpThreadsPerPipeline(2, 2)).toBe(1);
    expect(sharpThreadsPerPipeline(6, 2)).toBe(3);
    expect(sharpThreadsPerPipeline(6, 4)).toBe(1);
    expect(sharpThreadsPerPipeline(1, 8)).toBe(1);
    expect(sharpThreadsPerPipeline(4, 0)).toBe(4);
  });

  it('configureSharp applies the split and turns the libvips cache off', () => {
    const before = { concurrency: sharp.concurrency(), cache: sharp.cache().memory.max };
    try {
      const settings = configureSharp({ [CONSUMER_ENV.cpuConcurrency]: '1' });
      expect(settings.concurrency).toBe(os.availableParallelism());
      expect(sharp.concurrency()).toBe(os.availableParallelism());
      expect(sharp.cache().memory.max).toBe(0);
      expect(configureSharp({ [CONSUMER_ENV.cpuConcurrency]: String(os.availableParallelism()) }).concurrency).toBe(1);
    } finally {
      sharp.concurrency(before.concurrency);
      sharp.cache({ memory: before.cache });
    }
  });
});

describe('classifySharpError', () => {
  const cases: [string, string][] = [
    ['timeout: 43% complete', 'ImageTimeout'],
    ['Input image exceeds pixel limit', 'TooLarge'],
    ['VipsJpeg: premature end of JPEG image', 'CorruptImage'],
    ['Input buffer contains unsupported image format', 'UnsupportedFormat'],
    ['heifload: Unsupported feature: Unsupported codec', 'UnsupportedFormat'],
    ['vipspng: libpng read error', 'CorruptImage'],
  ];
  it.each(cases)('%s -> %s', (message, errorClass) => {
    const err = classifySharpError(new Error(message), 'jpeg', 30);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.errorClass).toBe(errorClass);
  });

  it('passes already classified errors through', () => {
    const retryable = new RetryableError('Timeout', 'aborted');
    expect(classifySharpError(retryable, 'png', 1)).toBe(retryable);
  });
});
