/** Pure parts of issue 19's SNS and S3 notifications and of the asynchronous Lambda invoker. */
import { describe, expect, it } from 'vitest';
import { createAsyncInvoker } from '../src/services/lambda/async-invoke';
import type { InvokeResult } from '../src/lambda-host/index';
import { eventKey, eventMatches, fromApiShape, fromTemplateShape, matchingTargets, notificationXml, NotificationConfigurationError, parseNotificationXml, s3EventRecord, toApiShape } from '../src/services/s3/notifications';
import { mergeUnmanaged } from '../src/services/s3/bucket-notifications';
import { filterPolicyMatches, parsePublishForm, publishedIds, snsLambdaEvent, type PublishedMessage } from '../src/services/sns/lambda-delivery';
import { checkPublishEntries, snsEnvelope } from '../src/services/sns/publish';
import { snsAuthorizations } from '../src/gateway/iam/actions';
import { evaluate, type Caller } from '../src/gateway/iam/evaluate';
import type { PolicyIndex } from '../src/gateway/iam/policies';

const ok = (): InvokeResult => ({ ok: true, value: null, requestId: 'r', environmentId: 1, durationMs: 1 });
const fail = (): InvokeResult => ({ ok: false, requestId: 'r', environmentId: 1, durationMs: 1, error: { kind: 'handler', errorType: 'Error', errorMessage: 'boom' } });

describe('createAsyncInvoker', () => {
  it('answers before the function runs, retries a failure twice with the given waits, then gives up with a log line', async () => {
    const calls: number[] = [];
    const lines: string[] = [];
    const outcomes: number[] = [];
    const inv = createAsyncInvoker({ functionName: 'f', target: { invoke: async () => (calls.push(Date.now()), fail()) }, retryDelaysMs: [50, 100], log: (l) => lines.push(l), onOutcome: (o) => outcomes.push(o.attempts) });
    const id = inv.enqueue({ a: 1 });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls).toHaveLength(0);
    await inv.idle();
    expect(calls).toHaveLength(3);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(45);
    expect(calls[2]! - calls[1]!).toBeGreaterThanOrEqual(95);
    expect(outcomes).toEqual([3]);
    expect(lines).toEqual([expect.stringContaining(`asynchronous event ${id} failed after 3 attempt(s): Error: boom`)]);
    expect(inv.stats()).toMatchObject({ failed: 1, succeeded: 0, retries: 2, queued: 0, running: 0, waitingRetry: 0 });
  });

  it('stops retrying once an attempt succeeds; maxRetries 0 tries once', async () => {
    let n = 0;
    const inv = createAsyncInvoker({ functionName: 'f', target: { invoke: async () => (++n < 2 ? fail() : ok()) }, retryDelaysMs: [10] });
    inv.enqueue({});
    await inv.idle();
    expect(n).toBe(2);
    expect(inv.stats()).toMatchObject({ succeeded: 1, failed: 0, retries: 1 });
    let m = 0;
    const once = createAsyncInvoker({ functionName: 'g', target: { invoke: async () => (m++, fail()) }, maxRetries: 0 });
    once.enqueue({});
    await once.idle();
    expect(m).toBe(1);
    expect(() => createAsyncInvoker({ functionName: 'h', target: { invoke: async () => ok() }, maxRetries: 3 })).toThrow(RangeError);
  });

  it('runs at most `concurrency` events at once; the rest wait in the queue', async () => {
    let running = 0;
    let max = 0;
    const inv = createAsyncInvoker({
      functionName: 'f',
      concurrency: 2,
      target: {
        invoke: async () => {
          max = Math.max(max, ++running);
          await new Promise((r) => setTimeout(r, 20));
          running--;
          return ok();
        },
      },
    });
    for (let i = 0; i < 7; i++) inv.enqueue(i);
    await inv.idle();
    expect(max).toBe(2);
    expect(inv.stats().succeeded).toBe(7);
  });
});

