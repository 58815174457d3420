/**
 * Issue 19, SNS and S3 event notifications on the embedded stack, with our own CDK app
 * (fixtures/events-app.ts): SNS → SQS raw and enveloped with attribute and body filter policies, a FIFO
 * topic → FIFO queue keeping group order, SNS → Lambda (filter policy, PublishBatch), S3 → SQS, SNS and
 * Lambda with prefix/suffix filters for put, copy, multipart and delete, the S3 notification API, and
 * Lambda's asynchronous invocation (Invoke Event, retries). Lambda deliveries are observed through the
 * function's own log lines.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { ListSubscriptionsByTopicCommand, ListTopicsCommand, PublishBatchCommand, PublishCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';
import { EVENTS_STACK, synthEventsApp } from './fixtures/events-app';

let stack: LocalStack;
const recorded: Array<Record<string, any>> = [];
const logs: string[] = [];

beforeAll(async () => {
  const dir = synthEventsApp(mkdtempSync(join(tmpdir(), 'fg-events-')));
  stack = await startLocalStack({
    assembly: dir,
    stack: EVENTS_STACK,
    emulators: localEndpoints(),
    waitTimeSeconds: 1,
    asyncRetryDelaysMs: [200, 400],
    log: (l) => logs.push(l),
    onLog: (e) => {
      if (e.json && 'recorded' in e.json) recorded.push(e.json.recorded as Record<string, any>);
    },
  });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

async function until<T>(get: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not seen in ${ms} ms`);
}

/** Everything the queue holds now (waits up to `ms` for at least `min` messages). */
async function drain(queueUrl: string, min: number, ms = 5000): Promise<Message[]> {
  const got: Message[] = [];
  const end = Date.now() + ms;
  do {
    const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], AttributeNames: ['All'] }));
    got.push(...(r.Messages ?? []));
    if (got.length >= min && (r.Messages ?? []).length === 0) break;
    if ((r.Messages ?? []).length === 0) await new Promise((res) => setTimeout(res, 100));
  } while (Date.now() < end);
  return got;
}

const out = (k: string): string => stack.outputs[k]!;
const run = promisify(execFile);

/** The AWS CLI v1 against the stack's endpoint (a client independent of our SDK clients). */
async function aws(...args: string[]): Promise<any> {
  const { stdout } = await run('aws', ['--endpoint-url', stack.endpoint, '--output', 'json', ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1', AWS_PAGER: '' },
    timeout: 60_000,
  });
  return stdout.trim() ? JSON.parse(stdout) : '';
}
const snsRecords = (message: string) => recorded.filter((e) => e.Records?.[0]?.EventSource === 'aws:sns' && e.Records[0].Sns.Message === message);

