import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { settleBatch } from '../src/services/lambda/batch-response';
import { concurrencyCap, createEventSourceRunner, type EventSourceRunner } from '../src/services/lambda/event-source-runner';
import { createFunctionHost, type FunctionHost } from '../src/lambda-host/index';
import { localClients, localEndpoints } from '../../../test/support/local-env';

const assetDir = fileURLToPath(new URL('./fixtures/handlers', import.meta.url));
const endpoints = localEndpoints();
const { sqs, dynamodb } = localClients(endpoints);
const cleanup: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of cleanup.splice(0).reverse()) await x.stop();
});

describe('settleBatch (ReportBatchItemFailures contract)', () => {
  const ids = ['a', 'b', 'c'];
  it('deletes everything on null, empty or empty-list responses', () => {
    for (const value of [null, undefined, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      expect(settleBatch(ids, { ok: true, value }, true)).toEqual({ succeeded: ids, failed: [], wholeBatchFailed: false });
    }
  });
  it('leaves only the reported items', () => {
    expect(settleBatch(ids, { ok: true, value: { batchItemFailures: [{ itemIdentifier: 'b' }] } }, true)).toMatchObject({ succeeded: ['a', 'c'], failed: ['b'], wholeBatchFailed: false });
  });
  it('fails the whole batch on errors and malformed responses', () => {
    const bad = [
      { ok: false as const, error: { errorType: 'Sandbox.Timedout', errorMessage: 'x' } },
      { ok: true as const, value: 'ok' },
      { ok: true as const, value: [1] },
      { ok: true as const, value: { batchItemFailures: 'x' } },
      { ok: true as const, value: { batchItemFailures: [{ itemIdentifier: '' }] } },
      { ok: true as const, value: { batchItemFailures: [{ itemIdentifier: null }] } },
      { ok: true as const, value: { batchItemFailures: [{ id: 'a' }] } },
      { ok: true as const, value: { batchItemFailures: [{ itemIdentifier: 'zzz' }] } },
    ];
    for (const outcome of bad) expect(settleBatch(ids, outcome, true)).toMatchObject({ succeeded: [], failed: ids, wholeBatchFailed: true });
  });
  it('without ReportBatchItemFailures, any return deletes the batch', () => {
    expect(settleBatch(ids, { ok: true, value: { batchItemFailures: [{ itemIdentifier: 'a' }] } }, false).succeeded).toEqual(ids);
  });
  it('caps concurrency at min(MaximumConcurrency, reserved)', () => {
    expect(concurrencyCap(5, 3)).toBe(3);
    expect(concurrencyCap(5, undefined)).toBe(5);
    expect(concurrencyCap(undefined, undefined, 7)).toBe(7);
    expect(() => concurrencyCap(5, 0)).toThrow(/disables/);
  });
});

async function setup(opts: { timeoutSeconds?: number; maxReceiveCount?: number; visibility?: number } = {}) {
  const id = randomBytes(4).toString('hex');
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `runner-dlq-${id}` }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const q = await sqs.send(
    new CreateQueueCommand({
      QueueName: `runner-${id}`,
      Attributes: { VisibilityTimeout: String(opts.visibility ?? 2), RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: opts.maxReceiveCount ?? 2 }) },
    }),
  );
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const table = `runner-counts-${id}`;
  await dynamodb.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }] }));
  const host = createFunctionHost({ functionName: `runner-fn-${id}`, assetDir, handler: 'sqs.handler', environment: { COUNT_TABLE: table }, timeoutSeconds: opts.timeoutSeconds ?? 5, memoryMb: 256, maxEnvironments: 3, endpoints });
  cleanup.push(host);
  const send = async (bodies: object[]) => {
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: q.QueueUrl, Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: JSON.stringify(b) })) }));
    }
  };
  const attempts = async (pk: string): Promise<number> => {
    const r = await dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }));
    return Number(r.Item?.attempts?.N ?? 0);
  };
  const depth = async () => {
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(a.Attributes!.ApproximateNumberOfMessages) + Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible);
  };
  const dlqBodies = async () => {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    return (r.Messages ?? []).map((m) => JSON.parse(m.Body!) as { id: string });
  };
  const runner = (o: Partial<Parameters<typeof createEventSourceRunner>[0]> = {}): EventSourceRunner => {
    const r = createEventSourceRunner({ name: `m-${id}`, queueUrl: q.QueueUrl!, queueArn, host, endpoints, batchSize: 10, maximumBatchingWindowSeconds: 1, reportBatchItemFailures: true, maximumConcurrency: 2, waitTimeSeconds: 1, ...o });
    cleanup.push(r);
    return r;
  };
  return { host, send, attempts, depth, dlqBodies, runner };
}

