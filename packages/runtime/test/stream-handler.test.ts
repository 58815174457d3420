/**
 * createStreamHandler on DynamoDB Streams and Kinesis events shaped as Lambda sends them (fixtures/*.json:
 * AWS's documented sample events; support/stream-events.ts generates more of the same shape). No local
 * DynamoDB Streams poller exists yet, so the handler is driven with these events directly; the on-failure
 * queue is a real queue on the local stack (fauxqs). A model of Lambda's stream event source mapping
 * (checkpoint, retries, bisect, MaximumRetryAttempts) drives the handler in the property test.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBRecord, DynamoDBStreamEvent, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createStreamHandler, type StreamHandlerOptions } from '../src/stream-handler';
import { addRequestCounter, RequestCounter, type HandlerClients } from '../src/aws-clients';
import { CONSUMER_ENV } from '../src/env';
import { PermanentError, RetryableError } from '../src/errors';
import { kinesisData, partitionKeyOf, type StreamRecord } from '../src/stream-records';
import { streamFailureMessage } from '../src/stream-dead-letter';
import { localClients } from '../../../test/support/local-env';
import { ddbEvent, ddbRecord } from './support/stream-events';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
const DDB_EVENT = fixture<DynamoDBStreamEvent>('dynamodb-stream-event.json');
const KINESIS_EVENT = fixture<KinesisStreamEvent>('kinesis-stream-event.json');
const lambdaContext = (ms = 60_000) => ({ getRemainingTimeInMillis: () => ms, awsRequestId: randomUUID() });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const baseEnv = {
  [CONSUMER_ENV.ioConcurrency]: '4',
  [CONSUMER_ENV.cpuConcurrency]: '2',
  [CONSUMER_ENV.softMarginMs]: '1000',
  [CONSUMER_ENV.hardMarginMs]: '500',
};
/** Clients for handlers that never call AWS (sends are collected). */
function fakeClients(sent: unknown[] = []): HandlerClients {
  return { sqs: { send: async (cmd: { input: unknown }) => { sent.push(cmd.input); return {}; } }, requests: new RequestCounter() } as unknown as HandlerClients;
}
function handlerFor<R extends StreamRecord>(opts: Omit<StreamHandlerOptions<R, Record<string, unknown>>, 'clients' | 'env'> & { env?: Record<string, string>; clients?: HandlerClients }) {
  return createStreamHandler<R>({ clients: fakeClients(), ...opts, env: { ...baseEnv, ...opts.env } });
}

