/**
 * IAM on the local endpoint, pure parts: requests -> action + resource per service (captured from the
 * SDK clients as they go on the wire), the policies read from the synthesized reference template, and
 * decisions by @cloud-copilot/iam-simulate with AWS's AccessDenied message form.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BatchWriteItemCommand, DynamoDBClient, ListTablesCommand, PutItemCommand, QueryCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../../src/core/deployment/assembly.js';
import { resolveValue, type PhysicalResource } from '../../src/core/deployment/intrinsics.js';
import { authorizationsFor, evaluate, evaluateAll, readPolicies, UnmappedRequestError, type Authorization, type Caller, type PolicyIndex, type RequestForIam, type ServiceName } from '../../src/gateway/iam/index.js';
import { synthesize } from '../../src/synth.js';

const ctx = { region: 'us-east-1', accountId: '000000000000' };
const ENDPOINT = 'http://127.0.0.1:4599';
const creds = { accessKeyId: 'test', secretAccessKey: 'test' };

async function wire(service: ServiceName, client: { send: (c: never) => Promise<unknown> }, command: unknown): Promise<RequestForIam> {
  let got: { method: string; path: string; query?: Record<string, unknown>; headers: Record<string, string>; body?: unknown } | undefined;
  (client as unknown as { config: { requestHandler: unknown } }).config.requestHandler = { handle: async (r: typeof got) => { got = r; throw new Error('captured'); } };
  await client.send(command as never).catch(() => undefined);
  if (!got) throw new Error('nothing captured');
  const headers = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const query = Object.entries(got.query ?? {}).map(([k, v]) => (v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)).join('&');
  const body = got.body === undefined ? new Uint8Array() : typeof got.body === 'string' ? Buffer.from(got.body) : Buffer.from(got.body as Uint8Array);
  return { service, method: got.method, path: got.path, query, headers, body };
}
const ddb = () => new DynamoDBClient({ region: ctx.region, endpoint: ENDPOINT, credentials: creds, maxAttempts: 1 });
const sqs = () => new SQSClient({ region: ctx.region, endpoint: ENDPOINT, credentials: creds, maxAttempts: 1 });
const s3 = () => new S3Client({ region: ctx.region, endpoint: ENDPOINT, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
const map = async (service: ServiceName, client: { send: (c: never) => Promise<unknown> }, command: unknown) => authorizationsFor(await wire(service, client, command), ctx);

describe('request -> IAM action + resource', () => {
  it('DynamoDB: the operation on the table (index for Query), every table of a batch or transaction', async () => {
    expect(await map('dynamodb', ddb(), new PutItemCommand({ TableName: 'Jobs', Item: { id: { S: 'x' } } }))).toEqual([{ action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs' }]);
    expect(await map('dynamodb', ddb(), new QueryCommand({ TableName: 'Jobs', IndexName: 'byStatus', KeyConditionExpression: 's = :s', ExpressionAttributeValues: { ':s': { S: 'x' } } }))).toEqual([
      { action: 'dynamodb:Query', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs/index/byStatus' },
    ]);
    expect(await map('dynamodb', ddb(), new BatchWriteItemCommand({ RequestItems: { A: [{ DeleteRequest: { Key: { id: { S: '1' } } } }], B: [{ PutRequest: { Item: { id: { S: '1' } } } }] } }))).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/A' },
      { action: 'dynamodb:BatchWriteItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/B' },
    ]);
    expect(
      await map('dynamodb', ddb(), new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'A', Item: { id: { S: '1' } } } }, { Update: { TableName: 'B', Key: { id: { S: '1' } }, UpdateExpression: 'SET x = :x', ExpressionAttributeValues: { ':x': { N: '1' } } } }, { ConditionCheck: { TableName: 'C', Key: { id: { S: '1' } }, ConditionExpression: 'attribute_exists(id)' } }] })),
    ).toEqual([
      { action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/A' },
      { action: 'dynamodb:UpdateItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/B' },
      { action: 'dynamodb:ConditionCheckItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/C' },
    ]);
    expect(await map('dynamodb', ddb(), new ListTablesCommand({}))).toEqual([{ action: 'dynamodb:ListTables', resource: '*' }]);
  });

  it('SQS (JSON protocol): the queue ARN from QueueUrl; batches need the single-message action', async () => {
    const QueueUrl = `${ENDPOINT}/000000000000/fg1-jobs`;
    expect(await map('sqs', sqs(), new SendMessageCommand({ QueueUrl, MessageBody: 'x' }))).toEqual([{ action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:fg1-jobs' }]);
    expect(await map('sqs', sqs(), new ReceiveMessageCommand({ QueueUrl }))).toEqual([{ action: 'sqs:ReceiveMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:fg1-jobs' }]);
    expect(await map('sqs', sqs(), new DeleteMessageBatchCommand({ QueueUrl, Entries: [{ Id: '1', ReceiptHandle: 'r' }] }))).toEqual([{ action: 'sqs:DeleteMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:fg1-jobs' }]);
  });

  it('SQS (query protocol, as the AWS CLI v1 sends it)', () => {
    const body = Buffer.from('Action=SendMessage&QueueUrl=http%3A%2F%2F127.0.0.1%3A4599%2F000000000000%2Fq1&MessageBody=hi&Version=2012-11-05');
    expect(authorizationsFor({ service: 'sqs', method: 'POST', path: '/', query: '', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body }, ctx)).toEqual([{ action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:q1' }]);
  });

  it('S3: object actions on bucket/key (decoded), ListBucket with s3:prefix, copy reads its source, DeleteObjects each key', async () => {
    expect(await map('s3', s3(), new GetObjectCommand({ Bucket: 'up', Key: 'uploads/a b/ü.jpg' }))).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::up/uploads/a b/ü.jpg' }]);
    expect(await map('s3', s3(), new HeadObjectCommand({ Bucket: 'up', Key: 'k' }))).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::up/k' }]);
    expect(await map('s3', s3(), new PutObjectCommand({ Bucket: 'r', Key: 'renditions/j/large.jpg', Body: 'x' }))).toEqual([{ action: 's3:PutObject', resource: 'arn:aws:s3:::r/renditions/j/large.jpg' }]);
    expect(await map('s3', s3(), new ListObjectsV2Command({ Bucket: 'up', Prefix: 'uploads/' }))).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::up', context: { 's3:prefix': 'uploads/' } }]);
    expect(await map('s3', s3(), new CopyObjectCommand({ Bucket: 'r', Key: 'renditions/x', CopySource: 'up/uploads/x' }))).toEqual([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::r/renditions/x' },
      { action: 's3:GetObject', resource: 'arn:aws:s3:::up/uploads/x' },
    ]);
    expect(await map('s3', s3(), new DeleteObjectsCommand({ Bucket: 'r', Delete: { Objects: [{ Key: 'a&b' }, { Key: 'c' }] } }))).toEqual([
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::r/a&b' },
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::r/c' },
    ]);
  });

  it('Lambda Invoke; what cannot be mapped is an error (refused, never let through)', () => {
    expect(authorizationsFor({ service: 'lambda', method: 'POST', path: '/2015-03-31/functions/fg-Worker/invocations', query: '', headers: {}, body: new Uint8Array() }, ctx)).toEqual([{ action: 'lambda:InvokeFunction', resource: 'arn:aws:lambda:us-east-1:000000000000:function:fg-Worker' }]);
    expect(() => authorizationsFor({ service: 'dynamodb', method: 'POST', path: '/', query: '', headers: {}, body: new Uint8Array() }, ctx)).toThrow(UnmappedRequestError);
  });
});

/** Physical resources as the deployer names them (prefix `fg1`), without deploying. */
function physicalFor(template: CfnTemplate): Map<string, PhysicalResource> {
  const m = new Map<string, PhysicalResource>();
  for (const [id, r] of Object.entries(template.Resources)) {
    const name = `fg1-${id}`;
    const svc = (r.Type.split('::')[1] ?? 'x').toLowerCase();
    const Arn =
      r.Type === 'AWS::S3::Bucket' ? `arn:aws:s3:::${name.toLowerCase()}`
      : r.Type === 'AWS::DynamoDB::Table' || r.Type === 'AWS::DynamoDB::GlobalTable' ? `arn:aws:dynamodb:us-east-1:000000000000:table/${name}`
      : r.Type === 'AWS::SQS::Queue' ? `arn:aws:sqs:us-east-1:000000000000:${name}`
      : r.Type === 'AWS::Logs::LogGroup' ? `arn:aws:logs:us-east-1:000000000000:log-group:${name}:*`
      : r.Type === 'AWS::Lambda::Function' ? `arn:aws:lambda:us-east-1:000000000000:function:${name}`
      : `arn:aws:${svc}:us-east-1:000000000000:${name}`;
    m.set(id, { type: r.Type, ref: r.Type === 'AWS::S3::Bucket' ? name.toLowerCase() : name, attributes: { Arn } });
  }
  return m;
}