async function until(pred: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error('condition not met in time');
}

describe('event source runner', () => {
  it('deletes successes, leaves reported failures to the visibility timeout (then the DLQ)', async () => {
    // Exactly-one attempts for the successes needs a visibility timeout longer than a cold start plus the
    // batching window on a loaded machine: 2 s is not (a success would reappear before its delete).
    const s = await setup({ visibility: 6 });
    await s.send([{ id: 'ok1', action: 'ok' }, { id: 'bad', action: 'fail' }, { id: 'ok2', action: 'ok' }]);
    const r = s.runner();
    r.start();
    await until(async () => (await s.depth()) === 0 && (await s.dlqBodies()).length === 1, 45_000);
    expect(await s.attempts('ok1')).toBe(1);
    expect(await s.attempts('ok2')).toBe(1);
    expect(await s.attempts('bad')).toBe(2); // maxReceiveCount 2, then redrive
    const st = r.stats();
    expect(st.messagesDeleted).toBe(2);
    expect(st.invocationLog.some((i) => i.outcome === 'partial' && i.failed === 1)).toBe(true);
  });

  it.each([
    ['malformed', 'malformed'],
    ['throw', 'handler'],
    ['unknown-id', 'malformed'],
  ])('a %s response fails the whole batch: nothing deleted, all redelivered', async (action, kind) => {
    const s = await setup({ maxReceiveCount: 5 });
    await s.send([{ id: 'good', action: 'ok' }, { id: 'evil', action }]);
    const r = s.runner({ batchSize: 10 });
    r.start();
    await until(async () => (await s.attempts('good')) >= 2);
    await r.stop();
    const first = r.stats().invocationLog[0]!;
    expect(first).toMatchObject({ outcome: 'failed', deleted: 0, batchSize: 2, failureKind: kind });
    expect(r.stats().messagesDeleted).toBe(0);
  });

  it('an invocation killed at its timeout deletes nothing; the message is redelivered', async () => {
    const s = await setup({ timeoutSeconds: 1, maxReceiveCount: 5 });
    await s.send([{ id: 'slow', action: 'sleep', ms: 60_000 }]);
    const r = s.runner({ batchSize: 1, maximumBatchingWindowSeconds: 0 });
    r.start();
    await until(async () => (await s.attempts('slow')) >= 2);
    await r.stop();
    const log = r.stats().invocationLog;
    expect(log[0]).toMatchObject({ outcome: 'failed', failureKind: 'timeout', deleted: 0 });
    expect(log[1]?.maxReceiveCount).toBe(2);
    expect(s.host.stats().timeouts).toBeGreaterThanOrEqual(1);
  });

  it('never runs more than the concurrency cap at once, and stops polling at the cap', async () => {
    const s = await setup({ visibility: 30 });
    await s.send(Array.from({ length: 24 }, (_, i) => ({ id: `b${i}`, action: 'sleep', ms: 150 })));
    const r = s.runner({ batchSize: 2, maximumBatchingWindowSeconds: 0, maximumConcurrency: 5, reservedConcurrency: 3, pollers: 5 });
    expect(r.concurrencyCap).toBe(3);
    r.start();
    await until(async () => r.stats().messagesDeleted === 24);
    const st = r.stats();
    expect(st.maxConcurrentExecutions).toBe(3);
    expect(Math.max(...st.samples.map((x) => x.inFlight))).toBeLessThanOrEqual(3);
    // Backpressure: while at the cap, the rest stayed visible in the queue (not received and held).
    expect(st.samples.some((x) => x.inFlight === 3 && (x.visible ?? 0) > 0)).toBe(true);
    expect(s.host.stats().environments.length).toBeLessThanOrEqual(3);
  });
});
