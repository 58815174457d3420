/**
 * Issue 21 part 2, DynamoDB Streams event sources on the embedded stack, with our own CDK app
 * (fixtures/streams-app.ts): a DynamoEventSource with bisect, 2 retries, ReportBatchItemFailures and an
 * SQS on-failure queue, where a poison record ends on the queue with its DDBStreamBatchInfo and every
 * other record is processed once and in key order; a second mapping with a FilterCriteria on eventName;
 * the `aws dynamodbstreams` API and item writes through the AWS CLI. Deliveries are observed through the
 * functions' own log lines.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';
import { STREAMS_STACK, synthStreamsApp } from './fixtures/streams-app';

let stack: LocalStack;
const recorded: Array<Record<string, any>> = [];
const poisoned: Array<Record<string, any>> = [];

beforeAll(async () => {
  const dir = synthStreamsApp(mkdtempSync(join(tmpdir(), 'fg-streams-')));
  stack = await startLocalStack({
    assembly: dir,
    stack: STREAMS_STACK,
    emulators: localEndpoints(),
    waitTimeSeconds: 1,
    log: () => undefined,
    onLog: (e) => {
      if (e.json && 'recorded' in e.json) recorded.push(e.json.recorded as Record<string, any>);
      if (e.json && 'poisoned' in e.json) poisoned.push(e.json.poisoned as Record<string, any>);
    },
  });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

async function until<T>(get: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not seen in ${ms} ms`);
}

const cli = async (args: string[]): Promise<any> => {
  const { stdout } = await promisify(execFile)('aws', ['--endpoint-url', stack.endpoint, ...args, '--output', 'json'], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: stack.region, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '' },
  });
  return stdout.trim() ? JSON.parse(stdout) : undefined;
};

const of = (fn: string) => recorded.filter((r) => r.fn === fn);

describe('DynamoDB Streams event source mapping', () => {
  it('a poison record ends on the on-failure queue with its batch info; the others run once, in key order', async () => {
    const table = stack.outputs.TableName!;
    const written: Array<{ pk: string; v: number }> = [];
    for (let v = 1; v <= 6; v++) {
      for (const pk of ['a', 'b', 'c']) {
        const poison = pk === 'b' && v === 3;
        await stack.clients.dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, v: { N: String(v) }, ...(poison ? { poison: { BOOL: true } } : {}) } }));
        if (!poison) written.push({ pk, v });
      }
    }
    const failures: Message[] = [];
    await until(async () => {
      const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.outputs.FailureQueueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      failures.push(...(r.Messages ?? []));
      return failures.length > 0;
    }, 30_000, 'the on-failure record');
    // Everything after the poison record gets through once the poison is discarded.
    await until(() => of('Ordered').length >= written.length, 30_000, 'all non-poison records processed');
    await new Promise((r) => setTimeout(r, 1500)); // nothing more may arrive (no second delivery)

    const ordered = of('Ordered');
    expect(ordered.map((r) => `${r.pk}${r.v}`).sort()).toEqual(written.map((w) => `${w.pk}${w.v}`).sort()); // each exactly once
    for (const pk of ['a', 'b', 'c']) {
      const vs = ordered.filter((r) => r.pk === pk).map((r) => Number(r.v));
      expect(vs).toEqual([...vs].sort((x, y) => x - y)); // key order
    }
    // Stream order overall too (one shard, ParallelizationFactor 1).
    const seqs = ordered.map((r) => BigInt(r.seq));
    expect(seqs).toEqual([...seqs].sort((x, y) => (x < y ? -1 : 1)));

    expect(failures).toHaveLength(1);
    const f = JSON.parse(failures[0]!.Body!);
    const poisonSeq = poisoned[0]!.seq as string;
    expect(f).toMatchObject({
      requestContext: { functionArn: stack.outputs.OrderedArn, condition: 'RetryAttemptsExhausted' },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0',
      DDBStreamBatchInfo: { startSequenceNumber: poisonSeq, endSequenceNumber: poisonSeq, batchSize: 1, streamArn: stack.outputs.StreamArn },
    });
    expect(f.requestContext.requestId).toMatch(/\S/);
    expect(f.requestContext.approximateInvokeCount).toBeGreaterThanOrEqual(3); // the first try and 2 retries (bisections add more)
    expect(f.DDBStreamBatchInfo.shardId).toMatch(/^shardId-/);
    expect(Date.parse(f.timestamp)).not.toBeNaN();
    expect(Date.parse(f.DDBStreamBatchInfo.approximateArrivalOfFirstRecord)).not.toBeNaN();
    // The poison record was bisected down to itself before its retries ran out.
    expect(poisoned.filter((p) => p.pk === 'b').map((p) => p.batch)).toContain(1);
    const stats = stack.streamPollers.get([...stack.streamPollers.keys()].find((k) => k.startsWith('Ordered'))!)!.stats();
    expect(stats.bisections).toBeGreaterThan(0);
    expect(stats.recordsDiscarded).toBe(1);
    expect(stats.onFailureSent).toBe(1);
  });

  it('delivers AWS DynamoDB Streams records, and FilterCriteria applies to the record (eventName)', async () => {
    const r = of('Ordered')[0]!.record;
    expect(r).toMatchObject({ eventName: 'INSERT', eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: stack.region, eventSourceARN: stack.outputs.StreamArn });
    expect(r.eventID).toMatch(/\S/);
    expect(r.dynamodb).toMatchObject({ Keys: { pk: { S: 'a' } }, NewImage: { pk: { S: 'a' }, v: { N: '1' } }, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(typeof r.dynamodb.ApproximateCreationDateTime).toBe('number');
    expect(typeof r.dynamodb.SizeBytes).toBe('number');
    expect(r.dynamodb.SequenceNumber).toMatch(/^\d+$/);
    await until(() => of('Modified').length >= 15, 20_000, 'the MODIFY records');
    expect(of('Modified').every((m) => m.eventName === 'MODIFY')).toBe(true);
    expect(of('Modified').find((m) => m.pk === 'a' && m.v === '2')?.record.dynamodb.OldImage).toEqual({ pk: { S: 'a' }, v: { N: '1' } });
  });

  it('serves `aws dynamodbstreams` and an item updated through the CLI reaches the functions', async () => {
    const table = stack.outputs.TableName!;
    const listed = await cli(['dynamodbstreams', 'list-streams', '--table-name', table]);
    expect(listed.Streams).toEqual([expect.objectContaining({ StreamArn: stack.outputs.StreamArn, TableName: table })]);
    const described = await cli(['dynamodbstreams', 'describe-stream', '--stream-arn', stack.outputs.StreamArn!]);
    expect(described.StreamDescription).toMatchObject({ StreamArn: stack.outputs.StreamArn, StreamStatus: 'ENABLED', StreamViewType: 'NEW_AND_OLD_IMAGES', TableName: table });
    expect(described.StreamDescription.Shards.length).toBeGreaterThanOrEqual(1);
    await cli(['dynamodb', 'put-item', '--table-name', table, '--item', JSON.stringify({ pk: { S: 'cli' }, v: { N: '1' } })]);
    await cli(['dynamodb', 'update-item', '--table-name', table, '--key', JSON.stringify({ pk: { S: 'cli' } }), '--update-expression', 'SET v = :v', '--expression-attribute-values', JSON.stringify({ ':v': { N: '2' } })]);
    const modified = await until(() => of('Modified').find((m) => m.pk === 'cli'), 20_000, 'the CLI update at the filtered function');
    expect(modified).toMatchObject({ eventName: 'MODIFY', v: '2' });
    expect(modified.record.dynamodb.OldImage).toEqual({ pk: { S: 'cli' }, v: { N: '1' } });
    await until(() => of('Ordered').filter((m) => m.pk === 'cli').length === 2, 20_000, 'both CLI writes at the ordered function');
    expect(of('Ordered').filter((m) => m.pk === 'cli').map((m) => m.eventName)).toEqual(['INSERT', 'MODIFY']);
  }, 180_000); // each AWS CLI call starts a Python process: seconds apiece on a loaded machine

  it('a batch that throws goes, after its retry, to an SNS on-failure topic with functionError Unhandled', async () => {
    const table = stack.outputs.TableName!;
    await stack.clients.dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'x' }, v: { N: '1' } } }));
    await stack.clients.dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'x' }, v: { N: '2' }, explode: { BOOL: true } } }));
    const msg = await until(async () => (await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.outputs.TopicFailureQueueUrl!, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))).Messages?.[0], 30_000, 'the failure record through SNS');
    const f = JSON.parse(msg.Body!);
    expect(f).toMatchObject({
      requestContext: { functionArn: stack.outputs.ModifiedArn, condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      DDBStreamBatchInfo: { batchSize: 1, streamArn: stack.outputs.StreamArn },
    });
    expect(of('Modified').some((m) => m.pk === 'x')).toBe(false);
  });
});
