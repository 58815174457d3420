/**
 * The contract of createConsumerHandler, against the emulators of the vitest global setup (fauxqs for the
 * DLQs, DynamoDB Local for idempotency): partial batch response, user error classes in the DLQ with their
 * reason, the deadline, the lanes, concurrent invocations in one process, schema validation, idempotency,
 * FIFO order and failure semantics, AccessDenied.
 */
import { DynamoDBServiceException, DescribeTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SQSServiceException, type Message } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { createConsumerHandler, type ConsumerHandlerOptions } from '../src/consumer-handler';
import { addRequestCounter, RequestCounter, type HandlerClients } from '../src/aws-clients';
import { CONSUMER_ENV } from '../src/env';
import { PermanentError, RetryableError } from '../src/errors';
import { IdempotencyStore } from '../src/idempotency/store';
import type { StandardSchemaV1 } from '../src/standard-schema';
import { localClients } from '../../../test/support/local-env';
import { createTable } from '../../../test/lambda/support/tables';

// Powertools output is noise here; behaviour is asserted through the responses and AWS state.
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';

const local = localClients();
let dlqUrl: string;
let fifoDlqUrl: string;
let idemTable: string;
let env: Record<string, string>;

beforeAll(async () => {
  const id = randomUUID().slice(0, 8);
  [dlqUrl, fifoDlqUrl, idemTable] = await Promise.all([
    local.sqs.send(new CreateQueueCommand({ QueueName: `contract-dlq-${id}` })).then((o) => o.QueueUrl!),
    local.sqs.send(new CreateQueueCommand({ QueueName: `contract-dlq-${id}.fifo`, Attributes: { FifoQueue: 'true' } })).then((o) => o.QueueUrl!),
    createTable(local.dynamodb, 'idempotency'),
  ]);
  env = {
    [CONSUMER_ENV.ioConcurrency]: '4',
    [CONSUMER_ENV.cpuConcurrency]: '2',
    [CONSUMER_ENV.softMarginMs]: '1000',
    [CONSUMER_ENV.hardMarginMs]: '500',
    [CONSUMER_ENV.deadLetterQueueUrl]: dlqUrl,
    [CONSUMER_ENV.maxReceiveCount]: '5',
  };
});

function clients(): HandlerClients {
  const c = localClients();
  const requests = new RequestCounter();
  addRequestCounter(c.dynamodb, requests, 'dynamodb');
  addRequestCounter(c.sqs, requests, 'sqs');
  return { ...c, requests };
}

let seq = 0;
function record(body: unknown, opts: { group?: string; receive?: number; queue?: string } = {}): SQSRecord {
  return {
    messageId: `m-${++seq}-${randomUUID().slice(0, 8)}`,
    receiptHandle: 'rh',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(opts.receive ?? 1), ...(opts.group ? { MessageGroupId: opts.group } : {}) } as SQSRecord['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${opts.queue ?? 'orders'}`,
    awsRegion: 'us-east-1',
  };
}
const lambdaContext = (ms = 60_000, requestId: string = randomUUID()) => ({ getRemainingTimeInMillis: () => ms, awsRequestId: requestId });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads (without deleting) every DLQ message, until the queue gives no more. */
async function dlqMessages(url = dlqUrl): Promise<Message[]> {
  const all = new Map<string, Message>();
  for (let i = 0; i < 5; i++) {
    const out = await local.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
    const got = out.Messages ?? [];
    for (const m of got) all.set(m.MessageId!, m);
    if (got.length === 0) break;
  }
  return [...all.values()];
}
async function dlqFor(sourceMessageId: string, url = dlqUrl): Promise<Message[]> {
  return (await dlqMessages(url)).filter((m) => m.MessageAttributes?.['SourceMessageId']?.StringValue === sourceMessageId);
}

function handlerOf<S extends StandardSchemaV1 | undefined = undefined, T = Record<string, unknown>>(options: ConsumerHandlerOptions<S, T>) {
  return createConsumerHandler<S, T>({ env, clients: clients(), ...options });
}

