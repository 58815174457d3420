/**
 * The single endpoint: SDK clients configured with nothing but the gateway URL reach SQS, S3 and
 * DynamoDB; unsigned requests are routed by their protocol; the authorizer hook refuses in each
 * service's protocol; a PutObject above the emulator's 11 MiB body cap is stored whole (multipart).
 */
import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateQueueCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { inject } from 'vitest';
import { LOCAL_CREDENTIALS } from '../src/emulators';
import { startGateway, type Gateway } from '../src/gateway/server';
import { credentialScope } from '../src/gateway/route';
import { createS3Service } from '../src/services/s3/handler';
import { rewriteQueueUrls, sqsService } from '../src/services/sqs/handler';
import { decodeAwsChunkedStream, fixedParts } from '../src/services/s3/large-put';

const endpoints = inject('endpoints');
const id = randomBytes(3).toString('hex');
const common = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of gen) out.push(Buffer.from(b));
  return out;
}

describe('routing (pure)', () => {
  it('reads the service from the Authorization header, else from a presigned X-Amz-Credential', () => {
    const auth = 'AWS4-HMAC-SHA256 Credential=AKID/20261201/eu-west-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + 'a'.repeat(64);
    expect(credentialScope({ authorization: auth }, new URLSearchParams())).toEqual({ accessKeyId: 'AKID', date: '20261201', region: 'eu-west-1', service: 'dynamodb', presigned: false });
    const q = new URLSearchParams({ 'X-Amz-Credential': 'test/20261201/us-east-1/s3/aws4_request' });
    expect(credentialScope({}, q)).toMatchObject({ service: 's3', presigned: true });
    expect(credentialScope({}, new URLSearchParams())).toBeUndefined();
  });

  it('claims unsigned SQS query-protocol requests by Action= (not CloudFormation\'s, which names its Version)', () => {
    const sqs = sqsService({ region: 'us-east-1', upstreams: { sqs: 'http://x' }, url: () => '', stack: () => undefined, signingNames: () => [] })!;
    const req = (action?: string, version?: string) => ({ method: 'POST', path: '/', query: new URLSearchParams(), headers: {}, ...(action ? { action } : {}), ...(version ? { version } : {}) });
    expect(sqs.claims!(req('SendMessage', '2012-11-05'))).toBe(true);
    expect(sqs.claims!(req('DescribeStacks', '2010-05-15'))).toBe(false);
    expect(sqs.claims!(req())).toBe(false);
    expect(rewriteQueueUrls('<QueueUrl>http://sqs.us-east-1.127.0.0.1:9/000000000000/q</QueueUrl>', 'http://127.0.0.1:1')).toBe('<QueueUrl>http://127.0.0.1:1/000000000000/q</QueueUrl>');
  });

  it('decodes aws-chunked framing split anywhere, and cuts fixed-size parts', async () => {
    const payload = randomBytes(70_000);
    const framed = Buffer.concat([
      Buffer.from(`${(40_000).toString(16)};chunk-signature=${'0'.repeat(64)}\r\n`), payload.subarray(0, 40_000), Buffer.from('\r\n'),
      Buffer.from(`${(30_000).toString(16)};chunk-signature=${'0'.repeat(64)}\r\n`), payload.subarray(40_000), Buffer.from('\r\n'),
      Buffer.from(`0;chunk-signature=${'0'.repeat(64)}\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n`),
    ]);
    const pieces = [];
    for (let i = 0; i < framed.length; i += 997) pieces.push(framed.subarray(i, i + 997));
    const decoded = Buffer.concat(await collect(decodeAwsChunkedStream(Readable.from(pieces))));
    expect(decoded.equals(payload)).toBe(true);
    const parts = await collect(fixedParts(Readable.from(pieces), 30_000));
    expect(parts.map((p) => p.length)).toEqual([30_000, 30_000, framed.length - 60_000]);
  });
});

