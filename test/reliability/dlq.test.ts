import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { STACK_NAME } from '../../lambda/shared/contract';
import { endpointEnv } from '@floodgate/local';
import { DlqClient } from '../../tools/dlq/dlq-client';
import { decideRedrive, groupByClass, REDRIVE_COUNT_ATTRIBUTE, RETRIES_EXHAUSTED, toDlqEntry } from '../../tools/dlq/entries';
import { FORCED_PERMANENT_NOTE, formatRedrive } from '../../tools/dlq/format';
import { queuesFromOutputs, queueUrlParts, sqsClientFor } from '../../tools/dlq/target';
import { localClients, localEndpoints } from '../support/local-env';

const { sqs } = localClients();
let counter = 0;

async function queues(): Promise<{ source: string; dlq: string }> {
  const name = `dlqtool-${process.pid}-${Date.now()}-${counter++}`;
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const source = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) },
      }),
    )
  ).QueueUrl!;
  return { source, dlq };
}

function s(v: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: v };
}

/** What the worker sends for a permanent failure (issue 3: ErrorClass, ErrorKind, ErrorReason, JobId, FirstFailureAt + originals). */
async function deadLetter(dlq: string, jobId: string, cls: string, kind: string, reason: string, extra: Record<string, MessageAttributeValue> = {}): Promise<string> {
  const res = await sqs.send(
    new SendMessageCommand({
      QueueUrl: dlq,
      MessageBody: JSON.stringify({ v: 1, jobId, sourceKey: `uploads/${jobId}.jpg` }),
      MessageAttributes: {
        ErrorClass: s(cls),
        ErrorKind: s(kind),
        ErrorReason: s(reason),
        JobId: s(jobId),
        FirstFailureAt: s('2026-11-23T23:00:00.000Z'),
        ...extra,
      },
    }),
  );
  return res.MessageId!;
}

/** A message SQS itself moves to the DLQ: received maxReceiveCount (1) times without deletion. */
async function exhaust(source: string, dlq: string, body: string): Promise<void> {
  const before = await visible(dlq);
  await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: body, MessageAttributes: { Origin: s('test') } }));
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: source, WaitTimeSeconds: 1, VisibilityTimeout: 1 }));
  expect(got.Messages).toHaveLength(1);
  // After the visibility timeout the next receive attempt redrives it to the DLQ.
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: source, WaitTimeSeconds: 0, VisibilityTimeout: 1 }));
    if ((await visible(dlq)) > before) return;
  }
  throw new Error('SQS did not redrive the message to the DLQ');
}

async function visible(url: string): Promise<number> {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes!;
  return Number(a.ApproximateNumberOfMessages);
}