describe('createConsumerHandler', () => {
  it('returns the partial batch response and dead-letters user error classes with their reason and app attributes', async () => {
    const handler = handlerOf({
      processRecord: async (_r, ctx) => {
        const order = JSON.parse(ctx.body) as { id: string; outcome: string };
        ctx.fields['orderId'] = order.id;
        if (order.outcome === 'rejected') throw new PermanentError('OrderRejected', `customer of order ${order.id} is closed`);
        if (order.outcome === 'busy') throw new RetryableError('PartnerBusy', 'the partner API said 503');
        if (order.outcome === 'bug') throw new TypeError('cannot read x of undefined');
      },
      deadLetterAttributes: (_r, ctx) => ({ OrderId: String(ctx.fields['orderId']) }),
    });
    const records = ['ok', 'rejected', 'busy', 'bug'].map((outcome, i) => record({ id: `o-${i}`, outcome }));
    const { response, report } = await handler.invoke({ Records: records }, lambdaContext());
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: records[2]!.messageId }, { itemIdentifier: records[3]!.messageId }] });
    expect(report.outcomes.map((o) => o.failure?.class)).toEqual([undefined, 'OrderRejected', 'PartnerBusy', 'Unknown']);
    const [dl] = await dlqFor(records[1]!.messageId);
    expect(dl?.Body).toBe(records[1]!.body);
    expect(dl?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('OrderRejected');
    expect(dl?.MessageAttributes?.['ErrorKind']?.StringValue).toBe('permanent');
    expect(dl?.MessageAttributes?.['ErrorReason']?.StringValue).toBe('customer of order o-1 is closed');
    expect(dl?.MessageAttributes?.['OrderId']?.StringValue).toBe('o-1');
    expect(dl?.MessageAttributes?.['JobId']).toBeUndefined(); // nothing of the image app in the runtime
    expect(dl?.MessageAttributes?.['ReceiveCount']?.StringValue).toBe('1/5');
    // The retryable ones are left to SQS: nothing of them in the DLQ.
    expect(await dlqFor(records[2]!.messageId)).toEqual([]);
  });

  it('deadline: a record still running at the hard deadline is aborted, records not started are failures', async () => {
    let sawAbort = false;
    const handler = handlerOf({
      recordConcurrency: 1,
      processRecord: async (r, ctx) => {
        if (r.body !== 'slow') return;
        // Waits for the hard deadline's abort: 2 s left, hard margin 0.5 s.
        await new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => { sawAbort = true; reject(ctx.signal.reason); }));
      },
    });
    const records = [record('slow'), record('quick'), record('quick')];
    const { response, report } = await handler.invoke({ Records: records }, lambdaContext(2_000));
    expect(sawAbort).toBe(true);
    expect(report.hardDeadlineHit).toBe(true);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.map((r) => r.messageId));
    expect(report.outcomes.map((o) => o.status)).toEqual(['retryable', 'not-started', 'not-started']);
    expect(report.outcomes[0]!.failure?.class).toBe('Timeout');
  });

  it('deadline: nothing starts once the soft deadline has passed', async () => {
    let calls = 0;
    const handler = handlerOf({ processRecord: async () => { calls++; } });
    const records = [record('a'), record('b')];
    // 800 ms left with a 1,000 ms soft margin: already past the soft point.
    const { response, report } = await handler.invoke({ Records: records }, lambdaContext(800));
    expect(calls).toBe(0);
    expect(response.batchItemFailures).toHaveLength(2);
    expect(report.counts['not-started']).toBe(2);
  });

  it('lanes: never more than the lane sizes in flight, however many records', async () => {
    let io = 0, ioPeak = 0, cpu = 0, cpuPeak = 0;
    const handler = handlerOf({
      env: { ...env, [CONSUMER_ENV.ioConcurrency]: '3', [CONSUMER_ENV.cpuConcurrency]: '2' },
      processRecord: async (_r, ctx) => {
        const ioTask = () => ctx.io(async () => { io++; ioPeak = Math.max(ioPeak, io); await tick(2); io--; });
        await Promise.all([ioTask(), ioTask(), ioTask()]);
        await ctx.cpu(async () => { cpu++; cpuPeak = Math.max(cpuPeak, cpu); await tick(1); cpu--; });
      },
    });
    const { report } = await handler.invoke({ Records: Array.from({ length: 200 }, (_, i) => record(String(i))) }, lambdaContext(600_000));
    expect(report.counts.done).toBe(200);
    expect(ioPeak).toBeLessThanOrEqual(3);
    expect(ioPeak).toBeGreaterThan(1);
    expect(cpuPeak).toBeLessThanOrEqual(2);
    expect(report.maxInFlight).toMatchObject({ io: ioPeak, cpu: cpuPeak });
    expect(report.maxInFlight.records).toBeLessThanOrEqual(5); // io + cpu by default
  });

  it('two concurrent invocations of one handler object in one process do not mix anything', async () => {
    const handler = handlerOf<undefined, { mark?: string }>({
      idempotency: { tableName: idemTable, key: (r) => r.messageId },
      createState: () => ({}),
      processRecord: async (r, ctx) => {
        expect(ctx.state.mark).toBeUndefined(); // a fresh state per record
        ctx.state.mark = r.body;
        const [tag, outcome] = JSON.parse(r.body) as [string, string];
        expect(ctx.lambdaContext.awsRequestId).toBe(`req-${tag}`);
        ctx.metrics.count(`Seen${tag}`);
        // Interleave the two invocations.
        await tick(tag === 'A' ? 20 : 5);
        await ctx.io(() => handler.clients.dynamodb.send(new DescribeTableCommand({ TableName: idemTable })));
        if (outcome === 'retry') throw new RetryableError('Busy', `record of ${tag}`);
      },
    });
    const a = Array.from({ length: 5 }, (_, i) => record(['A', i === 1 ? 'retry' : 'ok']));
    const b = Array.from({ length: 3 }, (_, i) => record(['B', i === 2 ? 'retry' : 'ok']));
    const [ra, rb] = await Promise.all([
      handler.invoke({ Records: a }, lambdaContext(60_000, 'req-A')),
      handler.invoke({ Records: b }, lambdaContext(60_000, 'req-B')),
    ]);
    expect(ra.response.batchItemFailures).toEqual([{ itemIdentifier: a[1]!.messageId }]);
    expect(rb.response.batchItemFailures).toEqual([{ itemIdentifier: b[2]!.messageId }]);
    expect(ra.report.outcomes.map((o) => o.id)).toEqual(a.map((r) => r.messageId));
    expect(rb.report.outcomes.map((o) => o.id)).toEqual(b.map((r) => r.messageId));
    expect(ra.metrics.counts).toMatchObject({ SeenA: 5, RecordsSucceeded: 4, RetryableFailures: 1 });
    expect(ra.metrics.counts['SeenB']).toBeUndefined();
    expect(rb.metrics.counts).toMatchObject({ SeenB: 3, RecordsSucceeded: 2, RetryableFailures: 1 });
    expect(rb.metrics.counts['SeenA']).toBeUndefined();
    // DynamoDB requests of each invocation: per record a claim, the DescribeTable, then a complete or a release.
    expect(ra.requests['dynamodb']).toBe(5 * 3);
    expect(rb.requests['dynamodb']).toBe(3 * 3);
  });

  it('metrics: each invocation publishes its own aggregates once, to the Powertools Metrics it was given', async () => {
    const metrics = new Metrics({ namespace: 'ContractTest', serviceName: 'contract' });
    const published: Record<string, number>[] = [];
    let pending: Record<string, number> = {};
    vi.spyOn(metrics, 'addMetric').mockImplementation((name, _unit, value) => { pending[name] = value; return metrics; });
    vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => { published.push(pending); pending = {}; return metrics; });
    const handler = handlerOf({
      metrics,
      processRecord: async (r, ctx) => {
        ctx.metrics.count('Seen');
        ctx.metrics.duration('work', r.body === 'a' ? 10 : 30);
        await tick(r.body === 'a' ? 15 : 1);
        if (r.body === 'c') throw new RetryableError('Busy', 'later');
      },
    });
    await Promise.all([
      handler.invoke({ Records: [record('a'), record('b')] }, lambdaContext()),
      handler.invoke({ Records: [record('c')] }, lambdaContext()),
    ]);
    expect(published).toHaveLength(2);
    const [second, first] = published; // the one-record invocation ends first
    expect(second).toMatchObject({ Seen: 1, RecordsSucceeded: 0, RetryableFailures: 1, workDurationAvg: 30, workDurationMax: 30 });
    expect(first).toMatchObject({ Seen: 2, RecordsSucceeded: 2, RetryableFailures: 0, PermanentFailures: 0, RecordsNotStarted: 0, RetriesExhausted: 0, workDurationAvg: 20, workDurationMax: 30, MaxInFlightRecords: 2 });
    expect(Object.keys(first!)).toEqual(expect.arrayContaining(['MaxInFlightIo', 'MaxInFlightCpu', 'MaxInFlightMemory', 'DynamoDbRequests', 'SqsRequests']));
  });

  it('schema: a Standard Schema (zod) gives the typed body; an invalid body is InvalidMessage naming the field, non-JSON too', async () => {
    const Order = z.object({ order: z.object({ id: z.string().min(1), lines: z.array(z.object({ qty: z.number().int().positive() })) }) });
    const seen: number[] = [];
    const handler = handlerOf({
      schema: Order,
      processRecord: async (_r, ctx) => { seen.push(ctx.body.order.lines.length); },
    });
    const good = record({ order: { id: 'o-1', lines: [{ qty: 2 }] } });
    const badField = record({ order: { id: 'o-2', lines: [{ qty: 1 }, { qty: -3 }] } });
    const missing = record({ order: { lines: [] } });
    const notJson = record('{"order": ');
    const { response } = await handler.invoke({ Records: [good, badField, missing, notJson] }, lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([1]);
    const reason = async (r: SQSRecord) => {
      const [m] = await dlqFor(r.messageId);
      expect(m?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('InvalidMessage');
      return m?.MessageAttributes?.['ErrorReason']?.StringValue;
    };
    expect(await reason(badField)).toMatch(/^order\.lines\[1\]\.qty: /);
    expect(await reason(missing)).toMatch(/^order\.id: /);
    expect(await reason(notJson)).toMatch(/not JSON/);
  });

  describe('idempotency', () => {
    const store = () => new IdempotencyStore({ client: local.dynamodb, tableName: idemTable });
    const item = async (id: string) => (await local.dynamodb.send(new GetItemCommand({ TableName: idemTable, Key: { id: { S: id } }, ConsistentRead: true }))).Item;

    it('a duplicate is skipped; the same key twice in one batch is InProgressElsewhere for one of them', async () => {
      let calls = 0;
      const fences: number[] = [];
      const handler = handlerOf({
        schema: z.object({ orderId: z.string() }),
        idempotency: { tableName: idemTable, key: (_r, body) => `order#${body.orderId}` },
        processRecord: async (_r, ctx) => { calls++; fences.push(ctx.idempotency!.fence); await tick(20); },
      });
      const orderId = randomUUID();
      const twice = await handler.invoke({ Records: [record({ orderId }), record({ orderId })] }, lambdaContext());
      expect(calls).toBe(1);
      expect(twice.response.batchItemFailures).toHaveLength(1);
      expect(twice.report.outcomes.map((o) => o.failure?.class ?? 'done').sort()).toEqual(['InProgressElsewhere', 'done']);
      const again = await handler.invoke({ Records: [record({ orderId })] }, lambdaContext());
      expect(again.response).toEqual({ batchItemFailures: [] });
      expect(again.metrics.counts['DuplicatesSkipped']).toBe(1);
      expect(calls).toBe(1);
      expect(fences).toEqual([1]);
      expect((await item(`order#${orderId}`))?.['status']?.S).toBe('completed');
    });

    it('a permanent failure is dead-lettered and marks the key failed (a redelivery is skipped); a retryable one releases it', async () => {
      let fail: 'permanent' | 'retryable' | undefined = 'permanent';
      const handler = handlerOf({
        idempotency: { tableName: idemTable, key: (r) => JSON.parse(r.body).k as string },
        processRecord: async () => {
          if (fail === 'permanent') throw new PermanentError('OrderRejected', 'closed');
          if (fail === 'retryable') throw new RetryableError('PartnerBusy', 'later');
        },
      });
      const k1 = randomUUID();
      const r1 = record({ k: k1 });
      expect((await handler.invoke({ Records: [r1] }, lambdaContext())).response).toEqual({ batchItemFailures: [] });
      expect(await dlqFor(r1.messageId)).toHaveLength(1);
      expect((await item(k1))?.['status']?.S).toBe('failed');
      const redelivered = record({ k: k1 });
      expect((await handler.invoke({ Records: [redelivered] }, lambdaContext())).metrics.counts['DuplicatesSkipped']).toBe(1);
      expect(await dlqFor(redelivered.messageId)).toEqual([]);

      fail = 'retryable';
      const k2 = randomUUID();
      expect((await handler.invoke({ Records: [record({ k: k2 })] }, lambdaContext())).response.batchItemFailures).toHaveLength(1);
      expect((await item(k2))?.['status']?.S).toBe('released');
      fail = undefined;
      expect((await handler.invoke({ Records: [record({ k: k2 })] }, lambdaContext())).response).toEqual({ batchItemFailures: [] });
      expect((await item(k2))?.['fence']?.N).toBe('2');
    });

    it('a key held elsewhere is retried; a key reused with another payload is PayloadMismatch in the DLQ', async () => {
      const hashOf = (r: SQSRecord) => String(JSON.parse(r.body).v ?? 'v0');
      const handler = handlerOf({ idempotency: { store: store(), key: (r) => JSON.parse(r.body).k as string, payloadHash: hashOf }, processRecord: async () => undefined });
      const k = randomUUID();
      const held = await store().claim(k, 'v0', Date.now() + 60_000); // another invocation holds it
      expect(held.type).toBe('claimed');
      const { report } = await handler.invoke({ Records: [record({ k })] }, lambdaContext());
      expect(report.outcomes[0]!.failure?.class).toBe('InProgressElsewhere');
      const k2 = randomUUID();
      await handler.invoke({ Records: [record({ k: k2, v: 1 })] }, lambdaContext());
      const impostor = record({ k: k2, v: 2 });
      await handler.invoke({ Records: [impostor] }, lambdaContext());
      expect((await dlqFor(impostor.messageId))[0]?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('PayloadMismatch');
    });
  });

  describe('FIFO', () => {
    const fifoEnv = () => ({ ...env, [CONSUMER_ENV.deadLetterQueueUrl]: fifoDlqUrl });

    it('orders each group, runs groups side by side, blocks a group after a retryable failure, dead-letters a permanent one under its group and goes on', async () => {
      const effects: string[] = [];
      const active = new Set<string>();
      let maxGroups = 0;
      const handler = handlerOf({
        env: fifoEnv(),
        processRecord: async (r, ctx) => {
          const { step, fail } = JSON.parse(r.body) as { step: number; fail?: string };
          const group = ctx.messageGroupId!;
          expect(active.has(group)).toBe(false);
          active.add(group);
          maxGroups = Math.max(maxGroups, active.size);
          try {
            await tick(3 + ((step * 5) % 7));
            if (fail === 'permanent') throw new PermanentError('LedgerEntryInvalid', `entry ${step} has no account`);
            if (fail === 'retryable') throw new RetryableError('LedgerBusy', `entry ${step}: ledger locked`);
            effects.push(`${group}:${step}`);
          } finally {
            active.delete(group);
          }
        },
      });
      const spec: [string, number, string?][] = [
        ['acct-1', 1], ['acct-2', 1], ['acct-3', 1], ['acct-1', 2, 'permanent'], ['acct-2', 2, 'retryable'],
        ['acct-3', 2], ['acct-1', 3], ['acct-2', 3], ['acct-3', 3], ['acct-1', 4],
      ];
      const records = spec.map(([group, step, fail]) => record({ step, ...(fail ? { fail } : {}) }, { group, queue: 'ledger.fifo' }));
      const { response, report } = await handler.invoke({ Records: records }, lambdaContext());
      // acct-2 stops at its retryable failure (2) and keeps 3 for later; the others complete in order.
      expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([records[4]!.messageId, records[7]!.messageId]);
      expect(report.outcomes[7]).toMatchObject({ status: 'not-started', failure: { class: 'GroupBlocked' } });
      for (const group of ['acct-1', 'acct-3']) {
        const steps = effects.filter((e) => e.startsWith(`${group}:`)).map((e) => Number(e.split(':')[1]));
        expect(steps).toEqual(group === 'acct-1' ? [1, 3, 4] : [1, 2, 3]);
      }
      expect(effects.filter((e) => e.startsWith('acct-2:'))).toEqual(['acct-2:1']);
      expect(maxGroups).toBeGreaterThan(1);
      const [dl] = await dlqFor(records[3]!.messageId, fifoDlqUrl);
      expect(dl?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('LedgerEntryInvalid');
      expect(dl?.MessageAttributes?.['ErrorReason']?.StringValue).toBe('entry 2 has no account');
      expect(dl?.Attributes?.['MessageGroupId']).toBe('acct-1');
    });

    it("block-group: the permanent failure and its group's later records come back until its last receive", async () => {
      const handler = handlerOf({
        env: fifoEnv(),
        fifo: { onPermanentFailure: 'block-group' },
        processRecord: async (r) => { if (r.body.includes('poison')) throw new PermanentError('Poison', 'cannot apply'); },
      });
      const group = `g-${randomUUID().slice(0, 6)}`;
      const first = [record('poison', { group, queue: 'q.fifo' }), record('next', { group, queue: 'q.fifo' })];
      const held = await handler.invoke({ Records: first }, lambdaContext());
      expect(held.response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(first.map((r) => r.messageId));
      expect(await dlqFor(first[0]!.messageId, fifoDlqUrl)).toEqual([]);
      const last = [record('poison', { group, queue: 'q.fifo', receive: 5 }), record('next', { group, queue: 'q.fifo', receive: 2 })];
      const released = await handler.invoke({ Records: last }, lambdaContext());
      expect(released.response).toEqual({ batchItemFailures: [] });
      expect((await dlqFor(last[0]!.messageId, fifoDlqUrl))[0]?.Attributes?.['MessageGroupId']).toBe(group);
    });
  });

  describe('AccessDenied', () => {
    const words = 'User: arn:aws:sts::000000000000:assumed-role/consumer/fn is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/orders because no identity-based policy allows the dynamodb:PutItem action';
    /** Clients whose DynamoDB (or SQS) calls are refused the way the SDK reports an unmodeled AccessDeniedException. */
    function deniedClients(service: 'dynamodb' | 'sqs'): HandlerClients {
      const c = clients();
      const refuse = () => {
        const meta = { $fault: 'client' as const, $metadata: { httpStatusCode: 400, requestId: 'r' }, message: words };
        throw service === 'dynamodb' ? new DynamoDBServiceException({ name: 'AccessDeniedException', ...meta }) : new SQSServiceException({ name: 'AccessDenied', ...meta });
      };
      if (service === 'dynamodb') c.dynamodb.middlewareStack.add(() => async () => refuse(), { step: 'finalizeRequest', name: 'denyAll' });
      else c.sqs.middlewareStack.add(() => async () => refuse(), { step: 'finalizeRequest', name: 'denyAll' });
      return c;
    }

    it('a call the role does not allow is the permanent class AccessDenied, dead-lettered with AWS\'s words', async () => {
      const c = deniedClients('dynamodb');
      const handler = createConsumerHandler({
        env,
        clients: c,
        processRecord: async (_r, ctx) => { await ctx.io(() => c.dynamodb.send(new DescribeTableCommand({ TableName: 'orders' }), { abortSignal: ctx.signal })); },
      });
      const r = record('x');
      expect(await handler({ Records: [r] }, lambdaContext())).toEqual({ batchItemFailures: [] });
      const [dl] = await dlqFor(r.messageId);
      expect(dl?.MessageAttributes?.['ErrorClass']?.StringValue).toBe('AccessDenied');
      expect(dl?.MessageAttributes?.['ErrorKind']?.StringValue).toBe('permanent');
      expect(dl?.MessageAttributes?.['ErrorReason']?.StringValue).toBe(`AccessDeniedException: ${words}`);
    });

    it('when the DLQ send itself is denied, the record stays a batch item failure (the redrive policy still has it)', async () => {
      const handler = createConsumerHandler({ env, clients: deniedClients('sqs'), processRecord: async () => { throw new PermanentError('OrderRejected', 'closed'); } });
      const r = record('x');
      const { response, report } = await handler.invoke({ Records: [r] }, lambdaContext());
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: r.messageId }] });
      expect(report.outcomes[0]!.failure?.reason).toMatch(/permanent failure \(OrderRejected\) not dead-lettered: AccessDenied: /);
    });
  });
});