describe('createStreamHandler on recorded events', () => {
  it('DynamoDB: every record done, each item key in order, keys side by side; empty response', async () => {
    const seen: string[] = [];
    const violations: string[] = [];
    const active = new Set<string>();
    let parallel = 0;
    const handler = handlerFor<DynamoDBRecord>({
      processRecord: async (record, ctx) => {
        if (ctx.source !== 'dynamodb') violations.push(`source ${ctx.source}`);
        if (active.has(ctx.partitionKey)) violations.push(`two records of ${ctx.partitionKey} at once`);
        active.add(ctx.partitionKey);
        parallel = Math.max(parallel, active.size);
        await tick(record.eventName === 'INSERT' ? 20 : 1);
        seen.push(`${record.dynamodb!.Keys!['pk']!.S}:${record.eventName}`);
        active.delete(ctx.partitionKey);
      },
    });
    const out = await handler.invoke(DDB_EVENT, lambdaContext());
    expect(violations).toEqual([]);
    expect(out.response).toEqual({ batchItemFailures: [] });
    expect(seen.filter((s) => s.startsWith('order#101'))).toEqual(['order#101:INSERT', 'order#101:MODIFY', 'order#101:REMOVE']);
    expect(parallel).toBe(2);
    expect(out.report.counts.done).toBe(4);
    expect(out.metrics.counts['RecordsSucceeded']).toBe(4);
  });

  it('DynamoDB: a retryable failure checkpoints at its sequence number; the later records of its item and of other items are not started', async () => {
    const started: string[] = [];
    const handler = handlerFor<DynamoDBRecord>({
      recordConcurrency: 1,
      processRecord: async (record) => {
        started.push(record.dynamodb!.SequenceNumber!);
        if (record.eventName === 'MODIFY') throw new RetryableError('Throttled', 'search index busy');
      },
    });
    const out = await handler.invoke(DDB_EVENT, lambdaContext());
    const [s1, s2, s3, s4] = DDB_EVENT.Records.map((r) => r.dynamodb!.SequenceNumber!);
    expect(out.response).toEqual({ batchItemFailures: [{ itemIdentifier: s3 }] });
    expect(started).toEqual([s1, s2, s3]);
    expect(out.report.outcomes.find((o) => o.id === s4)).toMatchObject({ status: 'not-started', failure: { class: 'GroupBlocked' } });
    expect(out.report.checkpoint).toBe(s3);
  });

  it('Kinesis: partition keys in order, the payload decodes, the checkpoint is the lowest failure even when a later record failed first', async () => {
    const order: string[] = [];
    const handler = handlerFor<KinesisStreamRecord>({
      processRecord: async (record, ctx) => {
        const body = JSON.parse(kinesisData(record).toString('utf8')) as { device: string; temp: number };
        order.push(body.device === ctx.partitionKey ? 'key ok' : `key ${ctx.partitionKey} for ${body.device}`);
        order.push(`${body.device}:${body.temp}`);
        // device-9 (2nd record) fails at once; device-7's first record fails later.
        if (body.device === 'device-9') throw new RetryableError('ServiceUnavailable', 'down');
        await tick(10);
        if (body.temp === 21.5) throw new RetryableError('Throttled', 'slow down');
      },
    });
    const out = await handler.invoke(KINESIS_EVENT, lambdaContext());
    expect(out.response.batchItemFailures).toEqual([{ itemIdentifier: KINESIS_EVENT.Records[0]!.kinesis.sequenceNumber }]);
    expect(order).toEqual(['key ok', 'device-7:21.5', 'key ok', 'device-9:19']);
  });

  it('records out of order in the event are run and checkpointed in sequence order', async () => {
    const event = ddbEvent(['a', 'a', 'a']);
    event.Records.reverse();
    const seen: string[] = [];
    const handler = handlerFor<DynamoDBRecord>({ processRecord: async (r) => { seen.push(r.dynamodb!.SequenceNumber!); } });
    await handler.invoke(event, lambdaContext());
    expect(seen).toEqual([...seen].sort());
  });

  it('the soft deadline: records not started by then are the checkpoint', async () => {
    let clock = 0;
    const handler = handlerFor<DynamoDBRecord>({
      now: () => clock,
      recordConcurrency: 1,
      processRecord: async () => { clock += 600; }, // 60 s remaining, soft margin 1 s: the 99th record is the last
    });
    const event = ddbEvent(Array.from({ length: 120 }, (_, i) => `k${i}`));
    const out = await handler.invoke(event, lambdaContext(60_000));
    expect(out.report.counts.done).toBe(99);
    expect(out.response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[99]!.dynamodb!.SequenceNumber }]);
  });

  it('a permanent failure without an on-failure queue is a checkpoint failure (never dropped)', async () => {
    const handler = handlerFor<DynamoDBRecord>({ processRecord: async () => { throw new PermanentError('InvalidOrder', 'total < 0'); } });
    const out = await handler.invoke(ddbEvent(['a']), lambdaContext());
    expect(out.response.batchItemFailures).toHaveLength(1);
    expect(out.report.outcomes[0]!.failure?.reason).toMatch(/no dead-letter handler/);
  });

  it('logs: one structured warning per failed record with key, sequence number and class, and a batch summary', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn');
    const info = vi.spyOn(Logger.prototype, 'info');
    try {
      const handler = handlerFor<DynamoDBRecord>({ processRecord: async () => { throw new RetryableError('Throttled', 'busy'); } });
      const event = ddbEvent(['a']);
      await handler.invoke(event, lambdaContext());
      expect(warn).toHaveBeenCalledWith('record failed', expect.objectContaining({
        sequenceNumber: event.Records[0]!.dynamodb!.SequenceNumber,
        partitionKey: partitionKeyOf(event.Records[0]!),
        errorKind: 'retryable',
        errorClass: 'Throttled',
        errorReason: 'busy',
      }));
      expect(info).toHaveBeenCalledWith('batch done', expect.objectContaining({ records: 1, source: 'dynamodb', checkpoint: event.Records[0]!.dynamodb!.SequenceNumber, retryable: 1 }));
    } finally {
      warn.mockRestore();
      info.mockRestore();
    }
  });

  it('AccessDenied from the SDK is permanent, as in the SQS handler', async () => {
    const sent: { MessageAttributes: Record<string, { StringValue: string }> }[] = [];
    const handler = handlerFor<DynamoDBRecord>({
      clients: fakeClients(sent),
      env: { [CONSUMER_ENV.deadLetterQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/123456789012/on-failure' },
      processRecord: async () => {
        throw Object.assign(new Error('User: arn:aws:sts::1:assumed-role/x is not authorized to perform: es:ESHttpPut'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
      },
    });
    const out = await handler.invoke(ddbEvent(['a', 'b']), lambdaContext());
    expect(out.response.batchItemFailures).toEqual([]);
    expect(sent.map((m) => m.MessageAttributes['ErrorClass']!.StringValue)).toEqual(['AccessDenied', 'AccessDenied']);
  });
});

describe('on-failure queue (local stack)', () => {
  const local = localClients();
  let queueUrl: string;
  beforeAll(async () => {
    queueUrl = (await local.sqs.send(new CreateQueueCommand({ QueueName: `stream-on-failure-${randomUUID().slice(0, 8)}` }))).QueueUrl!;
  });
  async function messages(): Promise<Message[]> {
    const out = await local.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
    return out.Messages ?? [];
  }

  it('a permanent failure goes to the queue with class, reason, sequence number and key; the shard goes on', async () => {
    const c = localClients();
    const requests = new RequestCounter();
    addRequestCounter(c.sqs, requests, 'sqs');
    const done: string[] = [];
    const handler = createStreamHandler<DynamoDBRecord>({
      clients: { ...c, requests },
      env: { ...baseEnv, [CONSUMER_ENV.deadLetterQueueUrl]: queueUrl },
      processRecord: async (record, ctx) => {
        ctx.fields['orderId'] = record.dynamodb!.Keys!['pk']!.S;
        if (record.eventName === 'MODIFY') throw new PermanentError('InvalidTransition', 'placed -> paid without a payment');
        done.push(record.eventName!);
      },
    });
    const out = await handler.invoke(DDB_EVENT, lambdaContext());
    expect(out.response).toEqual({ batchItemFailures: [] });
    expect(done.sort()).toEqual(['INSERT', 'INSERT', 'REMOVE']);
    expect(out.requests['sqs']).toBe(1);
    const got = await messages();
    expect(got).toHaveLength(1);
    const m = got[0]!;
    const attr = (n: string) => m.MessageAttributes?.[n]?.StringValue;
    expect(attr('ErrorClass')).toBe('InvalidTransition');
    expect(attr('ErrorKind')).toBe('permanent');
    expect(attr('ErrorReason')).toBe('placed -> paid without a payment');
    expect(attr('EventSource')).toBe('dynamodb');
    expect(attr('SequenceNumber')).toBe(DDB_EVENT.Records[2]!.dynamodb!.SequenceNumber);
    expect(attr('PartitionKey')).toBe(partitionKeyOf(DDB_EVENT.Records[2]!));
    expect(attr('EventSourceARN')).toBe(DDB_EVENT.Records[2]!.eventSourceARN);
    expect(JSON.parse(m.Body!)).toEqual(DDB_EVENT.Records[2]);
  });

  it('a send that fails leaves the record a checkpoint failure', async () => {
    const handler = createStreamHandler<DynamoDBRecord>({
      clients: { sqs: { send: async () => { throw Object.assign(new Error('down'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }); } }, requests: new RequestCounter() } as unknown as HandlerClients,
      env: { ...baseEnv, [CONSUMER_ENV.deadLetterQueueUrl]: queueUrl },
      processRecord: async () => { throw new PermanentError('InvalidOrder', 'bad'); },
    });
    const event = ddbEvent(['a', 'b']);
    const out = await handler.invoke(event, lambdaContext());
    expect(out.response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.dynamodb!.SequenceNumber }]);
  });

  it('a record too large for the queue is sent without its images, marked BodyTruncated', () => {
    const big = ddbRecord('a', 1);
    big.dynamodb!.NewImage!['blob'] = { S: 'x'.repeat(300 * 1024) };
    const msg = streamFailureMessage(big, { kind: 'permanent', class: 'TooBig', reason: 'r' }, { queueUrl: 'q', now: new Date(0) });
    expect(msg.MessageAttributes['BodyTruncated']!.StringValue).toBe('true');
    const body = JSON.parse(msg.MessageBody) as DynamoDBRecord;
    expect(body.dynamodb!.NewImage).toBeUndefined();
    expect(body.dynamodb!.SequenceNumber).toBe(big.dynamodb!.SequenceNumber);
  });
});