describe('DLQ entries (pure)', () => {
  it('classifies handler-sent failures by their attributes and redrive-policy moves as retries exhausted', () => {
    const permanent = toDlqEntry({
      MessageId: 'm1',
      Body: '{"v":1,"jobId":"j1"}',
      MessageAttributes: { ErrorClass: s('CorruptImage'), ErrorKind: s('permanent'), ErrorReason: s('truncated JPEG'), JobId: s('j1') },
      Attributes: { ApproximateReceiveCount: '2', SentTimestamp: '1763938800000' },
    });
    expect(permanent).toMatchObject({ errorClass: 'CorruptImage', kind: 'permanent', reason: 'truncated JPEG', jobId: 'j1', receiveCount: 2 });
    expect(permanent.sentAt).toBe(new Date(1763938800000).toISOString());
    const exhausted = toDlqEntry({ MessageId: 'm2', Body: '{"v":1,"jobId":"j2"}' });
    expect(exhausted).toMatchObject({ errorClass: RETRIES_EXHAUSTED, kind: 'exhausted', jobId: 'j2' });
    expect(exhausted.reason).toMatch(/maxReceiveCount/);
    // Class without kind: the shared taxonomy decides.
    expect(toDlqEntry({ MessageId: 'm3', Body: 'x', MessageAttributes: { ErrorClass: s('TooLarge') } }).kind).toBe('permanent');
    expect(toDlqEntry({ MessageId: 'm4', Body: 'not json', MessageAttributes: { ErrorClass: s('Throttled') } })).toMatchObject({ kind: 'retryable', jobId: undefined });
  });

  it('groups by class with distinct reasons counted, and refuses permanent redrives unless forced', () => {
    const e = (id: string, cls: string, reason: string) =>
      toDlqEntry({ MessageId: id, Body: '', MessageAttributes: { ErrorClass: s(cls), ErrorReason: s(reason) } });
    const groups = groupByClass([e('a', 'CorruptImage', 'r1'), e('b', 'CorruptImage', 'r2'), e('c', 'CorruptImage', 'r1'), e('d', 'InvalidMessage', 'r3')]);
    expect(groups.map((g) => [g.errorClass, g.count])).toEqual([['CorruptImage', 3], ['InvalidMessage', 1]]);
    expect(groups[0]!.reasons).toEqual([{ reason: 'r1', count: 2 }, { reason: 'r2', count: 1 }]);
    expect(decideRedrive(e('x', 'CorruptImage', 'r'), false).redrive).toBe(false);
    expect(decideRedrive(e('x', 'CorruptImage', 'r'), true).redrive).toBe(true);
    expect(decideRedrive(toDlqEntry({ MessageId: 'y', Body: '' }), false).redrive).toBe(true);
  });

  it('a forced redrive of a permanent failure says that the worker will skip it as finished', () => {
    const perm = toDlqEntry({ MessageId: 'p', Body: '', MessageAttributes: { ErrorClass: s('CorruptImage'), ErrorKind: s('permanent') } });
    const retry = toDlqEntry({ MessageId: 'r', Body: '' });
    expect(formatRedrive({ redriven: [perm], refused: [], failed: [], notFound: [] }, 'q')).toContain(FORCED_PERMANENT_NOTE);
    expect(formatRedrive({ redriven: [retry], refused: [], failed: [], notFound: [] }, 'q')).not.toContain(FORCED_PERMANENT_NOTE);
  });

  it('reads queue URLs from cdk --outputs-file JSON and names what is missing', () => {
    const t = queuesFromOutputs({ [STACK_NAME]: { JobQueueUrl: 'q', DeadLetterQueueUrl: 'd' } }, STACK_NAME, 'f.json');
    expect(t).toMatchObject({ sourceQueueUrl: 'q', deadLetterQueueUrl: 'd' });
    expect(() => queuesFromOutputs({ Other: {} }, STACK_NAME, 'f.json')).toThrow(/no stack "FloodgateImagePipeline" \(found: Other\)/);
    expect(() => queuesFromOutputs({ [STACK_NAME]: { JobQueueUrl: 'q' } }, STACK_NAME, 'f.json')).toThrow(/DeadLetterQueueUrl/);
  });

  it('derives the endpoint from a loopback queue URL and the region from an AWS one', async () => {
    expect(queueUrlParts('http://sqs.us-east-1.127.0.0.1:4566/000000000000/q')).toEqual({ scheme: 'http', host: 'sqs.us-east-1.127.0.0.1', port: '4566' });
    const local = sqsClientFor({ deadLetterQueueUrl: 'http://sqs.us-east-1.127.0.0.1:4566/000000000000/q', origin: 't' }, {});
    const ep = await local.config.endpoint!();
    expect(`${ep.protocol}//${ep.hostname}:${ep.port}`).toBe('http://127.0.0.1:4566');
    const aws = sqsClientFor({ deadLetterQueueUrl: 'https://sqs.eu-west-3.amazonaws.com/123456789012/q', origin: 't' }, {});
    expect(await aws.config.region()).toBe('eu-west-3');
    expect(aws.config.endpoint).toBeUndefined();
    // An explicit endpoint variable wins: the SDK reads it itself.
    const env = sqsClientFor({ deadLetterQueueUrl: 'http://127.0.0.1:1/q', origin: 't' }, { AWS_ENDPOINT_URL_SQS: 'http://x:1', AWS_REGION: 'us-east-1' });
    expect(env.config.endpoint).toBeUndefined();
  });
});

