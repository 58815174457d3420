/**
 * createConsumerHandler's retryBackoff against a real queue (fauxqs, through the local endpoint of the
 * vitest global setup): messages are really received, the handler's ChangeMessageVisibilityBatch is really
 * sent, and the visibility it set is read back from the queue: ReceiveMessage does not return a delayed
 * message before its delay, and does after it; ApproximateNumberOfMessagesNotVisible counts them.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createConsumerHandler, type ConsumerHandlerOptions } from '../src/consumer-handler';
import { addRequestCounter, RequestCounter, type HandlerClients } from '../src/aws-clients';
import { CONSUMER_ENV } from '../src/env';
import { RetryableError } from '../src/errors';
import { localClients } from '../../../test/support/local-env';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';

const local = localClients();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lambdaContext = () => ({ getRemainingTimeInMillis: () => 60_000, awsRequestId: randomUUID() });

function clients(): HandlerClients {
  const c = localClients();
  const requests = new RequestCounter();
  addRequestCounter(c.sqs, requests, 'sqs');
  addRequestCounter(c.dynamodb, requests, 'dynamodb');
  return { ...c, requests };
}

async function createQueue(opts: { visibilityTimeout: number; fifo?: boolean }) {
  const name = `backoff-${randomUUID().slice(0, 8)}${opts.fifo ? '.fifo' : ''}`;
  const url = (await local.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String(opts.visibilityTimeout), ...(opts.fifo ? { FifoQueue: 'true' } : {}) } }))).QueueUrl!;
  const arn = (await local.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!['QueueArn']!;
  return { url, arn };
}

async function send(url: string, bodies: string[], group?: (b: string) => string): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await local.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: b, ...(group ? { MessageGroupId: group(b), MessageDeduplicationId: randomUUID() } : {}) })),
      }),
    );
  }
}

/** ReceiveMessage (no wait) until `count` messages came or `ms` passed. */
async function receive(url: string, count: number, ms = 5_000): Promise<Message[]> {
  const got: Message[] = [];
  const end = Date.now() + ms;
  while (got.length < count && Date.now() < end) {
    const out = await local.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: Math.min(10, count - got.length), WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
    got.push(...(out.Messages ?? []));
    if ((out.Messages ?? []).length === 0) await sleep(100);
  }
  return got;
}

/** The record Lambda would deliver for a received message. */
function toRecord(m: Message, arn: string): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a['ApproximateReceiveCount'] ?? '1',
      SentTimestamp: a['SentTimestamp'] ?? '',
      SenderId: a['SenderId'] ?? '',
      ApproximateFirstReceiveTimestamp: a['ApproximateFirstReceiveTimestamp'] ?? '',
      ...(a['MessageGroupId'] ? { MessageGroupId: a['MessageGroupId'] } : {}),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: 'us-east-1',
  };
}