/**
 * A model of Lambda's stream event source mapping for one shard, as AWS documents it: it invokes with up
 * to `batchSize` records from the checkpoint; a partial response moves the checkpoint to the returned
 * sequence number and retries from there (with BisectBatchOnFunctionError, only the rest of that batch);
 * a function error retries the batch (bisected in two halves with BisectBatchOnFunctionError, a split not
 * counting as a retry); after MaximumRetryAttempts the rest of the batch is discarded and its range goes
 * to the mapping's on-failure destination.
 */
async function runShard(
  records: DynamoDBRecord[],
  invoke: (batch: DynamoDBRecord[]) => Promise<{ batchItemFailures: { itemIdentifier: string }[] } | 'error'>,
  o: { batchSize: number; bisect: boolean; maxRetryAttempts: number },
): Promise<{ discarded: string[]; invocations: number }> {
  const seqs = records.map((r) => r.dynamodb!.SequenceNumber!);
  const discarded: string[] = [];
  let invocations = 0;
  let segments: [number, number][] = [];
  let position = 0;
  let retries = 0;
  while (position < records.length || segments.length > 0) {
    if (segments.length === 0) segments = [[position, Math.min(records.length, position + o.batchSize)]];
    const [start, end] = segments[0]!;
    invocations++;
    const result = await invoke(records.slice(start, end));
    if (result === 'error') {
      if (o.bisect && end - start > 1) {
        const mid = start + Math.ceil((end - start) / 2);
        segments.splice(0, 1, [start, mid], [mid, end]);
        continue;
      }
      retries++;
    } else if (result.batchItemFailures.length === 0) {
      segments.shift();
      position = Math.max(position, end);
      retries = 0;
      continue;
    } else {
      const lowest = result.batchItemFailures.map((f) => seqs.indexOf(f.itemIdentifier)).sort((a, b) => a - b)[0]!;
      expect(lowest).toBeGreaterThanOrEqual(start);
      segments[0] = o.bisect ? [lowest, end] : [lowest, Math.min(records.length, lowest + o.batchSize)];
      position = Math.max(position, lowest);
      retries++;
    }
    if (retries > o.maxRetryAttempts) {
      const [s, e] = segments.shift()!;
      discarded.push(...seqs.slice(s, e));
      position = Math.max(position, e);
      retries = 0;
    }
  }
  return { discarded, invocations };
}