describe('DLQ tool against fauxqs', () => {
  it('lists without consuming: grouped by class, all messages still there and visible', async () => {
    const { source, dlq } = await queues();
    await deadLetter(dlq, 'job-a', 'CorruptImage', 'permanent', 'JPEG is truncated');
    await deadLetter(dlq, 'job-b', 'CorruptImage', 'permanent', 'JPEG is truncated');
    await deadLetter(dlq, 'job-c', 'UnsupportedFormat', 'permanent', 'SVG is not accepted');
    await exhaust(source, dlq, JSON.stringify({ v: 1, jobId: 'job-d', sourceKey: 'uploads/d.jpg' }));
    const client = new DlqClient({ sqs, deadLetterQueueUrl: dlq, sourceQueueUrl: source });
    const entries = await client.list();
    expect(entries).toHaveLength(4);
    const groups = groupByClass(entries);
    expect(groups.map((g) => [g.errorClass, g.kind, g.count])).toEqual([
      ['CorruptImage', 'permanent', 2],
      [RETRIES_EXHAUSTED, 'exhausted', 1],
      ['UnsupportedFormat', 'permanent', 1],
    ]);
    // Released at once: everything is visible again (not waiting out a visibility timeout).
    expect(await visible(dlq)).toBe(4);
    expect(await client.list()).toHaveLength(4);
  });

  it('show finds a message by message id or job id with its attributes and body', async () => {
    const { source, dlq } = await queues();
    const id = await deadLetter(dlq, 'job-show', 'TooLarge', 'permanent', 'PNG header declares 30000x30000', { Tenant: s('acme') });
    const client = new DlqClient({ sqs, deadLetterQueueUrl: dlq, sourceQueueUrl: source });
    const [byMessage] = await client.show(id);
    expect(byMessage).toMatchObject({ messageId: id, jobId: 'job-show', errorClass: 'TooLarge', kind: 'permanent' });
    expect(byMessage!.attributes.Tenant?.StringValue).toBe('acme');
    expect(JSON.parse(byMessage!.body)).toMatchObject({ jobId: 'job-show' });
    expect((await client.show('job-show'))[0]?.messageId).toBe(id);
    expect(await client.show('nope')).toEqual([]);
    expect(await visible(dlq)).toBe(1);
  });

  it('redrive --all moves retryable/exhausted messages with attributes, refuses permanent ones unless forced', async () => {
    const { source, dlq } = await queues();
    const perm = await deadLetter(dlq, 'job-p', 'CorruptImage', 'permanent', 'bad');
    const retry = await deadLetter(dlq, 'job-r', 'ServiceUnavailable', 'retryable', 'S3 503', { Tenant: s('acme') });
    await exhaust(source, dlq, JSON.stringify({ v: 1, jobId: 'job-x', sourceKey: 'uploads/x.jpg' }));
    // The source queue has a redrive policy with maxReceiveCount 1; receive with a long visibility below.
    const client = new DlqClient({ sqs, deadLetterQueueUrl: dlq, sourceQueueUrl: source });
    const result = await client.redrive({ all: true }, false);
    expect(result.redriven.map((e) => e.jobId).sort()).toEqual(['job-r', 'job-x']);
    expect(result.refused.map((r) => r.entry.messageId)).toEqual([perm]);
    expect(result.refused[0]!.why).toMatch(/--force/);
    expect(await visible(dlq)).toBe(1);

    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: source, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 30, MessageAttributeNames: ['All'] }));
    expect(got.Messages).toHaveLength(2);
    const r = got.Messages!.find((m) => JSON.parse(m.Body!).jobId === 'job-r')!;
    expect(r.MessageAttributes?.Tenant?.StringValue).toBe('acme');
    expect(r.MessageAttributes?.ErrorClass?.StringValue).toBe('ServiceUnavailable');
    expect(r.MessageAttributes?.[REDRIVE_COUNT_ATTRIBUTE]?.StringValue).toBe('1');
    const x = got.Messages!.find((m) => JSON.parse(m.Body!).jobId === 'job-x')!;
    expect(x.MessageAttributes?.Origin?.StringValue).toBe('test');
    expect(retry).toBeTruthy();

    const forced = await client.redrive({ ids: ['job-p', 'missing-id'] }, true);
    expect(forced.redriven.map((e) => e.messageId)).toEqual([perm]);
    expect(forced.notFound).toEqual(['missing-id']);
    expect(await visible(dlq)).toBe(0);
  });

  it('redrive of selected ids leaves the others visible in the DLQ', async () => {
    const { source, dlq } = await queues();
    const a = await deadLetter(dlq, 'job-1', 'Throttled', 'retryable', 'slow down');
    await deadLetter(dlq, 'job-2', 'Throttled', 'retryable', 'slow down');
    const client = new DlqClient({ sqs, deadLetterQueueUrl: dlq, sourceQueueUrl: source });
    const result = await client.redrive({ ids: [a] }, false);
    expect(result.redriven.map((e) => e.jobId)).toEqual(['job-1']);
    expect(await visible(dlq)).toBe(1);
    expect(await visible(source)).toBe(1);
  });

  it('the CLI reads the outputs file, prints groups and JSON, and exits 3 when a redrive is refused', async () => {
    const { source, dlq } = await queues();
    await deadLetter(dlq, 'job-cli', 'InvalidKey', 'permanent', 'sourceKey: must start with "uploads/"');
    const dir = mkdtempSync(join(tmpdir(), 'dlq-cli-'));
    const outputs = join(dir, 'outputs.json');
    writeFileSync(outputs, JSON.stringify({ [STACK_NAME]: { JobQueueUrl: source, DeadLetterQueueUrl: dlq } }));
    const run = promisify(execFile);
    // Endpoint-aware through the standard SDK variables, as against a real account.
    const env = { ...process.env, ...endpointEnv(localEndpoints()) };
    const list = await run('npx', ['tsx', 'tools/dlq/cli.ts', 'list', '--outputs', outputs], { env });
    expect(list.stdout).toMatch(/InvalidKey {2}1 {2}\(permanent/);
    expect(list.stdout).toContain('must start with');
    // Without any AWS_* variables: the loopback queue URL itself gives the endpoint (local credentials).
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    const show = await run('npx', ['tsx', 'tools/dlq/cli.ts', 'show', 'job-cli', '--json', '--outputs', outputs], { env: bare });
    expect(JSON.parse(show.stdout.trim().split('\n').at(-1)!)).toMatchObject({ jobId: 'job-cli', errorClass: 'InvalidKey' });
    const refused = await run('npx', ['tsx', 'tools/dlq/cli.ts', 'redrive', '--all', '--json', '--outputs', outputs], { env }).catch((e: { code: number; stdout: string }) => e);
    expect('code' in refused ? refused.code : 0).toBe(3);
    expect(JSON.parse(refused.stdout.trim().split('\n').at(-1)!).refused).toHaveLength(1);
    expect(await visible(dlq)).toBe(1);
  });
});
