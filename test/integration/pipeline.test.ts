/**
 * The real stack (synthesized app, bundled worker with sharp) on the local emulators: happy path,
 * duplicate delivery, a corrupt image, and one bad record in a batch of good ones.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_OUTPUTS } from '../../lambda/shared/contract';
import { peekDeadLetters } from '../../local/producer';
import { deployIntegrationStack, sampleImage, type IntegrationStack } from '../support/local-stack';
import { onExternalEndpoint } from '../support/target';

let it0: IntegrationStack;
beforeAll(async () => {
  it0 = await deployIntegrationStack({ startRunners: false });
});
afterAll(async () => {
  await it0?.stop();
});

const failedLogsFor = (jobId: string) => it0.logs.filter((l) => l.jobId === jobId && l.message === 'record failed');

describe('image pipeline on the local stack', () => {
  it('one bad record never fails its batch; a corrupt image goes to the DLQ with its reason, once', async () => {
    // Enqueue first, then start polling, so the records arrive together in batches.
    const good = await Promise.all([1, 2, 3, 4].map(async (i) => it0.submit(`good-${i}.jpg`, await sampleImage('jpeg', 320, 240, i))));
    const full = await sampleImage('jpeg', 640, 480, 9);
    const corrupt = await it0.submit('truncated.jpg', full.subarray(0, Math.floor(full.length / 3)));
    it0.stack.startRunners();
    const records = await it0.settle([...good, corrupt]);
    await it0.drained();
    for (const r of records.slice(0, 4)) expect(r).toMatchObject({ status: 'completed', completions: 1 });
    const bad = records[4]!;
    expect(bad.status).toBe('failed');
    expect(bad.error?.class).toBe('CorruptImage');
    expect(bad.error?.reason).toBeTruthy();

    const dlq = await peekDeadLetters(it0.clients, it0.stack.outputs[STACK_OUTPUTS.deadLetterQueueUrl]!);
    const entry = dlq.find((m) => m.attributes.JobId === corrupt);
    expect(entry?.attributes).toMatchObject({ ErrorClass: 'CorruptImage', ErrorKind: 'permanent' });
    expect(entry?.attributes.ErrorReason).toBe(bad.error?.reason);

    const runner = [...it0.stack.runners.values()][0]!.stats();
    // The corrupt record shared a batch with good ones, and no batch failed or was redelivered.
    expect(runner.invocationLog.some((i) => i.batchSize >= 2)).toBe(true);
    expect(runner.invocationLog.every((i) => i.outcome === 'success' && i.maxReceiveCount === 1)).toBe(true);
    expect(runner.messagesDeleted).toBe(5);
    expect(failedLogsFor(corrupt)).toHaveLength(1); // never retried
  });

  it('renders every format into renditions whose records match the objects in S3', async () => {
    const ids = await Promise.all((['jpeg', 'png', 'webp'] as const).map(async (f, i) => it0.submit(`photo.${f}`, await sampleImage(f, 1200 + i * 100, 800, i + 20))));
    const records = await it0.settle(ids);
    const bucket = it0.stack.outputs[STACK_OUTPUTS.renditionsBucket]!;
    for (const r of records) {
      expect(r.status).toBe('completed');
      expect(r.renditions?.length).toBeGreaterThanOrEqual(3);
      for (const rend of r.renditions!) {
        const obj = await it0.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: rend.key }));
        const bytes = await obj.Body!.transformToByteArray();
        expect(bytes.length).toBe(rend.bytes);
        const meta = await sharp(bytes).metadata();
        expect({ width: meta.width, height: meta.height, format: meta.format }).toEqual({ width: rend.width, height: rend.height, format: rend.format });
      }
    }
  });

  it.skipIf(onExternalEndpoint('redelivery after a visibility timeout: on moto_server the jobs stayed processing for 120 s (measured in .ci/run), beyond this test\'s budget'))('the same job sent 5 times is processed once', async () => {
    await it0.fastRedelivery(2);
    const deletedBefore = [...it0.stack.runners.values()][0]!.stats().messagesDeleted;
    const jobId = await it0.submit('dup.jpg', await sampleImage('jpeg', 800, 600, 42), { copies: 5 });
    const [rec] = await it0.settle([jobId]);
    expect(rec).toMatchObject({ status: 'completed', completions: 1, fence: 1 });
    // Copies that met the job in progress were left to the visibility timeout; when they come back
    // they must find it done and change nothing.
    await it0.drained();
    expect(await it0.job(jobId)).toMatchObject({ status: 'completed', completions: 1, fence: 1 });
    const runner = [...it0.stack.runners.values()][0]!.stats();
    expect(runner.messagesDeleted - deletedBefore).toBe(5);
  });
});