export function policyIndexOf(template: CfnTemplate): { index: PolicyIndex; physical: Map<string, PhysicalResource> } {
  const physical = physicalFor(template);
  const rctx = { stackName: 'S', region: 'us-east-1', accountId: '000000000000', resources: physical };
  return { index: readPolicies(template, (v) => resolveValue(v, rctx), (id) => physical.get(id)), physical };
}

describe('decisions against the reference template (image worker and job API roles)', () => {
  let template: CfnTemplate;
  let index: PolicyIndex;
  let physical: Map<string, PhysicalResource>;
  const idOf = (prefix: string) => Object.keys(template.Resources).find((k) => k.startsWith(prefix))!;
  const worker = (): Caller => {
    const roleLogicalId = index.functionRoles.get(idOf('ImageWorkerFunction'))!;
    return { kind: 'role', accessKeyId: 'ASIA1', functionName: 'fg1-ImageWorker', roleLogicalId, roleName: `fg1-${roleLogicalId}`, roleArn: `arn:aws:iam::000000000000:role/fg1-${roleLogicalId}`, arn: `arn:aws:sts::000000000000:assumed-role/fg1-${roleLogicalId}/fg1-ImageWorker` };
  };
  const arn = (prefix: string) => physical.get(idOf(prefix))!.attributes.Arn!;
  const opts = (service: string) => ({ index, accountId: '000000000000', service });

  beforeAll(async () => {
    const { assemblyDir } = await synthesize({ log: () => undefined });
    const file = readdirSync(assemblyDir).find((f) => f.endsWith('.template.json'))!;
    template = JSON.parse(readFileSync(join(assemblyDir, file), 'utf8')) as CfnTemplate;
    ({ index, physical } = policyIndexOf(template));
  }, 180_000);

  it('reads the worker role\'s identity policy and the bucket/queue policies; nothing unusable', () => {
    expect(index.warnings).toEqual([]);
    expect(index.rolePolicies.get(worker().kind === 'role' ? (worker() as { roleLogicalId: string }).roleLogicalId : '')!.length).toBe(1);
    expect(index.resourcePolicies.has(arn('UploadsBucket5'))).toBe(true);
    expect(index.resourcePolicies.has(arn('ImageWorkerQueue1'))).toBe(true);
  });

  it('allows what the worker is granted (aws:SecureTransport true: enforceSSL denies nothing locally)', async () => {
    const allowed: Authorization[] = [
      { action: 'dynamodb:UpdateItem', resource: arn('JobsTable') },
      { action: 's3:GetObject', resource: `${arn('UploadsBucket5')}/uploads/x.jpg` },
      { action: 's3:PutObject', resource: `${arn('RenditionsBucketF')}/renditions/j/large.jpg` },
      { action: 's3:ListBucket', resource: arn('UploadsBucket5'), context: { 's3:prefix': 'uploads/x' } },
      { action: 'sqs:SendMessage', resource: arn('ImageWorkerDeadLetterQueueB') },
    ];
    for (const a of allowed) expect(await evaluate(worker(), a, opts(a.action.split(':')[0]!)), a.action).toEqual({ allowed: true });
  });

  it('denies the rest with AWS\'s message: who, action, resource, why', async () => {
    const table = arn('JobsTable');
    expect(await evaluate(worker(), { action: 'dynamodb:DeleteTable', resource: table }, opts('dynamodb'))).toEqual({
      allowed: false,
      authorization: { action: 'dynamodb:DeleteTable', resource: table },
      reason: 'implicit',
      message: `User: ${(worker() as { arn: string }).arn} is not authorized to perform: dynamodb:DeleteTable on resource: ${table} because no identity-based policy allows the dynamodb:DeleteTable action`,
    });
    const up = await evaluate(worker(), { action: 's3:PutObject', resource: `${arn('UploadsBucket5')}/uploads/x.jpg` }, opts('s3'));
    expect(up).toMatchObject({ allowed: false, message: expect.stringContaining(`on resource: "${arn('UploadsBucket5')}/uploads/x.jpg" because no identity-based policy allows the s3:PutObject action`) });
    // Outside the granted prefix / condition.
    expect(await evaluate(worker(), { action: 's3:GetObject', resource: `${arn('UploadsBucket5')}/private/x.jpg` }, opts('s3'))).toMatchObject({ allowed: false });
    expect(await evaluate(worker(), { action: 's3:ListBucket', resource: arn('UploadsBucket5'), context: { 's3:prefix': 'private/' } }, opts('s3'))).toMatchObject({ allowed: false });
    // The worker's claim is its job record: it was granted no other table.
    expect(await evaluate(worker(), { action: 'dynamodb:PutItem', resource: arn('LockTable') }, opts('dynamodb'))).toMatchObject({ allowed: false, reason: 'implicit' });
    const q = await evaluate(worker(), { action: 'sqs:SendMessage', resource: arn('ImageWorkerQueue1') }, opts('sqs'));
    expect(q).toMatchObject({ allowed: false, message: expect.stringContaining('not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:') });
  });

  it('anonymous: denied on the private buckets; a bucket policy granting * makes it readable; an explicit deny wins', async () => {
    const anon: Caller = { kind: 'anonymous' };
    const object = `${arn('RenditionsBucketF')}/renditions/j/large.jpg`;
    expect(await evaluate(anon, { action: 's3:GetObject', resource: object }, opts('s3'))).toMatchObject({ allowed: false, message: expect.stringMatching(/^User: anonymous is not authorized/) });
    const bucket = arn('RenditionsBucketF');
    const publicIndex: PolicyIndex = {
      ...index,
      resourcePolicies: new Map([[bucket, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${bucket}/public/*` }, { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `${bucket}/public/secret/*` }] }]]),
    };
    expect(await evaluate(anon, { action: 's3:GetObject', resource: `${bucket}/public/a.jpg` }, { ...opts('s3'), index: publicIndex })).toEqual({ allowed: true });
    expect(await evaluate(anon, { action: 's3:PutObject', resource: `${bucket}/public/a.jpg` }, { ...opts('s3'), index: publicIndex })).toMatchObject({ allowed: false });
    expect(await evaluate(worker(), { action: 's3:GetObject', resource: `${bucket}/public/secret/a` }, { ...opts('s3'), index: publicIndex })).toMatchObject({ allowed: false, reason: 'explicit-resource', message: expect.stringContaining('with an explicit deny in a resource-based policy') });
  });

  it('the admin is unrestricted; a request needing several actions is denied at the first missing one', async () => {
    expect(await evaluate({ kind: 'admin', accessKeyId: 'test', arn: 'arn:aws:iam::000000000000:root' }, { action: 'dynamodb:DeleteTable', resource: arn('JobsTable') }, opts('dynamodb'))).toEqual({ allowed: true });
    const d = await evaluateAll(worker(), [{ action: 's3:PutObject', resource: `${arn('RenditionsBucketF')}/renditions/x` }, { action: 's3:GetObject', resource: `${arn('RenditionsBucketF')}/renditions/y` }], opts('s3'));
    expect(d).toMatchObject({ allowed: false, authorization: { action: 's3:GetObject' } });
  });
});

describe('service principals: the resource policies of service-to-service deliveries', () => {
  // As CDK writes them: SqsSubscription's queue policy, and LambdaDestination's permission for a bucket.
  const template: CfnTemplate = {
    Resources: {
      Q: { Type: 'AWS::SQS::Queue' },
      QP: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: 'Q' }],
          PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Q', 'Arn'] }, Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws:sns:us-east-1:000000000000:orders' } } }] },
        },
      },
      R: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } },
      F: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['R', 'Arn'] } } },
      P: { Type: 'AWS::Lambda::Permission', Properties: { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': ['F', 'Arn'] }, Principal: 's3.amazonaws.com', SourceAccount: { Ref: 'AWS::AccountId' }, SourceArn: 'arn:aws:s3:::uploads' } },
    },
  } as unknown as CfnTemplate;
  const { index, physical } = policyIndexOf(template);
  const queue = physical.get('Q')!.attributes.Arn!;
  const fn = physical.get('F')!.attributes.Arn!;
  const topic = 'arn:aws:sns:us-east-1:000000000000:orders';
  const opts = (service: string) => ({ index, accountId: '000000000000', service });
  const svc = (service: string, sourceArn: string, sourceAccount = '000000000000'): Caller => ({ kind: 'service', service, sourceArn, sourceAccount });

  it('a Lambda::Permission is a statement of the function policy, with SourceArn and SourceAccount as conditions', () => {
    expect(index.resourcePolicies.get(fn)).toEqual({
      Version: '2012-10-17',
      Id: 'default',
      Statement: [{ Sid: 'P', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'lambda:InvokeFunction', Resource: fn, Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::uploads' }, StringEquals: { 'aws:SourceAccount': '000000000000' } } }],
    });
  });

  it('allows the service, source and account the policy names; denies another source, account or service', async () => {
    const send = { action: 'sqs:SendMessage', resource: queue };
    expect(await evaluate(svc('sns.amazonaws.com', topic), send, opts('sqs'))).toEqual({ allowed: true });
    expect(await evaluate(svc('sns.amazonaws.com', `${topic}-other`), send, opts('sqs'))).toMatchObject({ allowed: false, message: `User: sns.amazonaws.com is not authorized to perform: sqs:sendmessage on resource: ${queue} because no resource-based policy allows the sqs:sendmessage action` });
    expect(await evaluate(svc('events.amazonaws.com', topic), send, opts('sqs'))).toMatchObject({ allowed: false });
    const invoke = { action: 'lambda:InvokeFunction', resource: fn };
    expect(await evaluate(svc('s3.amazonaws.com', 'arn:aws:s3:::uploads'), invoke, opts('lambda'))).toEqual({ allowed: true });
    expect(await evaluate(svc('s3.amazonaws.com', 'arn:aws:s3:::uploads', '111122223333'), invoke, opts('lambda'))).toMatchObject({ allowed: false });
    expect(await evaluate(svc('sns.amazonaws.com', topic), invoke, opts('lambda'))).toMatchObject({ allowed: false });
    // No policy at all: nothing allows a service.
    expect(await evaluate(svc('sns.amazonaws.com', topic), { action: 'sns:Publish', resource: topic }, opts('sns'))).toMatchObject({ allowed: false });
  });
});