describe('SNS', () => {
  it('deploys topics and subscriptions (nothing SNS is "not emulated") and answers ListTopics / ListSubscriptionsByTopic', async () => {
    expect(stack.deployment.notEmulated.filter((t) => t.startsWith('AWS::SNS') || t === 'Custom::S3BucketNotifications')).toEqual([]);
    const topics = (await stack.clients.sns.send(new ListTopicsCommand({}))).Topics!.map((t) => t.TopicArn);
    expect(topics).toContain(out('TopicArn'));
    const subs = (await stack.clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: out('TopicArn') }))).Subscriptions!;
    expect(subs.map((s) => s.Protocol).sort()).toEqual(['lambda', 'sqs', 'sqs']);
  });

  it('SNS → SQS: raw delivery with an attribute filter policy, and the envelope with a body filter policy', async () => {
    const TopicArn = out('TopicArn');
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: 'red one', MessageAttributes: { color: { DataType: 'String', StringValue: 'red' } } }));
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: 'green one', MessageAttributes: { color: { DataType: 'String', StringValue: 'green' } } }));
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Subject: 'new order', Message: JSON.stringify({ kind: 'order', n: 1 }), MessageAttributes: { source: { DataType: 'String', StringValue: 'shop' } } }));
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: JSON.stringify({ kind: 'refund', n: 2 }) }));

    const raw = await drain(out('RawQueueUrl'), 1);
    expect(raw.map((m) => m.Body)).toEqual(['red one']);
    expect(raw[0]!.MessageAttributes?.color?.StringValue).toBe('red');

    const env = await drain(out('EnvelopedQueueUrl'), 1);
    expect(env).toHaveLength(1);
    const e = JSON.parse(env[0]!.Body!) as Record<string, any>;
    expect(Object.keys(e).sort()).toEqual(['Message', 'MessageAttributes', 'MessageId', 'Signature', 'SignatureVersion', 'SigningCertURL', 'Subject', 'Timestamp', 'TopicArn', 'Type', 'UnsubscribeURL'].sort());
    expect(e).toMatchObject({ Type: 'Notification', TopicArn, Subject: 'new order', Message: JSON.stringify({ kind: 'order', n: 1 }), SignatureVersion: '1', MessageAttributes: { source: { Type: 'String', Value: 'shop' } } });
    expect(e.Timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(e.UnsubscribeURL).toContain('Action=Unsubscribe&SubscriptionArn=arn:aws:sns:');
  });

  it('a FIFO topic → FIFO queue keeps each group in order', async () => {
    const TopicArn = out('FifoTopicArn');
    for (let i = 0; i < 6; i++) {
      for (const g of ['a', 'b']) await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: `${g}${i}`, MessageGroupId: g }));
    }
    const got: string[] = [];
    await until(async () => {
      const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: out('FifoQueueUrl'), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      for (const m of r.Messages ?? []) {
        got.push(m.Body!);
        await stack.clients.sqs.send(new (await import('@aws-sdk/client-sqs')).DeleteMessageCommand({ QueueUrl: out('FifoQueueUrl'), ReceiptHandle: m.ReceiptHandle! }));
      }
      return got.length >= 12;
    }, 10_000, 'all 12 FIFO messages');
    expect(got.filter((b) => b.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
    expect(got.filter((b) => b.startsWith('b'))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5']);
  });

  it('SNS → Lambda: the SNS event shape, asynchronously, honouring the filter policy; PublishBatch too', async () => {
    const TopicArn = out('TopicArn');
    const { MessageId } = await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: 'blue one', Subject: 'hue', MessageAttributes: { color: { DataType: 'String', StringValue: 'blue' }, size: { DataType: 'Number', StringValue: '3' } } }));
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: 'red for lambda', MessageAttributes: { color: { DataType: 'String', StringValue: 'red' } } }));
    const [event] = await until(() => (snsRecords('blue one').length ? snsRecords('blue one') : undefined), 10_000, 'the SNS event');
    const r = event!.Records[0];
    expect(r).toMatchObject({ EventSource: 'aws:sns', EventVersion: '1.0' });
    expect(r.EventSubscriptionArn).toMatch(new RegExp(`^${TopicArn}:[0-9a-f-]{36}$`));
    expect(r.Sns).toMatchObject({ Type: 'Notification', MessageId, TopicArn, Subject: 'hue', Message: 'blue one', SignatureVersion: '1', MessageAttributes: { color: { Type: 'String', Value: 'blue' }, size: { Type: 'Number', Value: '3' } } });
    expect(Object.keys(r.Sns).sort()).toEqual(['Message', 'MessageAttributes', 'MessageId', 'Signature', 'SignatureVersion', 'SigningCertUrl', 'Subject', 'Timestamp', 'TopicArn', 'Type', 'UnsubscribeUrl']);

    await stack.clients.sns.send(
      new PublishBatchCommand({
        TopicArn,
        PublishBatchRequestEntries: [
          { Id: 'one', Message: 'batch blue 1', MessageAttributes: { color: { DataType: 'String', StringValue: 'blue' } } },
          { Id: 'two', Message: 'batch red', MessageAttributes: { color: { DataType: 'String', StringValue: 'red' } } },
          { Id: 'three', Message: 'batch blue 2', MessageAttributes: { color: { DataType: 'String', StringValue: 'blue' } } },
        ],
      }),
    );
    await until(() => snsRecords('batch blue 1').length && snsRecords('batch blue 2').length, 10_000, 'both batch blues');
    await new Promise((r) => setTimeout(r, 500));
    expect(snsRecords('red for lambda')).toHaveLength(0);
    expect(snsRecords('batch red')).toHaveLength(0);
    expect(await drain(out('RawQueueUrl'), 2)).toHaveLength(2); // the reds went to the raw queue instead
  });

  it('a failing SNS → Lambda delivery is retried twice by the asynchronous invoker', async () => {
    const message = JSON.stringify({ fail: true, id: 'sns-retry' });
    await stack.clients.sns.send(new PublishCommand({ TopicArn: out('TopicArn'), Message: message, MessageAttributes: { color: { DataType: 'String', StringValue: 'blue' } } }));
    await until(() => snsRecords(message).length >= 3, 10_000, 'three attempts');
    await until(() => logs.some((l) => l.includes('failed after 3 attempt(s)')), 5000, 'the final failure line');
    await new Promise((r) => setTimeout(r, 800));
    expect(snsRecords(message)).toHaveLength(3);
    expect(new Set(snsRecords(message).map((e) => e.Records[0].Sns.MessageId)).size).toBe(1);
  });

  it('RedrivePolicy: a message for a deleted queue or for a function not in the stack goes to the subscription\'s DLQ', async () => {
    const TopicArn = out('TopicArn');
    const redrive = JSON.stringify({ deadLetterTargetArn: out('SnsDlqArn') });
    const { QueueUrl } = await stack.clients.sqs.send(new CreateQueueCommand({ QueueName: `gone-${Date.now()}` }));
    const gone = (await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await stack.clients.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: gone, Attributes: { RedrivePolicy: redrive, FilterPolicy: '{"color":["purple"]}' } }));
    await stack.clients.sqs.send(new DeleteQueueCommand({ QueueUrl }));
    await stack.clients.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'lambda', Endpoint: 'arn:aws:lambda:us-east-1:000000000000:function:not-in-this-stack', Attributes: { RedrivePolicy: redrive, FilterPolicy: '{"color":["orange"]}' } }));
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: 'for the deleted queue', MessageAttributes: { color: { DataType: 'String', StringValue: 'purple' } } }));
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: 'for the missing function', MessageAttributes: { color: { DataType: 'String', StringValue: 'orange' } } }));
    await stack.clients.sns.send(new PublishCommand({ TopicArn, Message: 'for nobody', MessageAttributes: { color: { DataType: 'String', StringValue: 'black' } } }));
    const dead = await drain(out('SnsDlqUrl'), 2);
    expect(dead.map((m) => (JSON.parse(m.Body!) as { Message: string }).Message).sort()).toEqual(['for the deleted queue', 'for the missing function']);
    expect(dead.every((m) => m.MessageAttributes?.ErrorCode?.StringValue === 'EndpointUnavailable')).toBe(true);
  });

  it('refuses a protocol the local stack cannot deliver, and lambda on a FIFO topic as SNS does', async () => {
    await expect(stack.clients.sns.send(new SubscribeCommand({ TopicArn: out('TopicArn'), Protocol: 'email', Endpoint: 'a@example.com' }))).rejects.toThrow(/not delivered by the local stack/);
    await expect(stack.clients.sns.send(new SubscribeCommand({ TopicArn: out('FifoTopicArn'), Protocol: 'lambda', Endpoint: 'arn:aws:lambda:us-east-1:000000000000:function:x' }))).rejects.toThrow(/FIFO topics deliver to Amazon SQS queues only/);
  });
});

