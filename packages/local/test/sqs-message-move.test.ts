/**
 * SQS message move tasks on the local endpoint (the DLQ redrive API, which fauxqs lacks), through the AWS
 * SDK as a user calls them: the messages go back with their body and attributes, one running task per
 * queue, the rate paces it, a cancel stops it, and what SQS refuses is refused with its error names.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type ListMessageMoveTasksResultEntry,
} from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS } from '../src/emulators';
import { authorizationsFor } from '../src/gateway/iam/index';
import { decodeTaskHandle } from '../src/services/sqs/message-move';

const endpoints = inject('endpoints');
const sqs = new SQSClient({ region: endpoints.region, endpoint: endpoints.sqs, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
const id = () => randomBytes(3).toString('hex');

async function queueWithDlq(fifo = false): Promise<{ url: string; arn: string; dlqUrl: string; dlqArn: string }> {
  const suffix = fifo ? '.fifo' : '';
  const n = id();
  const fifoAttrs = fifo ? { FifoQueue: 'true' } : {};
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `mm-dlq-${n}${suffix}`, Attributes: fifoAttrs }))).QueueUrl!;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: `mm-src-${n}${suffix}`, Attributes: { ...fifoAttrs, RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 }) } }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  return { url, arn, dlqUrl, dlqArn };
}

async function fill(queueUrl: string, count: number, fifo = false): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    const entries = Array.from({ length: Math.min(10, count - i) }, (_, j) => ({
      Id: String(j),
      MessageBody: JSON.stringify({ n: i + j }),
      MessageAttributes: { ErrorClass: { DataType: 'String', StringValue: 'AccessDenied' }, SourceMessageId: { DataType: 'String', StringValue: `m-${i + j}` } },
      ...(fifo ? { MessageGroupId: `g${(i + j) % 2}`, MessageDeduplicationId: `d-${i + j}` } : {}),
    }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
}

async function latest(sourceArn: string): Promise<ListMessageMoveTasksResultEntry> {
  return (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn }))).Results![0]!;
}

async function until(sourceArn: string, done: (t: ListMessageMoveTasksResultEntry) => boolean, ms = 15_000): Promise<ListMessageMoveTasksResultEntry> {
  const end = Date.now() + ms;
  for (;;) {
    const t = await latest(sourceArn);
    if (done(t) || Date.now() > end) return t;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function drain(queueUrl: string): Promise<{ body: string; attrs: Record<string, string | undefined>; group?: string }[]> {
  const out: { body: string; attrs: Record<string, string | undefined>; group?: string }[] = [];
  for (let empty = 0; empty < 2; ) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60, MessageAttributeNames: ['All'], AttributeNames: ['All'] }));
    if (!r.Messages?.length) {
      empty++;
      continue;
    }
    // Deleted as read: a FIFO group's next message is hidden while one of the group is in flight.
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: r.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    for (const m of r.Messages) {
      out.push({ body: m.Body!, attrs: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue])), ...(m.Attributes?.MessageGroupId ? { group: m.Attributes.MessageGroupId } : {}) });
    }
  }
  return out;
}

describe('SQS message move tasks on the local endpoint', () => {
  it('moves every DLQ message back to its source queue with body and attributes; the task is listed COMPLETED', async () => {
    const q = await queueWithDlq();
    await fill(q.dlqUrl, 23);
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn }));
    expect(decodeTaskHandle(TaskHandle!)?.sourceArn).toBe(q.dlqArn);
    const done = await until(q.dlqArn, (t) => t.Status !== 'RUNNING');
    expect(done).toMatchObject({ Status: 'COMPLETED', SourceArn: q.dlqArn, ApproximateNumberOfMessagesMoved: 23, ApproximateNumberOfMessagesToMove: 23 });
    expect(done.TaskHandle).toBeUndefined(); // only a running task shows its handle
    expect(typeof done.StartedTimestamp).toBe('number');
    const moved = await drain(q.url);
    expect(moved.map((m) => JSON.parse(m.body).n).sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(moved.every((m) => m.attrs['ErrorClass'] === 'AccessDenied' && m.attrs['SourceMessageId']?.startsWith('m-'))).toBe(true);
    expect(await drain(q.dlqUrl)).toEqual([]);
  });

  it('to a DestinationArn, FIFO groups kept; one running task per queue; the rate paces it and a cancel stops it', async () => {
    const q = await queueWithDlq(true);
    await fill(q.dlqUrl, 6, true);
    const other = await queueWithDlq(true);
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn, DestinationArn: other.arn, MaxNumberOfMessagesPerSecond: 1 }));
    const running = await latest(q.dlqArn);
    expect(running).toMatchObject({ Status: 'RUNNING', TaskHandle, DestinationArn: other.arn, MaxNumberOfMessagesPerSecond: 1 });
    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn }))).rejects.toMatchObject({ name: 'UnsupportedOperation' });
    await new Promise((r) => setTimeout(r, 1500));
    const cancelled = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    expect(cancelled.ApproximateNumberOfMessagesMoved).toBeGreaterThanOrEqual(1);
    const end = await until(q.dlqArn, (t) => t.Status === 'CANCELLED');
    expect(end.Status).toBe('CANCELLED');
    expect(end.ApproximateNumberOfMessagesMoved).toBeLessThan(6);
    await expect(sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }))).rejects.toMatchObject({ name: 'UnsupportedOperation' });
    const moved = await drain(other.url);
    expect(moved.length).toBe(end.ApproximateNumberOfMessagesMoved);
    expect(moved.every((m) => m.group === `g${JSON.parse(m.body).n % 2}`)).toBe(true);
    // Two tasks listed, most recent first.
    await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn, DestinationArn: other.arn }));
    await until(q.dlqArn, (t) => t.Status === 'COMPLETED');
    const both = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: q.dlqArn, MaxResults: 10 }))).Results!;
    expect(both.map((t) => t.Status)).toEqual(['COMPLETED', 'CANCELLED']);
    expect((await drain(other.url)).length + moved.length).toBe(6);
  });

  it('refuses what SQS refuses: a queue that is no DLQ, an unknown queue or handle, a bad rate', async () => {
    const q = await queueWithDlq();
    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.arn }))).rejects.toMatchObject({ name: 'UnsupportedOperation', message: expect.stringContaining('Dead Letter Queue') });
    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn.replace(/[^:]+$/, 'no-such-queue') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn, MaxNumberOfMessagesPerSecond: 501 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(sqs.send(new ListMessageMoveTasksCommand({ SourceArn: q.dlqArn.replace(/[^:]+$/, 'no-such-queue') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect((await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: q.dlqArn }))).Results).toEqual([]);
    const bogus = Buffer.from(JSON.stringify({ taskId: 'nope', sourceArn: q.dlqArn })).toString('base64');
    await expect(sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: bogus }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('maps each operation to the IAM actions SQS documents for a redrive', () => {
    const ctx = { region: 'us-east-1', accountId: '000000000000' };
    const req = (op: string, body: object) => ({ service: 'sqs' as const, method: 'POST', path: '/', query: '', headers: { 'x-amz-target': `AmazonSQS.${op}`, 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.from(JSON.stringify(body)) });
    const dlq = 'arn:aws:sqs:us-east-1:000000000000:jobs-dlq';
    const src = 'arn:aws:sqs:us-east-1:000000000000:jobs';
    expect(authorizationsFor(req('StartMessageMoveTask', { SourceArn: dlq, DestinationArn: src }), ctx)).toEqual([
      { action: 'sqs:StartMessageMoveTask', resource: dlq },
      { action: 'sqs:ReceiveMessage', resource: dlq },
      { action: 'sqs:DeleteMessage', resource: dlq },
      { action: 'sqs:GetQueueAttributes', resource: dlq },
      { action: 'sqs:SendMessage', resource: src },
    ]);
    expect(authorizationsFor(req('ListMessageMoveTasks', { SourceArn: dlq }), ctx)).toEqual([{ action: 'sqs:ListMessageMoveTasks', resource: dlq }]);
    const handle = Buffer.from(JSON.stringify({ taskId: 't', sourceArn: dlq })).toString('base64');
    expect(authorizationsFor(req('CancelMessageMoveTask', { TaskHandle: handle }), ctx)).toEqual([{ action: 'sqs:CancelMessageMoveTask', resource: dlq }]);
  });
});