async function depth(url: string) {
  const a = (await local.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes!;
  return { visible: Number(a['ApproximateNumberOfMessages']), notVisible: Number(a['ApproximateNumberOfMessagesNotVisible']) };
}

function envFor(queueUrl: string, visibilityTimeout: number): Record<string, string> {
  return {
    [CONSUMER_ENV.ioConcurrency]: '4',
    [CONSUMER_ENV.cpuConcurrency]: '2',
    [CONSUMER_ENV.softMarginMs]: '1000',
    [CONSUMER_ENV.hardMarginMs]: '500',
    [CONSUMER_ENV.maxReceiveCount]: '5',
    [CONSUMER_ENV.queueUrl]: queueUrl,
    [CONSUMER_ENV.queueRetentionSeconds]: String(4 * 86_400),
    [CONSUMER_ENV.visibilityTimeoutSeconds]: String(visibilityTimeout),
  };
}

/** Fails records whose body starts with `retry`. */
function handlerOf(env: Record<string, string>, options: Partial<ConsumerHandlerOptions<undefined, Record<string, unknown>>> = {}) {
  return createConsumerHandler({
    env,
    clients: clients(),
    processRecord: async (r) => {
      if (r.body.startsWith('retry')) throw new RetryableError('DownstreamBusy', `${r.body}: 503`);
    },
    ...options,
  });
}

const TOP = 1 - 1e-9; // the top of full jitter's range: the delay is the ceiling

describe('retryBackoff on a real queue', () => {
  it('a retried message comes back after its delay, not before and not after the visibility timeout; the rest keep the queue default', { timeout: 30_000 }, async () => {
    const q = await createQueue({ visibilityTimeout: 30 });
    await send(q.url, ['ok', 'retry-1', 'retry-2']);
    const received = await receive(q.url, 3);
    expect(received).toHaveLength(3);
    const handler = handlerOf(envFor(q.url, 30), { retryBackoff: { baseSeconds: 4, maxSeconds: 60, random: () => TOP } });
    const startedAt = Date.now();
    const inv = await handler.invoke({ Records: received.map((m) => toRecord(m, q.arn)) }, lambdaContext());
    const retried = received.filter((m) => m.Body!.startsWith('retry')).map((m) => m.MessageId!);
    expect(inv.response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([...retried].sort());
    expect(inv.retryBackoff?.entries.map((e) => [e.visibilityTimeoutSeconds, e.decision.ceilingSeconds])).toEqual([[4, 4], [4, 4]]);
    expect([...inv.retryBackoff!.changed].sort()).toEqual([...retried].sort());
    expect(inv.requests['sqs']).toBe(1); // one ChangeMessageVisibilityBatch
    expect(inv.metrics.counts).toMatchObject({ RetriesDelayed: 2, RetryDelaysFailed: 0 });

    // Read back: invisible during the delay, visible after it, long before the queue's 30 s.
    expect(await receive(q.url, 1, 2_500)).toEqual([]);
    const back = await receive(q.url, 2, 6_000);
    const seenAt = Date.now();
    expect(back.map((m) => m.MessageId).sort()).toEqual([...retried].sort());
    expect(seenAt - startedAt).toBeGreaterThanOrEqual(4_000);
    expect(seenAt - startedAt).toBeLessThan(10_000);
    // The one that succeeded (nobody deleted it here) still has the queue's 30 s: not touched.
    expect(back.map((m) => m.Body)).not.toContain('ok');

    // Second receive: the ceiling doubles (random at the top: the delay is the ceiling, 8 s).
    const again = await handler.invoke({ Records: back.map((m) => toRecord(m, q.arn)) }, lambdaContext());
    expect(again.retryBackoff?.entries.map((e) => [e.visibilityTimeoutSeconds, e.decision.ceilingSeconds])).toEqual([[8, 8], [8, 8]]);
  });

  it('23 failures: ceil(23 / 10) = 3 ChangeMessageVisibilityBatch requests; all stay invisible past the queue visibility timeout', { timeout: 30_000 }, async () => {
    const q = await createQueue({ visibilityTimeout: 1 });
    const bodies = Array.from({ length: 23 }, (_, i) => `retry-${i}`);
    await send(q.url, bodies);
    const received = await receive(q.url, 23);
    expect(received).toHaveLength(23);
    const handler = handlerOf(envFor(q.url, 1), { retryBackoff: { baseSeconds: 10, maxSeconds: 60, random: () => TOP } });
    const inv = await handler.invoke({ Records: received.map((m) => toRecord(m, q.arn)) }, lambdaContext());
    expect(inv.response.batchItemFailures).toHaveLength(23);
    expect(inv.retryBackoff?.changed).toHaveLength(23);
    expect(inv.requests['sqs']).toBe(3);
    // The queue would have returned them after 1 s; the backoff holds them for 10 s.
    await sleep(2_500);
    expect(await depth(q.url)).toEqual({ visible: 0, notVisible: 23 });
    expect(await receive(q.url, 1, 500)).toEqual([]);
  });

  it('a failed ChangeMessageVisibilityBatch loses nothing: the failures are still returned, logged, and come back after the queue default', { timeout: 30_000 }, async () => {
    const q = await createQueue({ visibilityTimeout: 1 });
    await send(q.url, ['retry-a', 'retry-b']);
    const received = await receive(q.url, 2);
    const logger = new Logger({ serviceName: 'backoff-test' });
    logger.createChild = () => logger; // so the invocation's child is this one
    const warn = vi.spyOn(logger, 'warn');
    // The queue URL points at a queue that does not exist: the call fails for the whole chunk.
    const env = envFor(`${q.url}-missing`, 1);
    const handler = handlerOf(env, { logger, retryBackoff: { baseSeconds: 30, maxSeconds: 60, random: () => TOP } });
    const inv = await handler.invoke({ Records: received.map((m) => toRecord(m, q.arn)) }, lambdaContext());
    expect(inv.response.batchItemFailures).toHaveLength(2);
    expect(inv.retryBackoff?.changed).toEqual([]);
    expect(inv.retryBackoff?.failed.map((f) => f.code)).toEqual(['QueueDoesNotExist', 'QueueDoesNotExist']);
    expect(inv.metrics.counts).toMatchObject({ RetriesDelayed: 0, RetryDelaysFailed: 2 });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/retry backoff not applied/), expect.objectContaining({ failed: expect.any(Array) }));
    // Back after the queue's own 1 s, not the 30 s that could not be set.
    const back = await receive(q.url, 2, 5_000);
    expect(back.map((m) => m.Body).sort()).toEqual(['retry-a', 'retry-b']);
  });

  it('a bad receipt handle fails only its own entry', { timeout: 30_000 }, async () => {
    const q = await createQueue({ visibilityTimeout: 30 });
    await send(q.url, ['retry-good', 'retry-stale']);
    const received = await receive(q.url, 2);
    const records = received.map((m) => toRecord(m, q.arn));
    const stale = records.find((r) => r.body === 'retry-stale')!;
    stale.receiptHandle = 'not-a-receipt-handle';
    const handler = handlerOf(envFor(q.url, 30), { retryBackoff: { baseSeconds: 5, maxSeconds: 60, random: () => TOP } });
    const inv = await handler.invoke({ Records: records }, lambdaContext());
    expect(inv.response.batchItemFailures).toHaveLength(2);
    expect(inv.retryBackoff?.changed).toEqual([records.find((r) => r.body === 'retry-good')!.messageId]);
    expect(inv.retryBackoff?.failed).toEqual([{ id: stale.messageId, code: 'ReceiptHandleIsInvalid', message: expect.any(String) }]);
  });

  it('FIFO: the delay holds the whole message group; other groups go on', { timeout: 30_000 }, async () => {
    const q = await createQueue({ visibilityTimeout: 30, fifo: true });
    await send(q.url, ['retry-A1', 'A2', 'B1', 'B2'], (b) => (b.includes('A') ? 'A' : 'B'));
    const first = await receive(q.url, 2);
    expect(first.map((m) => m.Body).sort()).toEqual(['B1', 'retry-A1']); // one per group (fauxqs)
    const handler = handlerOf(envFor(q.url, 30), { retryBackoff: { baseSeconds: 3, maxSeconds: 60, random: () => TOP } });
    const startedAt = Date.now();
    const inv = await handler.invoke({ Records: first.map((m) => toRecord(m, q.arn)) }, lambdaContext());
    expect(inv.response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([first.find((m) => m.Body === 'retry-A1')!.MessageId]);
    expect(inv.retryBackoff?.entries.map((e) => e.visibilityTimeoutSeconds)).toEqual([3]);
    // Lambda deletes what succeeded.
    await local.sqs.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: first.find((m) => m.Body === 'B1')!.ReceiptHandle! }));

    // Group B goes on at once; nothing of group A (not even A2) during A1's delay.
    const during: string[] = [];
    while (Date.now() - startedAt < 2_700) {
      for (const m of await receive(q.url, 10, 200)) {
        during.push(m.Body!);
        if (m.Body === 'B2') await local.sqs.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
    expect(during).toEqual(['B2']);
    // After the delay the group resumes at A1, in order, with its receive count.
    const back = await receive(q.url, 1, 5_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3_000);
    expect(back.map((m) => [m.Body, m.Attributes?.['ApproximateReceiveCount']])).toEqual([['retry-A1', '2']]);
  });
});