describe('Lambda Invoke with InvocationType Event', () => {
  it('answers 202 at once (AWS CLI) and runs the event through the function\'s event queue', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fg-ev-')), 'out.json');
    const r = await aws('lambda', 'invoke', '--function-name', out('RecorderName'), '--invocation-type', 'Event', '--payload', JSON.stringify({ hello: 'async' }), file);
    expect(r.StatusCode).toBe(202);
    await until(() => recorded.some((e) => e.hello === 'async'), 10_000, 'the async payload');
  });
});

describe('the SNS API through the AWS CLI', () => {
  it('sns list-topics and sns publish answer', async () => {
    const topics = await aws('sns', 'list-topics');
    expect(topics.Topics.map((t: { TopicArn: string }) => t.TopicArn)).toContain(out('TopicArn'));
    const p = await aws('sns', 'publish', '--topic-arn', out('TopicArn'), '--message', 'from the cli', '--message-attributes', '{"color":{"DataType":"String","StringValue":"blue"}}');
    expect(p.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    await until(() => snsRecords('from the cli').length, 10_000, 'the CLI message in the function');
  });
});

/** The S3 records of the messages in a queue (raw bodies `{ Records }`). */
const s3Records = (msgs: Message[]) => msgs.flatMap((m) => (JSON.parse(m.Body!) as { Records?: any[] }).Records ?? []);

describe('S3 event notifications', () => {
  it('a queue destination got s3:TestEvent when it was configured', async () => {
    const msgs = await drain(out('S3QueueUrl'), 1);
    const test = msgs.map((m) => JSON.parse(m.Body!) as Record<string, string>).filter((b) => b.Event === 's3:TestEvent');
    expect(test).toHaveLength(1);
    expect(test[0]).toMatchObject({ Service: 'Amazon S3', Bucket: out('BucketName') });
  });

  it('S3 → SQS with a prefix: put, copy, multipart and delete, in AWS\'s record shape; other keys send nothing', async () => {
    const Bucket = out('BucketName');
    const s3 = stack.clients.s3;
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'q/red flower.txt', Body: 'hello' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'elsewhere/x.txt', Body: 'nothing' }));
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'q/copy.txt', CopySource: `${Bucket}/q/red flower.txt` }));
    const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'q/big.bin' }));
    const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'q/big.bin', UploadId: mp.UploadId!, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'q/big.bin', UploadId: mp.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'q/copy.txt' }));

    const records = s3Records(await drain(out('S3QueueUrl'), 4));
    expect(records.map((r) => `${r.eventName} ${r.s3.object.key}`)).toEqual(['ObjectCreated:Put q/red+flower.txt', 'ObjectCreated:Copy q/copy.txt', 'ObjectCreated:CompleteMultipartUpload q/big.bin', 'ObjectRemoved:Delete q/copy.txt']);
    const first = records[0];
    expect(first).toMatchObject({ eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: stack.region, eventName: 'ObjectCreated:Put' });
    expect(first.s3).toMatchObject({ s3SchemaVersion: '1.0', bucket: { name: Bucket, arn: `arn:aws:s3:::${Bucket}` }, object: { key: 'q/red+flower.txt', size: 5, eTag: put.ETag!.replace(/"/g, '') } });
    expect(typeof first.s3.configurationId).toBe('string');
    expect(first.s3.bucket.ownerIdentity.principalId).toBeTruthy();
    expect(first.userIdentity.principalId).toBeTruthy();
    expect(first.requestParameters.sourceIPAddress).toBeTruthy();
    expect(first.responseElements['x-amz-request-id']).toBeTruthy();
    expect(first.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(records[2].s3.object.size).toBe(1024);
    expect(records[3].s3.object.size).toBeUndefined();
    const seq = records.map((r) => BigInt(`0x${r.s3.object.sequencer}`));
    expect([...seq].sort((a, b) => (a < b ? -1 : 1))).toEqual(seq);
  });

  it('a PutObject above the multipart threshold (the streamed path) and DeleteObjects send their events too', async () => {
    const Bucket = out('BucketName');
    const big = Buffer.alloc(10 * 1024 * 1024 + 4096, 7);
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'q/large.bin', Body: big }));
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'q/d1', Body: '1' }));
    const puts = s3Records(await drain(out('S3QueueUrl'), 2));
    expect(puts.map((r) => [r.eventName, r.s3.object.key, r.s3.object.size])).toEqual([['ObjectCreated:Put', 'q/large.bin', big.length], ['ObjectCreated:Put', 'q/d1', 1]]);
    await stack.clients.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'q/d1' }, { Key: 'q/large.bin' }, { Key: 'not-q/none' }] } }));
    const records = s3Records(await drain(out('S3QueueUrl'), 2));
    expect(records.map((r) => `${r.eventName} ${r.s3.object.key}`).sort()).toEqual(['ObjectRemoved:Delete q/d1', 'ObjectRemoved:Delete q/large.bin']);
  });

  it('S3 → SNS → SQS with a suffix filter (Custom::S3BucketNotifications): .csv goes, .txt does not', async () => {
    const Bucket = out('BucketName');
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'upload/data.csv', Body: 'a,b\n1,2\n' }));
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'upload/notes.txt', Body: 'no' }));
    const msgs = await drain(out('CsvQueueUrl'), 1);
    const records = s3Records(msgs);
    expect(records.map((r) => r.s3.object.key)).toEqual(['upload/data.csv']);
    expect(records[0]).toMatchObject({ eventName: 'ObjectCreated:Put', s3: { object: { size: 8 } } });
  });

  it('S3 → Lambda with a prefix filter, asynchronously', async () => {
    const Bucket = out('BucketName');
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'l/for the function.json', Body: '{}' }));
    const event = await until(() => recorded.find((e) => e.Records?.[0]?.eventSource === 'aws:s3' && e.Records[0].s3.object.key === 'l/for+the+function.json'), 10_000, 'the S3 event in the function');
    expect(event.Records[0]).toMatchObject({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: Bucket }, object: { size: 2 } } });
  });

  it('NotificationConfiguration on an AWS::S3::Bucket in the template (suffix .txt)', async () => {
    const Bucket = out('L1BucketName');
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'a.txt', Body: 'x' }));
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'a.csv', Body: 'x' }));
    const bodies = (await drain(out('L1QueueUrl'), 2)).map((m) => JSON.parse(m.Body!) as Record<string, any>);
    expect(bodies.filter((b) => b.Event === 's3:TestEvent')).toHaveLength(1);
    expect(s3Records(bodies.filter((b) => b.Records).map((b) => ({ Body: JSON.stringify(b) }))).map((r) => r.s3.object.key)).toEqual(['a.txt']);
  });

  it('Get/PutBucketNotificationConfiguration on the endpoint; a missing destination is refused as S3 does', async () => {
    const Bucket = out('BucketName');
    const got = await stack.clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
    expect(got.QueueConfigurations).toHaveLength(2);
    expect(got.TopicConfigurations?.[0]).toMatchObject({ Events: ['s3:ObjectCreated:Put'], Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.csv' }] } } });
    expect(got.LambdaFunctionConfigurations).toHaveLength(1);
    await expect(
      stack.clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration: { QueueConfigurations: [{ QueueArn: 'arn:aws:sqs:us-east-1:000000000000:no-such-queue', Events: ['s3:ObjectCreated:*'] }] } })),
    ).rejects.toThrow(/Unable to validate the following destination configurations/);
    // The refused configuration changed nothing.
    expect((await stack.clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }))).QueueConfigurations).toHaveLength(2);
  });
});
