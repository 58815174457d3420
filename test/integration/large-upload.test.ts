/**
 * Real photo sizes (issue 11): a noisy 18-megapixel JPEG at quality 100 (>= 16 MB, above fauxqs's
 * 11 MiB body cap) is uploaded through the job API's presigned URL and completes. A source over the
 * stack's 20 MiB limit is refused with our own classified errors (the job API's 400 when declared, the
 * worker's TooLarge when not), never the emulator's FST_ERR_CTP_BODY_TOO_LARGE.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '@floodgate/local';
import { ApiRequestError, createApiClient } from '../../local/api-client';
import { deployIntegrationStack, type IntegrationStack } from '../support/local-stack';

const LIMIT = 20 * 1024 * 1024; // the stack's default maxUploadSize

describe('uploads up to the stack limit', () => {
  let s: IntegrationStack;
  let photo: Buffer;
  beforeAll(async () => {
    // Gaussian noise defeats JPEG compression: 4896 x 3672 (18 MP) at q100 is about 18-20 MB.
    [s, photo] = await Promise.all([
      deployIntegrationStack(),
      sharp({ create: { width: 4896, height: 3672, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 22 } } }).jpeg({ quality: 100 }).toBuffer(),
    ]);
  }, 240_000);
  afterAll(() => s?.stop());

  it('a >= 16 MB, 18-megapixel JPEG goes through the presigned PUT and completes', { timeout: 240_000 }, async () => {
    expect(photo.length).toBeGreaterThanOrEqual(16_000_000);
    expect(photo.length).toBeLessThanOrEqual(LIMIT);
    const api = createApiClient({ baseUrl: s.stack.api!.url, region: s.stack.region, credentials: LOCAL_CREDENTIALS });
    const { jobId } = await api.submit(photo, 'image/jpeg');
    const [job] = await s.settle([jobId], 200_000);
    expect(job!.error).toBeUndefined();
    expect(job!.status).toBe('completed');
    expect(job!.renditions?.length).toBeGreaterThan(0);
  });

  it('over the limit: the job API refuses a declared length, the worker fails an undeclared one TooLarge', { timeout: 120_000 }, async () => {
    const tooBig = Buffer.concat([photo.subarray(0, 4096), Buffer.alloc(LIMIT + 1 - 4096, 0)]);
    const api = createApiClient({ baseUrl: s.stack.api!.url, region: s.stack.region, credentials: LOCAL_CREDENTIALS });
    const refused = await api.submit(tooBig, 'image/jpeg').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiRequestError);
    expect((refused as ApiRequestError).status).toBe(400);
    expect(String((refused as Error).message)).not.toMatch(/FST_ERR|Upload413/);

    // Straight to S3 (no declared limit): the upload itself works, the worker refuses the source.
    const jobId = await s.submit('too-big.jpg', tooBig);
    const [job] = await s.settle([jobId], 100_000);
    expect(job).toMatchObject({ status: 'failed', error: { class: 'TooLarge' } });
    expect(job!.error!.reason).toMatch(/limit/);
  });
});
