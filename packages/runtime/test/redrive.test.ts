/**
 * Redrive that processes, and the crash window between the DLQ send and the `failed` mark, on
 * createConsumerHandler({ idempotency }) with the in-memory persistence (and, for the crash, DynamoDB Local
 * in a child process killed by the fault injection of faults.ts). The DLQ is a real fauxqs queue: a
 * redrive is the dead-lettered message as received from it, attributes and all.
 */
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createConsumerHandler, type ConsumerHandlerOptions } from '../src/consumer-handler';
import { RequestCounter, type HandlerClients } from '../src/aws-clients';
import { CONSUMER_ENV } from '../src/env';
import { PermanentError, RetryableError } from '../src/errors';
import { redrivenFrom } from '../src/dead-letter';
import { CRASH_EXIT_CODE, FAULTS_ENV } from '../src/faults';
import { InMemoryIdempotencyStore, IdempotencyStore, payloadHash, type IdempotencyPersistence } from '../src/idempotency/index';
import { S } from '../src/ddb-attrs';
import { localClients } from '../../../test/support/local-env';
import { createTable } from '../../../test/lambda/support/tables';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';

const local = localClients();
let dlqUrl: string;
let env: Record<string, string>;

beforeAll(async () => {
  dlqUrl = (await local.sqs.send(new CreateQueueCommand({ QueueName: `redrive-dlq-${randomUUID().slice(0, 8)}` }))).QueueUrl!;
  env = {
    [CONSUMER_ENV.softMarginMs]: '1000',
    [CONSUMER_ENV.hardMarginMs]: '500',
    [CONSUMER_ENV.deadLetterQueueUrl]: dlqUrl,
    [CONSUMER_ENV.maxReceiveCount]: '5',
  };
});

const clients = (): HandlerClients => ({ ...localClients(), requests: new RequestCounter() });
const ctx = (ms = 30_000) => ({ getRemainingTimeInMillis: () => ms });

let seq = 0;
function record(body: unknown, receive = 1): SQSRecord {
  return {
    messageId: `m-${++seq}-${randomUUID().slice(0, 8)}`,
    receiptHandle: 'rh',
    body: JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(receive) } as SQSRecord['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:orders',
    awsRegion: 'us-east-1',
  };
}

/** A dead-lettered message as the source queue delivers it after a move task: a new id, its attributes kept. */
function redriven(m: Message): SQSRecord {
  return {
    ...record(JSON.parse(m.Body!)),
    messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { dataType: v.DataType!, stringValue: v.StringValue! }])) as SQSRecord['messageAttributes'],
  };
}

/** Takes (receives and deletes) the DLQ messages of `sourceMessageId`. */
async function takeDeadLetters(sourceMessageId: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const r = await local.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30, MessageAttributeNames: ['All'] }));
    if (!r.Messages?.length) {
      empty++;
      continue;
    }
    for (const m of r.Messages) {
      if (m.MessageAttributes?.['SourceMessageId']?.StringValue === sourceMessageId) {
        out.push(m);
        await local.sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
  }
  return out;
}

/** An order service whose downstream refuses until `fixed`: the permanent AccessDenied of the docs. */
function orders(store: IdempotencyPersistence, extra: Partial<ConsumerHandlerOptions<undefined, Record<string, unknown>>> = {}) {
  const effects: string[] = [];
  const state = { fixed: false };
  const handler = createConsumerHandler({
    env,
    clients: clients(),
    idempotency: { store, key: (r) => (JSON.parse(r.body) as { id: string }).id },
    processRecord: async (r, c) => {
      const id = (JSON.parse(r.body) as { id: string }).id;
      if (!state.fixed) throw new PermanentError('AccessDenied', `not authorized to write order ${id}`);
      effects.push(`${id}@${c.idempotency!.fence}`);
      c.idempotency!.setResult({ result: S(`applied ${id}`) });
    },
    ...extra,
  });
  return { handler, effects, state };
}

