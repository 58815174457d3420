/**
 * Issue 24 part 4: state that lasts (`dataDir`, `--data-dir`) and the reset (`stack.reset()`,
 * `POST /_floodgate/reset`), against the embedded emulators with the fixture app (queue + DLQ +
 * consumer function + table + bucket) and the DynamoDB Streams app.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { DataDirInUseError } from '../src/core/deployment/state';
import { signedPost } from '../src/services/events/deliver';
import { LOCAL_CREDENTIALS } from '../src/core/identity';
import type { LogEntry } from '../src/lambda-host/index';
import { synthFixtureApp } from './fixtures/fixture-app';
import { synthStreamsApp } from './fixtures/streams-app';
import { synthCdkCustomResourcesApp } from './fixtures/custom-resource-app';

const quiet = (): void => undefined;

async function counts(stack: LocalStack, QueueUrl: string): Promise<[number, number, number]> {
  const a = await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
  return [Number(a.Attributes?.ApproximateNumberOfMessages), Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible), Number(a.Attributes?.ApproximateNumberOfMessagesDelayed)];
}

/** A message ready, one in flight (received, not deleted) and one delayed, on `QueueUrl`. */
async function fillQueue(stack: LocalStack, QueueUrl: string, tag: string): Promise<void> {
  await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `${tag}-inflight` }));
  const got = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 300, WaitTimeSeconds: 1 }));
  expect(got.Messages?.[0]?.Body).toBe(`${tag}-inflight`);
  await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `${tag}-ready` }));
  await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `${tag}-delayed`, DelaySeconds: 600 }));
  expect(await counts(stack, QueueUrl)).toEqual([1, 1, 1]);
}

