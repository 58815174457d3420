/**
 * Redrive that processes, on the local stack with the real worker: a job fails permanently (its source is
 * missing: the analogue of a missing grant), the cause is fixed, and the DLQ is moved back with SQS's
 * StartMessageMoveTask (`npm run dlq -- redrive --all --force`). The redriven message claims the failed job
 * again, under a new fence, and the job completes once; plain duplicates, before and after, are skipped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { STACK_OUTPUTS } from '../../lambda/shared/contract';
import { peekDeadLetters, queueDepth, uploadKeyFor } from '../../local/producer';
import { DlqClient } from '../../tools/dlq/dlq-client';
import { deployIntegrationStack, sampleImage, type IntegrationStack } from '../support/local-stack';
import { onExternalEndpoint } from '../support/target';

const stacks: IntegrationStack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

describe('redrive on the local stack', () => {
  it.skipIf(onExternalEndpoint('StartMessageMoveTask is served by the floodgate endpoint, not by an external emulator'))(
    'a permanent failure, a fix, StartMessageMoveTask: the job runs once; plain duplicates are skipped',
    { timeout: 150_000 },
    async () => {
      const s = await deployIntegrationStack();
      stacks.push(s);
      const out = s.stack.outputs;
      const queueUrl = out[STACK_OUTPUTS.jobQueueUrl]!;
      const dlqUrl = out[STACK_OUTPUTS.deadLetterQueueUrl]!;
      const jobId = `rd${randomBytes(4).toString('hex')}`;
      const sourceKey = uploadKeyFor(jobId, 'late.jpg');
      const body = JSON.stringify({ v: 1, jobId, sourceKey });
      const now = new Date().toISOString();
      await s.clients.ddb.send(new PutCommand({ TableName: out[STACK_OUTPUTS.jobsTable]!, Item: { jobId, status: 'queued', sourceKey, createdAt: now, updatedAt: now } }));
      const send = (attrs?: Record<string, MessageAttributeValue>) => s.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, ...(attrs ? { MessageAttributes: attrs } : {}) }));
      const dlqDepth = async () => {
        const d = await queueDepth(s.clients, dlqUrl);
        return d.visible + d.notVisible;
      };

      // 1. The source is not there: a permanent failure, dead-lettered with its class, the job failed.
      await send();
      const [failed] = await s.settle([jobId], 60_000);
      expect(failed).toMatchObject({ status: 'failed', error: { class: 'SourceNotFound' } });
      await s.drained();
      const [letter] = await peekDeadLetters(s.clients, dlqUrl);
      expect(letter?.attributes).toMatchObject({ ErrorClass: 'SourceNotFound', ErrorKind: 'permanent', JobId: jobId });
      const sourceMessageId = letter!.attributes['SourceMessageId']!;
      await new Promise((r) => setTimeout(r, 1100)); // the peek's 1 s visibility

      // 2. A plain duplicate of the failed job is skipped: no run, no second dead letter.
      await send();
      await s.drained();
      expect(await s.job(jobId)).toMatchObject({ status: 'failed', fence: 1 });
      expect(await dlqDepth()).toBe(1);

      // 3. The fix (the source arrives), then the redrive through SQS's message move task.
      await s.clients.s3.send(new PutObjectCommand({ Bucket: out[STACK_OUTPUTS.uploadsBucket]!, Key: sourceKey, Body: await sampleImage('jpeg', 320, 240, 7) }));
      const dlq = new DlqClient({ sqs: s.clients.sqs, deadLetterQueueUrl: dlqUrl, sourceQueueUrl: queueUrl });
      const result = await dlq.redrive({ all: true }, true);
      expect(result.moveTask).toMatchObject({ status: 'COMPLETED', moved: 1, toMove: 1 });
      expect(result.redriven.map((e) => e.jobId)).toEqual([jobId]);

      // The redriven message claims the failed job under a new fence and runs it: completed once.
      const end = Date.now() + 60_000;
      while ((await s.job(jobId))?.status !== 'completed' && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      await s.drained();
      const done = await s.job(jobId);
      expect(done).toMatchObject({ status: 'completed', completions: 1, fence: 2 });
      expect(done?.error).toBeUndefined();
      expect(done?.renditions?.length).toBe(3);
      for (const r of done!.renditions!) {
        const head = await s.clients.s3.send(new HeadObjectCommand({ Bucket: out[STACK_OUTPUTS.renditionsBucket]!, Key: r.key }));
        expect(head.Metadata?.['fence']).toBe('2');
      }
      expect(s.logs.some((l) => l.message === 'redriven message claimed its failed key again' && l.idempotencyKey === jobId)).toBe(true);
      expect(await dlqDepth()).toBe(0);

      // 4. Afterwards: a plain duplicate and a second delivery of the redriven copy are both skipped.
      const redriveAttrs: Record<string, MessageAttributeValue> = {
        ErrorClass: { DataType: 'String', StringValue: 'SourceNotFound' },
        ErrorKind: { DataType: 'String', StringValue: 'permanent' },
        SourceMessageId: { DataType: 'String', StringValue: sourceMessageId },
      };
      await send();
      await send(redriveAttrs);
      await s.drained();
      expect(await s.job(jobId)).toMatchObject({ status: 'completed', completions: 1, fence: 2 });
      expect(await dlqDepth()).toBe(0);
      const skipped = s.logs.filter((l) => l.message === 'duplicate skipped' && l.idempotencyKey === jobId);
      expect(skipped.map((l) => l.previous)).toEqual(['failed', 'completed', 'completed']);
      // The renditions are the redriven run's.
      const thumb = await s.clients.s3.send(new GetObjectCommand({ Bucket: out[STACK_OUTPUTS.renditionsBucket]!, Key: done!.renditions![0]!.key }));
      expect(thumb.Metadata?.['job-id']).toBe(jobId);
    },
  );
});