describe('redrive that processes', () => {
  it('recognises a redrive only by the runtime\'s dead-letter attributes', () => {
    const r = record({ id: 'x' });
    expect(redrivenFrom(r)).toBeUndefined();
    const withAttrs = (attrs: Record<string, string>) => ({ ...r, messageAttributes: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, { dataType: 'String', stringValue: v }])) }) as SQSRecord;
    expect(redrivenFrom(withAttrs({ ErrorClass: 'AccessDenied', ErrorKind: 'permanent', SourceMessageId: 'm-1' }))).toBe('m-1');
    // A producer's own SourceMessageId alone is no redrive.
    expect(redrivenFrom(withAttrs({ SourceMessageId: 'm-1' }))).toBeUndefined();
  });

  it('a permanent failure, a fix, the redrive: it runs once under a new fence; plain duplicates and a second delivery of the redrive are skipped', async () => {
    const store = new InMemoryIdempotencyStore();
    const { handler, effects, state } = orders(store);
    const first = record({ id: 'o-1' });
    const a = await handler.invoke({ Records: [first] }, ctx());
    expect(a.response.batchItemFailures).toEqual([]);
    expect(a.report.counts.permanent).toBe(1);
    expect(store.get('o-1')?.rec).toMatchObject({ status: 'failed', errorClass: 'AccessDenied', deadLetteredMessageId: first.messageId, fence: 1 });

    // A plain duplicate (the same body, no attributes) of the failed key is skipped: no second DLQ copy.
    const dup = await handler.invoke({ Records: [record({ id: 'o-1' })] }, ctx());
    expect(dup.metrics.counts['DuplicatesSkipped']).toBe(1);
    const letters = await takeDeadLetters(first.messageId);
    expect(letters).toHaveLength(1);

    // The fix, then the redrive of the DLQ copy: it claims the failed key again and does its work once.
    state.fixed = true;
    const copy = redriven(letters[0]!);
    const b = await handler.invoke({ Records: [copy] }, ctx());
    expect(b.response.batchItemFailures).toEqual([]);
    expect(b.metrics.counts).toMatchObject({ RedrivesClaimed: 1, DuplicatesSkipped: 0 });
    expect(effects).toEqual(['o-1@2']);
    expect(store.get('o-1')?.rec).toMatchObject({ status: 'completed', completions: 1, fence: 2 });
    expect(store.get('o-1')?.rec.deadLetteredMessageId).toBeUndefined();
    expect(store.get('o-1')?.attrs['result']).toEqual(S('applied o-1'));

    // SQS delivers the redriven copy again, and a producer resends: both skipped.
    const again = await handler.invoke({ Records: [{ ...copy, messageId: copy.messageId }, record({ id: 'o-1' })] }, ctx());
    expect(again.metrics.counts).toMatchObject({ DuplicatesSkipped: 2, RedrivesClaimed: 0 });
    expect(effects).toEqual(['o-1@2']);
    expect(store.get('o-1')?.rec.completions).toBe(1);
  });

  it('a redrive that fails again is dead-lettered again; only the newest copy may claim, the older one is skipped', async () => {
    const store = new InMemoryIdempotencyStore();
    const { handler, effects, state } = orders(store);
    const first = record({ id: 'o-2' });
    await handler.invoke({ Records: [first] }, ctx());
    const [copy1] = await takeDeadLetters(first.messageId);
    const r1 = redriven(copy1!);
    await handler.invoke({ Records: [r1] }, ctx()); // not fixed yet: fails again
    expect(store.get('o-2')?.rec).toMatchObject({ status: 'failed', fence: 2, deadLetteredMessageId: r1.messageId });
    const [copy2] = await takeDeadLetters(r1.messageId);
    expect(copy2?.MessageAttributes?.['SourceMessageId']?.StringValue).toBe(r1.messageId);
    state.fixed = true;
    // A stale copy (the first one, delivered again) is a duplicate now.
    const stale = await handler.invoke({ Records: [r1] }, ctx());
    expect(stale.metrics.counts['DuplicatesSkipped']).toBe(1);
    const fresh = await handler.invoke({ Records: [redriven(copy2!)] }, ctx());
    expect(fresh.metrics.counts['RedrivesClaimed']).toBe(1);
    expect(effects).toEqual(['o-2@3']);
  });

  it('redrive: false keeps a failed key final', async () => {
    const store = new InMemoryIdempotencyStore();
    const { handler, effects, state } = orders(store, {});
    const off = createConsumerHandler({ env, clients: clients(), idempotency: { store, key: (r) => (JSON.parse(r.body) as { id: string }).id, redrive: false }, processRecord: async () => void effects.push('ran') });
    const first = record({ id: 'o-3' });
    await handler.invoke({ Records: [first] }, ctx());
    const [copy] = await takeDeadLetters(first.messageId);
    state.fixed = true;
    const r = await off.invoke({ Records: [redriven(copy!)] }, ctx());
    expect(r.metrics.counts['DuplicatesSkipped']).toBe(1);
    expect(effects).toEqual([]);
  });
});