async function waitForItem(stack: LocalStack, TableName: string, pk: string): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 120; i++) {
    const item = (await stack.clients.dynamodb.send(new GetItemCommand({ TableName, Key: { pk: { S: pk } } }))).Item;
    if (item) return item;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

let assembly: string;
beforeAll(() => {
  assembly = synthFixtureApp(join(mkdtempSync(join(tmpdir(), 'fl-state-')), 'cdk.out'));
}, 120_000);

describe('dataDir: state that lasts', () => {
  it('keeps the queues with their messages (ready, in flight, delayed), the table with its items and the bucket with its objects across a stop and a start, under the same names', { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fl-data-'));
    const first = await startLocalStack({ assembly, dataDir, log: quiet, waitTimeSeconds: 1 });
    let outputs: Record<string, string>;
    try {
      expect(first.restored).toBe(false);
      outputs = { ...first.outputs };
      await fillQueue(first, outputs.DlqUrl!, 'kept');
      await first.clients.dynamodb.send(new PutItemCommand({ TableName: outputs.TableName!, Item: { pk: { S: 'kept-item' }, v: { N: '7' } } }));
      await first.clients.s3.send(new PutObjectCommand({ Bucket: outputs.BucketName!, Key: 'kept/object.txt', Body: 'kept body' }));
      // The consumer ran on the first start: its item is kept too.
      await first.clients.sqs.send(new SendMessageCommand({ QueueUrl: outputs.QueueUrl!, MessageBody: JSON.stringify({ id: 'before-restart', action: 'ok' }) }));
      expect((await waitForItem(first, outputs.TableName!, 'before-restart'))?.attempts).toEqual({ N: '1' });
      // One running stack per data directory.
      await expect(startLocalStack({ assembly, dataDir, log: quiet })).rejects.toBeInstanceOf(DataDirInUseError);
    } finally {
      await first.stop();
    }

    const lines: string[] = [];
    const second = await startLocalStack({ assembly, dataDir, log: (l) => lines.push(l), waitTimeSeconds: 1 });
    try {
      expect(second.restored).toBe(true);
      expect(lines.some((l) => l.includes('restoring FloodgateLocalFixture'))).toBe(true);
      // The same generated names: the resources were found, not created again (queue URLs are on the
      // endpoint, whose port is a new free one unless `port` is given).
      const onEndpoint = (o: Record<string, string>, endpoint: string) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.replace(endpoint, 'ENDPOINT')]));
      expect(onEndpoint(second.outputs as Record<string, string>, second.endpoint)).toEqual(onEndpoint(outputs, first.endpoint));
      outputs = { ...second.outputs };
      expect(await counts(second, outputs.DlqUrl!)).toEqual([1, 1, 1]);
      const ready = await second.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: outputs.DlqUrl!, WaitTimeSeconds: 1 }));
      expect(ready.Messages?.map((m) => m.Body)).toEqual(['kept-ready']);
      expect((await second.clients.dynamodb.send(new GetItemCommand({ TableName: outputs.TableName!, Key: { pk: { S: 'kept-item' } } }))).Item).toEqual({ pk: { S: 'kept-item' }, v: { N: '7' } });
      expect((await second.clients.dynamodb.send(new GetItemCommand({ TableName: outputs.TableName!, Key: { pk: { S: 'before-restart' } } }))).Item?.attempts).toEqual({ N: '1' });
      const obj = await second.clients.s3.send(new GetObjectCommand({ Bucket: outputs.BucketName!, Key: 'kept/object.txt' }));
      expect(await obj.Body!.transformToString()).toBe('kept body');
      // The event source mapping runs on the kept queue.
      await second.clients.sqs.send(new SendMessageCommand({ QueueUrl: outputs.QueueUrl!, MessageBody: JSON.stringify({ id: 'after-restart', action: 'ok' }) }));
      expect((await waitForItem(second, outputs.TableName!, 'after-restart'))?.attempts).toEqual({ N: '1' });
    } finally {
      await second.stop();
    }
  });

  it('keeps a stack with custom resources: no Delete at the stop (autoDeleteObjects leaves the objects), nothing sent at the restart', { timeout: 180_000 }, async () => {
    const crAssembly = synthCdkCustomResourcesApp(join(mkdtempSync(join(tmpdir(), 'fl-state-cr-')), 'cdk.out'));
    const dataDir = mkdtempSync(join(tmpdir(), 'fl-data-cr-'));
    const lines: string[] = [];
    const paints: string[] = [];
    const opts = { assembly: crAssembly, dataDir, log: (l: string) => lines.push(l), onLog: (e: LogEntry) => void (e.line.includes('PAINT-EVENT') && paints.push(e.line)) };
    const first = await startLocalStack(opts);
    const outputs = { ...first.outputs };
    await first.stop();
    expect(paints.map((l) => /"RequestType":"(\w+)"/.exec(l)?.[1])).toEqual(['Create']);
    const created = lines.filter((l) => l.startsWith('custom resource ')).length;
    expect(created).toBe(3);

    const second = await startLocalStack(opts);
    try {
      expect(second.restored).toBe(true);
      // Same properties: CloudFormation sends nothing, and neither does a restart.
      expect(lines.filter((l) => l.startsWith('custom resource ')).length).toBe(created);
      expect(paints.map((l) => /"RequestType":"(\w+)"/.exec(l)?.[1])).toEqual(['Create']);
      expect(second.outputs.Shade).toBe(outputs.Shade);
      // The autoDeleteObjects custom resource got no Delete at the stop: the object AwsCustomResource put is there.
      const marker = await second.clients.s3.send(new GetObjectCommand({ Bucket: outputs.Bucket!, Key: 'marker.txt' }));
      expect(await marker.Body!.transformToString()).toBe('made by AwsCustomResource');
    } finally {
      await second.stop();
    }
  });

  it('is refused with an external endpoint (which keeps its own state)', async () => {
    await expect(startLocalStack({ assembly, dataDir: mkdtempSync(join(tmpdir(), 'fl-data-')), endpoint: 'http://127.0.0.1:9', log: quiet })).rejects.toThrow(/keeps the embedded emulators' state/);
  });
});