describe('the handler under a model of the stream event source mapping', () => {
  it('for any keys and failures, with or without bisect: each key completes in sequence order, every record completes or is reported, permanent failures carry their class', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 4 }), retryableFailures: fc.integer({ min: 0, max: 3 }), permanent: fc.boolean(), delay: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 25 }),
        fc.record({ batchSize: fc.integer({ min: 1, max: 10 }), bisect: fc.boolean(), maxRetryAttempts: fc.integer({ min: 0, max: 4 }) }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        async (specs, esm, crashes) => {
          const recs = specs.map((s, i) => ({ ...s, permanent: s.permanent && i % 4 === 1, record: ddbRecord(`k${s.key}`, i) }));
          const bySeq = new Map(recs.map((r) => [r.record.dynamodb!.SequenceNumber!, r]));
          const attempts = new Map<string, number>();
          const completions: string[] = []; // sequence numbers, in the order they first took effect or were dead-lettered
          const complete = (seq: string) => { if (!completions.includes(seq)) completions.push(seq); };
          const sent: { MessageAttributes: Record<string, { StringValue: string }> }[] = [];
          const handler = handlerFor<DynamoDBRecord>({
            clients: { sqs: { send: async (cmd: { input: (typeof sent)[number] }) => { sent.push(cmd.input); complete(cmd.input.MessageAttributes['SequenceNumber']!.StringValue); return {}; } }, requests: new RequestCounter() } as unknown as HandlerClients,
            env: { [CONSUMER_ENV.deadLetterQueueUrl]: 'https://sqs.us-east-1.amazonaws.com/123456789012/on-failure' },
            processRecord: async (record, ctx) => {
              const spec = bySeq.get(ctx.sequenceNumber)!;
              const n = (attempts.get(ctx.sequenceNumber) ?? 0) + 1;
              attempts.set(ctx.sequenceNumber, n);
              await tick(spec.delay);
              if (spec.permanent) throw new PermanentError('InvalidOrder', `record ${ctx.sequenceNumber}`);
              if (n <= spec.retryableFailures) throw new RetryableError('Throttled', 'again');
              complete(ctx.sequenceNumber);
            },
          });
          let call = 0;
          const { discarded } = await runShard(
            recs.map((r) => r.record),
            async (batch) => {
              const out = await handler(structuredClone({ Records: batch }), lambdaContext());
              // A crash after the work (the response is lost): Lambda sees a function error.
              return crashes[call++] ? 'error' : out;
            },
            esm,
          );
          // Every record completed (took effect or was dead-lettered) or was reported by the mapping.
          for (const r of recs) {
            const seq = r.record.dynamodb!.SequenceNumber!;
            expect(completions.includes(seq) || discarded.includes(seq)).toBe(true);
          }
          // Within a key, first completions follow sequence order.
          for (const key of new Set(recs.map((r) => r.key))) {
            const mine = completions.filter((seq) => bySeq.get(seq)!.key === key);
            expect(mine).toEqual([...mine].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
          }
          // Permanent failures reached the on-failure queue with their class (unless the mapping gave up first).
          for (const r of recs.filter((x) => x.permanent)) {
            const seq = r.record.dynamodb!.SequenceNumber!;
            const m = sent.find((s) => s.MessageAttributes['SequenceNumber']!.StringValue === seq);
            if (!discarded.includes(seq)) expect(m?.MessageAttributes['ErrorClass']!.StringValue).toBe('InvalidOrder');
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