describe('the crash window between the DLQ send and the failed mark', () => {
  it('the DLQ send fails: the key is not marked, the claim is released, the record is retried and then dead-lettered once', async () => {
    const store = new InMemoryIdempotencyStore();
    const c = clients();
    let failSends = 1;
    const realSend = c.sqs.send.bind(c.sqs);
    // Fault injection at the SDK boundary: the first SendMessage to the DLQ fails after the SDK's retries.
    (c.sqs as { send: unknown }).send = async (cmd: { constructor: { name: string } }, opts?: unknown) => {
      if (cmd.constructor.name === 'SendMessageCommand' && failSends-- > 0) throw Object.assign(new Error('injected: service unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
      return realSend(cmd as never, opts as never);
    };
    const handler = createConsumerHandler({ env, clients: c, idempotency: { store, key: () => 'k-send' }, processRecord: async () => { throw new PermanentError('AccessDenied', 'denied'); } });
    const r = record({ id: 'k-send' });
    const a = await handler.invoke({ Records: [r] }, ctx());
    expect(a.response.batchItemFailures).toEqual([{ itemIdentifier: r.messageId }]);
    expect(store.get('k-send')?.rec.status).toBe('released'); // not failed: nothing says "done"
    expect(await takeDeadLetters(r.messageId)).toHaveLength(0);
    // SQS delivers it again: it runs, is dead-lettered, and marked.
    const b = await handler.invoke({ Records: [{ ...r, attributes: { ...r.attributes, ApproximateReceiveCount: '2' } }] }, ctx());
    expect(b.response.batchItemFailures).toEqual([]);
    expect(store.get('k-send')?.rec).toMatchObject({ status: 'failed', deadLetteredMessageId: r.messageId });
    expect(await takeDeadLetters(r.messageId)).toHaveLength(1);
  });

  it('the failed mark fails after the send: the DLQ has the message, the record is retried, and ends failed', async () => {
    const inner = new InMemoryIdempotencyStore();
    let failMarks = 1;
    const store: IdempotencyPersistence = {
      claim: (...a) => inner.claim(...a),
      complete: (...a) => inner.complete(...a),
      release: (...a) => inner.release(...a),
      fail: async (...a) => {
        if (failMarks-- > 0) throw Object.assign(new Error('injected: throughput exceeded'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
        return inner.fail(...a);
      },
    };
    const handler = createConsumerHandler({ env, clients: clients(), idempotency: { store, key: () => 'k-mark' }, processRecord: async () => { throw new PermanentError('AccessDenied', 'denied'); } });
    const r = record({ id: 'k-mark' });
    const a = await handler.invoke({ Records: [r] }, ctx());
    expect(a.response.batchItemFailures).toEqual([{ itemIdentifier: r.messageId }]);
    expect(a.metrics.counts['FailedMarksLost']).toBe(1);
    expect(inner.get('k-mark')?.rec.status).toBe('released');
    const b = await handler.invoke({ Records: [{ ...r, attributes: { ...r.attributes, ApproximateReceiveCount: '2' } }] }, ctx());
    expect(b.response.batchItemFailures).toEqual([]);
    expect(inner.get('k-mark')?.rec).toMatchObject({ status: 'failed', deadLetteredMessageId: r.messageId });
    // Two copies in the DLQ (the price of never losing one); a redrive of either runs at most once.
    const copies = await takeDeadLetters(r.messageId);
    expect(copies).toHaveLength(2);
  });

  it('the execution dies between the DLQ send and the mark (faults.ts crash): the DLQ has it, and the redrive claims the key once the lease ends', { timeout: 60_000 }, async () => {
    const table = await createTable(local.dynamodb, 'idempotency');
    const r = record({ id: 'k-crash' });
    const child = fileURLToPath(new URL('./fixtures/crash-handler.ts', import.meta.url));
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', child], {
        env: {
          ...process.env,
          ...env,
          [FAULTS_ENV]: JSON.stringify({ seed: 1, crashRate: 1, points: ['after-dead-letter'] }),
          TEST_ENDPOINTS: JSON.stringify(inject('endpoints')),
          TEST_TABLE: table,
          TEST_RECORD: JSON.stringify(r),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      p.on('error', reject);
      p.on('exit', (c) => resolve(c));
    });
    expect(code).toBe(CRASH_EXIT_CODE);
    // The DLQ got the message; the key is still in progress under the dead execution's claim (lease 8 s).
    const [copy] = await takeDeadLetters(r.messageId);
    expect(copy).toBeDefined();
    // Read, not claimed (a claim attempt would take the key if the lease had already ended under load).
    const item = (await local.dynamodb.send(new GetItemCommand({ TableName: table, Key: { id: S('k-crash') }, ConsistentRead: true }))).Item!;
    const rec = new IdempotencyStore({ client: local.dynamodb, tableName: table }).recordFromItem(item);
    expect(rec).toMatchObject({ status: 'in_progress', fence: 1, payloadHash: payloadHash(r.body) });
    expect(rec.deadLetteredMessageId).toBeUndefined();
    await new Promise((res) => setTimeout(res, Math.max(0, rec.leaseExpiresAt - Date.now()) + 200));
    // After the fix and the lease: the redrive claims the key and runs.
    const effects: string[] = [];
    const handler = createConsumerHandler({ env, clients: clients(), idempotency: { tableName: table, key: () => 'k-crash' }, processRecord: async (_r, c) => void effects.push(`ran@${c.idempotency!.fence}`) });
    const done = await handler.invoke({ Records: [redriven(copy!)] }, ctx());
    expect(done.response.batchItemFailures).toEqual([]);
    expect(effects).toEqual(['ran@2']);
    const again = await handler.invoke({ Records: [record({ id: 'k-crash' })] }, ctx());
    expect(again.metrics.counts['DuplicatesSkipped']).toBe(1);
    expect(effects).toHaveLength(1);
  });
});

describe('idempotency options', () => {
  it('claim attributes, the completion result, the one hasher, a lease of its own', async () => {
    const store = new InMemoryIdempotencyStore();
    let lease = 0;
    const handler = createConsumerHandler({
      env,
      clients: clients(),
      idempotency: {
        store,
        key: (r) => (JSON.parse(r.body) as { id: string }).id,
        claimAttributes: () => ({ set: { tenant: S('t-1') }, setIfAbsent: { firstSeen: S('first') } }),
        inProgressLeaseSeconds: 3600,
      },
      processRecord: async (_r, c) => {
        lease = c.idempotency!.claim.leaseExpiresAt;
        c.idempotency!.setResult({ total: S('42') });
      },
    });
    const t0 = Date.now();
    await handler.invoke({ Records: [record({ id: 'p-1', b: 1, a: 2 })] }, ctx(5_000));
    expect(lease).toBeGreaterThanOrEqual(t0 + 3_599_000); // not the 5 s deadline
    expect(store.get('p-1')?.attrs).toMatchObject({ tenant: S('t-1'), firstSeen: S('first'), total: S('42') });
    // The default payload hash is hash.ts's payloadHash of the body (the raw string without a schema).
    expect(store.get('p-1')?.rec.payloadHash).toBe(payloadHash(JSON.stringify({ id: 'p-1', b: 1, a: 2 })));
    expect(() => createConsumerHandler({ env, clients: clients(), idempotency: { store, key: () => 'x', inProgressLeaseSeconds: 0 }, processRecord: async () => undefined })).toThrow(/inProgressLeaseSeconds/);
  });

  it('a retryable failure with a lease of its own stopped by the deadline keeps the key; other retryable failures release it', async () => {
    const store = new InMemoryIdempotencyStore();
    const handler = createConsumerHandler({
      env,
      clients: clients(),
      idempotency: { store, key: (r) => (JSON.parse(r.body) as { id: string }).id, inProgressLeaseSeconds: 3600 },
      processRecord: async (r, c) => {
        if ((JSON.parse(r.body) as { id: string }).id === 'slow') await new Promise((res, rej) => c.signal.addEventListener('abort', () => rej(c.signal.reason)));
        else throw new RetryableError('Throttled', 'try later');
      },
    });
    await handler.invoke({ Records: [record({ id: 'slow' }), record({ id: 'busy' })] }, ctx(2_000));
    expect(store.get('slow')?.rec.status).toBe('in_progress');
    expect(store.get('busy')?.rec.status).toBe('released');
  });
});