describe('reset', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ assembly, log: quiet, waitTimeSeconds: 1 });
  }, 120_000);
  afterAll(() => stack?.stop());

  it('POST /_floodgate/reset (signed by the local admin) empties every queue (in flight and delayed too), table and bucket, and keeps them and the mapping running', { timeout: 60_000 }, async () => {
    const { DlqUrl, QueueUrl, TableName, BucketName } = stack.outputs as Record<string, string>;
    await fillQueue(stack, DlqUrl!, 'reset');
    for (let i = 0; i < 4; i++) {
      await stack.clients.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [TableName!]: Array.from({ length: 25 }, (_, j) => ({ PutRequest: { Item: { pk: { S: `item-${i}-${j}` } } } })) } }));
    }
    for (let i = 0; i < 5; i++) await stack.clients.s3.send(new PutObjectCommand({ Bucket: BucketName!, Key: `o/${i}`, Body: 'x' }));

    const unsigned = await fetch(`${stack.endpoint}/_floodgate/reset`, { method: 'POST' });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
    expect(await unsigned.text()).toContain('--aws-sigv4');
    expect(await counts(stack, DlqUrl!)).toEqual([1, 1, 1]);

    const res = await signedPost(stack.endpoint, stack.region, LOCAL_CREDENTIALS, 'floodgate', '/_floodgate/reset', {}, '');
    expect(res.status).toBe(200);
    const report = (await res.json()) as { resources: Record<string, number>; deleted: number; ms: number };
    expect(report.resources).toEqual({ 'AWS::SQS::Queue': 2, 'AWS::DynamoDB::GlobalTable': 1, 'AWS::S3::Bucket': 1 });
    expect(report.deleted).toBe(105);

    expect(await counts(stack, DlqUrl!)).toEqual([0, 0, 0]);
    expect(await counts(stack, QueueUrl!)).toEqual([0, 0, 0]);
    expect((await stack.clients.dynamodb.send(new ScanCommand({ TableName: TableName! }))).Count).toBe(0);
    expect((await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: BucketName! }))).KeyCount ?? 0).toBe(0);
    // The resources stay and the mapping still runs.
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: QueueUrl!, MessageBody: JSON.stringify({ id: 'after-reset', action: 'ok' }) }));
    expect((await waitForItem(stack, TableName!, 'after-reset'))?.attempts).toEqual({ N: '1' });
  });

  it('stack.reset() does the same, and a function cannot reset the stack with its own credentials', { timeout: 30_000 }, async () => {
    const { DlqUrl, TableName } = stack.outputs as Record<string, string>;
    await fillQueue(stack, DlqUrl!, 'again');
    const report = await stack.reset();
    expect(report.deleted).toBeGreaterThanOrEqual(1); // the item the consumer wrote
    expect(report.ms).toBeGreaterThan(0);
    expect(await counts(stack, DlqUrl!)).toEqual([0, 0, 0]);
    expect((await stack.clients.dynamodb.send(new ScanCommand({ TableName: TableName! }))).Count).toBe(0);

    const fn = stack.deployment.functions[0]!;
    const creds = stack.functionCredentials(fn.logicalId)!;
    const refused = await signedPost(stack.endpoint, stack.region, creds, 'floodgate', '/_floodgate/reset', {}, '');
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('Only the local admin');
  });
});

describe('reset with a DynamoDB stream mapping', () => {
  it('does not deliver its own deletes to the stream functions, which go on with the records written after it', { timeout: 120_000 }, async () => {
    const streams = synthStreamsApp(join(mkdtempSync(join(tmpdir(), 'fl-state-streams-')), 'cdk.out'));
    const recorded: Array<{ fn: string; pk: string; eventName: string }> = [];
    const onLog = (e: LogEntry): void => {
      const m = /\{"recorded":(\{.*\})\}\s*$/.exec(e.line);
      if (m) recorded.push(JSON.parse(m[1]!) as { fn: string; pk: string; eventName: string });
    };
    const stack = await startLocalStack({ assembly: streams, log: quiet, onLog, streamPollIntervalMs: 50 });
    try {
      const TableName = stack.outputs.TableName!;
      const waitFor = async (pred: () => boolean): Promise<void> => {
        for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
        expect(pred()).toBe(true);
      };
      for (let i = 0; i < 3; i++) await stack.clients.dynamodb.send(new PutItemCommand({ TableName, Item: { pk: { S: `before-${i}` }, v: { N: '1' } } }));
      await waitFor(() => recorded.filter((r) => r.fn === 'Ordered').length === 3);
      const report = await stack.reset();
      expect(report.deleted).toBe(3);
      await stack.clients.dynamodb.send(new PutItemCommand({ TableName, Item: { pk: { S: 'after' }, v: { N: '1' } } }));
      await waitFor(() => recorded.some((r) => r.pk === 'after'));
      // Give a REMOVE a chance to show up, had the deletes been delivered.
      await new Promise((r) => setTimeout(r, 500));
      expect(recorded.filter((r) => r.fn === 'Ordered').map((r) => `${r.eventName} ${r.pk}`)).toEqual(['INSERT before-0', 'INSERT before-1', 'INSERT before-2', 'INSERT after']);
      expect(recorded.filter((r) => r.eventName === 'REMOVE')).toEqual([]);
    } finally {
      await stack.stop();
    }
  });
});