describe('S3 notification configuration', () => {
  const xml = `<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><QueueConfiguration><Id>q1</Id><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:Delete</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></QueueConfiguration><TopicConfiguration><Topic>arn:aws:sns:us-east-1:000000000000:t</Topic><Event>s3:ObjectCreated:Put</Event></TopicConfiguration><CloudFunctionConfiguration><Id>l</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction><Event>s3:ObjectRemoved:*</Event></CloudFunctionConfiguration></NotificationConfiguration>`;

  it('parses the API XML, and renders it back', () => {
    const c = parseNotificationXml(xml);
    expect(c.targets.map((t) => [t.kind, t.arn, t.events, t.prefix, t.suffix])).toEqual([
      ['queue', 'arn:aws:sqs:us-east-1:000000000000:q', ['s3:ObjectCreated:*', 's3:ObjectRemoved:Delete'], 'in/', '.jpg'],
      ['topic', 'arn:aws:sns:us-east-1:000000000000:t', ['s3:ObjectCreated:Put'], undefined, undefined],
      ['lambda', 'arn:aws:lambda:us-east-1:000000000000:function:f', ['s3:ObjectRemoved:*'], undefined, undefined],
    ]);
    expect(c.targets[1]!.id).toBeTruthy();
    expect(parseNotificationXml(notificationXml(c))).toEqual(c);
    expect(fromApiShape(toApiShape(c))).toEqual(c);
  });

  it('refuses what S3 refuses', () => {
    expect(() => parseNotificationXml('<Nope/>')).toThrow(NotificationConfigurationError);
    expect(() => parseNotificationXml('<NotificationConfiguration><QueueConfiguration><Queue>arn:q</Queue><Event>s3:ObjectMade</Event></QueueConfiguration></NotificationConfiguration>')).toThrow(/not supported/);
    const twoPrefixes = { QueueConfigurations: [{ QueueArn: 'arn:q', Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a' }, { Name: 'Prefix', Value: 'b' }] } } }] };
    expect(() => fromApiShape(twoPrefixes)).toThrow(/more than one prefix/);
  });

  it('reads CloudFormation\'s shape (Event, Queue/Topic/Function, Filter.S3Key.Rules)', () => {
    const c = fromTemplateShape({ QueueConfigurations: [{ Event: 's3:ObjectCreated:*', Queue: 'arn:q', Filter: { S3Key: { Rules: [{ Name: 'suffix', Value: '.txt' }] } } }], LambdaConfigurations: [{ Event: 's3:ObjectRemoved:*', Function: 'arn:f' }] });
    expect(c.targets.map((t) => [t.kind, t.arn, t.events, t.suffix])).toEqual([['queue', 'arn:q', ['s3:ObjectCreated:*'], '.txt'], ['lambda', 'arn:f', ['s3:ObjectRemoved:*'], undefined]]);
  });

  it('matches event names with wildcards and keys with prefix and suffix', () => {
    expect(eventMatches('s3:ObjectCreated:*', 'ObjectCreated:CompleteMultipartUpload')).toBe(true);
    expect(eventMatches('s3:ObjectCreated:Put', 'ObjectCreated:Copy')).toBe(false);
    expect(eventMatches('s3:ObjectRemoved:Delete', 'ObjectRemoved:Delete')).toBe(true);
    const c = parseNotificationXml(xml);
    expect(matchingTargets(c, 'ObjectCreated:Put', 'in/a.jpg').map((t) => t.kind)).toEqual(['queue', 'topic']);
    expect(matchingTargets(c, 'ObjectCreated:Copy', 'in/a.jpg').map((t) => t.kind)).toEqual(['queue']);
    expect(matchingTargets(c, 'ObjectCreated:Put', 'out/a.jpg').map((t) => t.kind)).toEqual(['topic']);
    expect(matchingTargets(c, 'ObjectRemoved:Delete', 'in/a.png').map((t) => t.kind)).toEqual(['lambda']);
  });

  it('URL-encodes keys as S3 event records do: spaces as +, slashes kept', () => {
    expect(eventKey('photos/red flower (1).jpg')).toBe('photos/red+flower+%281%29.jpg');
    expect(eventKey('a+b=c&d:é')).toBe('a%2Bb%3Dc%26d%3A%C3%A9');
    const r = s3EventRecord({ eventName: 'ObjectCreated:Put', bucket: 'b', key: 'x y', size: 3, eTag: 'e', sequencer: '0A', time: new Date(0), principalId: 'AWS:k', sourceIp: '127.0.0.1', requestId: 'R' }, 'cfg', 'us-east-1');
    expect(r).toMatchObject({ eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: '1970-01-01T00:00:00.000Z', s3: { configurationId: 'cfg', object: { key: 'x+y', size: 3, eTag: 'e', sequencer: '0A' } } });
  });

  it('CDK\'s unmanaged merge keeps the bucket\'s own configurations and replaces this stack\'s', () => {
    const existing = fromApiShape({ QueueConfigurations: [{ Id: 'theirs', QueueArn: 'arn:a', Events: ['s3:ObjectCreated:*'] }, { Id: 'stack-1-old', QueueArn: 'arn:b', Events: ['s3:ObjectCreated:*'] }] });
    const incoming = fromApiShape({ TopicConfigurations: [{ TopicArn: 'arn:t', Events: ['s3:ObjectCreated:Put'] }] });
    const merged = mergeUnmanaged(existing, incoming, 'stack-1');
    expect(merged.targets.map((t) => t.id.startsWith('stack-1-') ? `ours:${t.arn}` : t.id)).toEqual(['theirs', 'ours:arn:t']);
  });
});

describe('SNS → Lambda', () => {
  const m = (over: Partial<PublishedMessage> = {}): PublishedMessage => ({ topicArn: 'arn:aws:sns:us-east-1:000000000000:t', messageId: 'm', message: '{"kind":"order","n":5}', messageAttributes: { color: { DataType: 'String', StringValue: 'blue' }, size: { DataType: 'Number', StringValue: '12' }, tags: { DataType: 'String.Array', StringValue: '["a","b"]' } }, timestamp: '2026-01-01T00:00:00.000Z', ...over });

  it('applies filter policies on attributes (strings, numbers, arrays) and on the body', () => {
    expect(filterPolicyMatches({}, m())).toBe(true);
    expect(filterPolicyMatches({ FilterPolicy: '{"color":["blue","red"]}' }, m())).toBe(true);
    expect(filterPolicyMatches({ FilterPolicy: '{"color":["red"]}' }, m())).toBe(false);
    expect(filterPolicyMatches({ FilterPolicy: '{"size":[{"numeric":[">",10]}]}' }, m())).toBe(true);
    expect(filterPolicyMatches({ FilterPolicy: '{"tags":["b"]}' }, m())).toBe(true);
    expect(filterPolicyMatches({ FilterPolicy: '{"missing":[{"exists":false}]}' }, m())).toBe(true);
    expect(filterPolicyMatches({ FilterPolicy: '{"kind":["order"]}', FilterPolicyScope: 'MessageBody' }, m())).toBe(true);
    expect(filterPolicyMatches({ FilterPolicy: '{"kind":["order"]}', FilterPolicyScope: 'MessageBody' }, m({ message: 'not json' }))).toBe(false);
    expect(filterPolicyMatches({ FilterPolicy: '{"n":[{"numeric":["<",5]}]}', FilterPolicyScope: 'MessageBody' }, m())).toBe(false);
  });

  it('reads Publish and PublishBatch requests, and the ids their answers give', () => {
    const one = new URLSearchParams({ Action: 'Publish', TopicArn: 'arn:t', Message: 'hi', Subject: 's', 'MessageAttributes.entry.1.Name': 'c', 'MessageAttributes.entry.1.Value.DataType': 'String', 'MessageAttributes.entry.1.Value.StringValue': 'v' });
    const ids = publishedIds('Publish', '<PublishResponse><PublishResult><MessageId>id-1</MessageId></PublishResult></PublishResponse>');
    expect(parsePublishForm(one, ids, new Date(0))).toEqual([{ topicArn: 'arn:t', messageId: 'id-1', message: 'hi', subject: 's', messageAttributes: { c: { DataType: 'String', StringValue: 'v' } }, timestamp: '1970-01-01T00:00:00.000Z' }]);
    const batch = new URLSearchParams({ Action: 'PublishBatch', TopicArn: 'arn:t', 'PublishBatchRequestEntries.member.1.Id': 'a', 'PublishBatchRequestEntries.member.1.Message': 'A', 'PublishBatchRequestEntries.member.2.Id': 'b', 'PublishBatchRequestEntries.member.2.Message': 'B' });
    const bids = publishedIds('PublishBatch', '<Successful><member><Id>b</Id><MessageId>id-b</MessageId></member></Successful><Failed><member><Id>a</Id></member></Failed>');
    expect(parsePublishForm(batch, bids).map((x) => [x.message, x.messageId])).toEqual([['B', 'id-b']]);
  });

  it('builds the SNS event Lambda receives', () => {
    const e = snsLambdaEvent('arn:aws:sns:us-east-1:000000000000:t:sub', m());
    expect(e.Records[0]).toMatchObject({ EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: 'arn:aws:sns:us-east-1:000000000000:t:sub', Sns: { Type: 'Notification', Subject: null, MessageAttributes: { size: { Type: 'Number', Value: '12' } }, UnsubscribeUrl: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:000000000000:t:sub' } });
  });

  it('maps SNS requests to IAM actions on the topic (PublishBatch is sns:Publish)', () => {
    const req = (form: Record<string, string>) => ({ service: 'sns' as const, method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from(new URLSearchParams(form).toString()) });
    const ctx = { region: 'us-east-1', accountId: '000000000000' };
    expect(snsAuthorizations(req({ Action: 'PublishBatch', TopicArn: 'arn:t' }), ctx)).toEqual([{ action: 'sns:Publish', resource: 'arn:t' }]);
    expect(snsAuthorizations(req({ Action: 'ListTopics' }), ctx)).toEqual([{ action: 'sns:ListTopics', resource: '*' }]);
    expect(snsAuthorizations(req({ Action: 'CreateTopic', Name: 'n' }), ctx)).toEqual([{ action: 'sns:CreateTopic', resource: 'arn:aws:sns:us-east-1:000000000000:n' }]);
  });

  it('a function role may publish where its policy allows, and is denied elsewhere with AWS\'s message', async () => {
    const topic = 'arn:aws:sns:us-east-1:000000000000:orders';
    const index: PolicyIndex = { rolePolicies: new Map([['R', [{ name: 'p', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sns:Publish', Resource: topic }] } }]]]), functionRoles: new Map(), resourcePolicies: new Map(), warnings: [] };
    const caller: Caller = { kind: 'role', accessKeyId: 'ASIA1', functionName: 'f', roleLogicalId: 'R', roleName: 'r', roleArn: 'arn:aws:iam::000000000000:role/r', arn: 'arn:aws:sts::000000000000:assumed-role/r/f' };
    const opts = { index, accountId: '000000000000', service: 'sns' };
    expect(await evaluate(caller, { action: 'sns:Publish', resource: topic }, opts)).toEqual({ allowed: true });
    const denied = await evaluate(caller, { action: 'sns:Publish', resource: `${topic}-other` }, opts);
    expect(denied).toMatchObject({ allowed: false, reason: 'implicit' });
    expect(denied.allowed === false && denied.message).toContain('is not authorized to perform: sns:Publish on resource: arn:aws:sns:us-east-1:000000000000:orders-other');
  });
});

describe('SNS data plane (publish.ts)', () => {
  const std = { fifo: false, contentBasedDeduplication: false };
  it('checks each entry as SNS does: a message, its size with attributes, FIFO group and deduplication', () => {
    const one = (q: Record<string, string>, topic = std) => checkPublishEntries(new URLSearchParams({ Action: 'Publish', ...q }), topic);
    expect(one({ Message: 'hi' })).toEqual([{ id: '' }]);
    expect(one({})[0]!.refused).toEqual({ code: 'InvalidParameter', message: 'Invalid parameter: Message is required' });
    expect(one({ Message: 'x'.repeat(262_140), 'MessageAttributes.entry.1.Name': 'abc', 'MessageAttributes.entry.1.Value.DataType': 'String', 'MessageAttributes.entry.1.Value.StringValue': 'v' })[0]!.refused?.message).toMatch(/Message too long/);
    expect(one({ Message: 'x'.repeat(262_144) })).toEqual([{ id: '' }]);
    const fifo = { fifo: true, contentBasedDeduplication: false };
    expect(one({ Message: 'm' }, fifo)[0]!.refused?.message).toMatch(/MessageGroupId parameter is required/);
    expect(one({ Message: 'm', MessageGroupId: 'g' }, fifo)[0]!.refused?.message).toMatch(/ContentBasedDeduplication/);
    expect(one({ Message: 'm', MessageGroupId: 'g', MessageDeduplicationId: 'd' }, fifo)).toEqual([{ id: '' }]);
    expect(one({ Message: 'm', MessageGroupId: 'g' }, { fifo: true, contentBasedDeduplication: true })).toEqual([{ id: '', dedup: '62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a' }]);
    const batch = checkPublishEntries(new URLSearchParams({ Action: 'PublishBatch', 'PublishBatchRequestEntries.member.1.Id': 'a', 'PublishBatchRequestEntries.member.1.Message': 'A', 'PublishBatchRequestEntries.member.2.Id': 'b' }), std);
    expect(batch.map((e) => [e.id, e.refused?.code])).toEqual([['a', undefined], ['b', 'InvalidParameter']]);
  });

  it('the envelope an sqs subscription receives: Subject and MessageAttributes only when given', () => {
    const m: PublishedMessage = { topicArn: 'arn:aws:sns:eu-west-1:000000000000:t', messageId: 'id-1', message: 'hi', messageAttributes: { c: { DataType: 'String', StringValue: 'red' } }, timestamp: '1970-01-01T00:00:00.000Z' };
    expect(JSON.parse(snsEnvelope('arn:aws:sns:eu-west-1:000000000000:t:s1', m))).toEqual({
      Type: 'Notification',
      MessageId: 'id-1',
      TopicArn: 'arn:aws:sns:eu-west-1:000000000000:t',
      Message: 'hi',
      Timestamp: '1970-01-01T00:00:00.000Z',
      SignatureVersion: '1',
      Signature: 'EXAMPLE',
      SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
      UnsubscribeURL: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-1:000000000000:t:s1',
      MessageAttributes: { c: { Type: 'String', Value: 'red' } },
    });
    expect(JSON.parse(snsEnvelope('s', { ...m, subject: 'S', messageAttributes: {} }))).toMatchObject({ Subject: 'S' });
    expect(JSON.parse(snsEnvelope('s', { ...m, messageAttributes: {} })).MessageAttributes).toBeUndefined();
  });
});