describe('the one endpoint', () => {
  const sqs = new SQSClient({ ...common, endpoint: endpoints.endpoint });
  const s3 = new S3Client({ ...common, endpoint: endpoints.endpoint, forcePathStyle: true });
  const ddb = new DynamoDBClient({ ...common, endpoint: endpoints.endpoint });
  afterAll(() => {
    sqs.destroy();
    s3.destroy();
    ddb.destroy();
  });

  it('serves SQS, S3 and DynamoDB on one URL, and queue URLs stay on it', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `gw-${id}` }));
    expect(QueueUrl).toBe(`${endpoints.endpoint}/000000000000/gw-${id}`);
    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: `gw-${id}` }))).QueueUrl).toBe(QueueUrl);
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(got.Messages?.[0]?.Body).toBe('hello');

    await s3.send(new CreateBucketCommand({ Bucket: `gw-${id}` }));
    await s3.send(new PutObjectCommand({ Bucket: `gw-${id}`, Key: 'a/b.txt', Body: 'body' }));
    const obj = await s3.send(new GetObjectCommand({ Bucket: `gw-${id}`, Key: 'a/b.txt' }));
    expect(await obj.Body!.transformToString()).toBe('body');

    await ddb.send(new CreateTableCommand({ TableName: `gw-${id}`, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    await ddb.send(new PutItemCommand({ TableName: `gw-${id}`, Item: { pk: { S: 'k' }, v: { N: '1' } } }));
    expect((await ddb.send(new GetItemCommand({ TableName: `gw-${id}`, Key: { pk: { S: 'k' } } }))).Item?.v).toEqual({ N: '1' });
  });

  it('routes unsigned requests by X-Amz-Target, Action= and S3 path-style', async () => {
    const tables = await fetch(endpoints.endpoint, { method: 'POST', headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables', 'content-type': 'application/x-amz-json-1.0' }, body: '{}' });
    // DynamoDB Local itself answers (it wants a signature): routed to DynamoDB, not to fauxqs.
    expect(await tables.json()).toMatchObject({ __type: 'com.amazonaws.dynamodb.v20120810#MissingAuthenticationToken' });
    const queues = await fetch(endpoints.endpoint, { method: 'POST', headers: { 'x-amz-target': 'AmazonSQS.ListQueues', 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify({ QueueNamePrefix: `gw-${id}` }) });
    expect(await queues.json()).toEqual({ QueueUrls: [`${endpoints.endpoint}/000000000000/gw-${id}`] });
    const object = await fetch(`${endpoints.endpoint}/gw-${id}/a/b.txt`);
    expect(await object.text()).toBe('body');
  });

  it('stores a 16 MiB PutObject (over the emulator body cap) whole: SDK, presigned URL and aws-chunked stream', async () => {
    const big = randomBytes(16 * 1024 * 1024 + 123);
    const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
    const read = async (Key: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: `gw-${id}`, Key }))).Body!.transformToByteArray());

    await s3.send(new PutObjectCommand({ Bucket: `gw-${id}`, Key: 'big/sdk', Body: big, ContentType: 'image/jpeg', Metadata: { origin: 'test' } }));
    const head = await s3.send(new GetObjectCommand({ Bucket: `gw-${id}`, Key: 'big/sdk' }));
    expect(head.ContentType).toBe('image/jpeg');
    expect(head.Metadata).toEqual({ origin: 'test' });
    expect(head.ContentLength).toBe(big.length);
    expect(md5(await read('big/sdk'))).toBe(md5(big));

    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: `gw-${id}`, Key: 'big/presigned', ContentType: 'image/jpeg', ContentLength: big.length }), { expiresIn: 60 });
    const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/jpeg', 'content-length': String(big.length) }, body: big });
    expect(put.status).toBe(200);
    expect(md5(await read('big/presigned'))).toBe(md5(big));

    // A stream of unknown length: the SDK sends it aws-chunked with a trailing checksum.
    await s3.send(new PutObjectCommand({ Bucket: `gw-${id}`, Key: 'big/stream', Body: Readable.from([big.subarray(0, 5_000_000), big.subarray(5_000_000)]), ContentLength: big.length }));
    expect(md5(await read('big/stream'))).toBe(md5(big));
  });
});

describe('a gateway of its own', () => {
  let gw: Gateway;
  const refused: string[] = [];
  beforeAll(async () => {
    gw = await startGateway({
      upstreams: endpoints.backends!,
      region: 'us-east-1',
      authorizers: [
        (req) => {
          if (req.scope?.accessKeyId !== 'denied') return undefined;
          refused.push(`${req.service}:${req.operation ?? req.method}`);
          return { status: 403, code: 'AccessDeniedException', message: `denied ${req.service}` };
        },
      ],
    });
    // A service added at run time wins over the built-in one with the same signing name.
    gw.addService(createS3Service({ maxObjectBytes: 12 * 1024 * 1024 }));
  });
  afterAll(() => gw.stop());

  it('the authorizer hook refuses in each protocol, and the SDK parses the error code', async () => {
    const creds = { accessKeyId: 'denied', secretAccessKey: 'x' };
    const ddb = new DynamoDBClient({ region: 'us-east-1', credentials: creds, endpoint: gw.url, maxAttempts: 1 });
    const sqs = new SQSClient({ region: 'us-east-1', credentials: creds, endpoint: gw.url, maxAttempts: 1 });
    const s3 = new S3Client({ region: 'us-east-1', credentials: creds, endpoint: gw.url, forcePathStyle: true, maxAttempts: 1 });
    await expect(ddb.send(new GetItemCommand({ TableName: `gw-${id}`, Key: { pk: { S: 'k' } } }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: `gw-${id}` }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(s3.send(new GetObjectCommand({ Bucket: `gw-${id}`, Key: 'a/b.txt' }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    expect(refused).toEqual(['dynamodb:DynamoDB_20120810.GetItem', 'sqs:AmazonSQS.GetQueueUrl', 's3:GET']);
    for (const c of [ddb, sqs, s3]) c.destroy();
  });

  it('an upload over the limit gets S3\'s EntityTooLarge from the gateway, never the emulator\'s error', async () => {
    const s3 = new S3Client({ ...common, endpoint: gw.url, forcePathStyle: true, maxAttempts: 1 });
    const err = await s3.send(new PutObjectCommand({ Bucket: `gw-${id}`, Key: 'too/big', Body: randomBytes(13 * 1024 * 1024) })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'EntityTooLarge', $metadata: { httpStatusCode: 400 } });
    expect(String((err as Error).message)).not.toMatch(/FST_|fastify/i);
    s3.destroy();
  });
});
