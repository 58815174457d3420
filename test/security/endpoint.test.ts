/**
 * Authentication and IAM on the local endpoint, with the real reference stack deployed (issue 15): the
 * refusals AWS makes, made here with AWS's errors, through real clients (SDK v3, presigned URLs, plain
 * fetch as `curl` would send it), and a function's own credentials limited to its role.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_OUTPUTS } from '../../lambda/shared/contract';
import { ApiClient } from '../../local/api-client';
import { deployIntegrationStack, sampleImage, type IntegrationStack } from '../support/local-stack';

let s: IntegrationStack;
const refusals: Array<{ service: string; principal: string; code: string; message: string }> = [];
beforeAll(async () => {
  s = await deployIntegrationStack({ onRefusal: (r) => refusals.push({ service: r.service, principal: r.principal, code: r.error.code, message: r.error.message }) });
});
afterAll(async () => {
  await s?.stop();
});

const out = (k: string) => s.stack.outputs[k]!;
const region = 'us-east-1';
const wrong = { accessKeyId: 'test', secretAccessKey: 'wrong-secret' };
const clientsWith = (credentials: { accessKeyId: string; secretAccessKey: string }, extra: object = {}) => ({
  s3: new S3Client({ region, endpoint: s.stack.endpoint, forcePathStyle: true, credentials, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...extra }),
  sqs: new SQSClient({ region, endpoint: s.stack.endpoint, credentials, maxAttempts: 1, ...extra }),
  ddb: new DynamoDBClient({ region, endpoint: s.stack.endpoint, credentials, maxAttempts: 1, ...extra }),
});
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a refusal'); }, (e: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => ({ name: e.name, message: e.message, status: e.$metadata?.httpStatusCode }));
const functionId = (prefix: string) => s.stack.deployment.functions.find((f) => f.logicalId.startsWith(prefix))!.logicalId;

describe('authentication on the endpoint', () => {
  it('a wrong secret is refused by every service with its own error', async () => {
    const c = clientsWith(wrong);
    expect(await failure(c.s3.send(new GetObjectCommand({ Bucket: out(STACK_OUTPUTS.uploadsBucket), Key: 'uploads/x' })))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(await failure(c.sqs.send(new SendMessageCommand({ QueueUrl: out(STACK_OUTPUTS.jobQueueUrl), MessageBody: 'x' })))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(await failure(c.ddb.send(new GetItemCommand({ TableName: out(STACK_OUTPUTS.jobsTable), Key: { jobId: { S: 'x' } } })))).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(await failure(clientsWith({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }).ddb.send(new GetItemCommand({ TableName: out(STACK_OUTPUTS.jobsTable), Key: { jobId: { S: 'x' } } })))).toMatchObject({ name: 'UnrecognizedClientException' });
  });

  it('a signature dated more than 5 minutes off is refused (RequestTimeTooSkewed / Signature expired)', async () => {
    const skewed = clientsWith({ accessKeyId: 'test', secretAccessKey: 'test' }, { systemClockOffset: -6 * 60_000 });
    const d = await failure(skewed.ddb.send(new GetItemCommand({ TableName: out(STACK_OUTPUTS.jobsTable), Key: { jobId: { S: 'x' } } })));
    expect(d).toMatchObject({ name: 'InvalidSignatureException', message: expect.stringMatching(/^Signature expired: .* - 5 min\.\)$/) });
    expect(await failure(skewed.s3.send(new GetObjectCommand({ Bucket: out(STACK_OUTPUTS.uploadsBucket), Key: 'uploads/x' })))).toMatchObject({ name: 'RequestTimeTooSkewed', status: 403 });
    const ok = clientsWith({ accessKeyId: 'test', secretAccessKey: 'test' }, { systemClockOffset: -4 * 60_000 });
    expect((await ok.ddb.send(new GetItemCommand({ TableName: out(STACK_OUTPUTS.jobsTable), Key: { jobId: { S: 'x' } } }))).$metadata.httpStatusCode).toBe(200);
  });

  it('an unsigned GET of a private object is 403 AccessDenied (as curl sends it)', async () => {
    const Bucket = out(STACK_OUTPUTS.renditionsBucket);
    await s.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'renditions/sec/large.jpg', Body: 'secret' }));
    const res = await fetch(`${s.stack.endpoint}/${Bucket}/renditions/sec/large.jpg`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
    // The admin reads it (so the 403 is the refusal, not a missing object).
    expect((await s.clients.s3.send(new GetObjectCommand({ Bucket, Key: 'renditions/sec/large.jpg' }))).$metadata.httpStatusCode).toBe(200);
  });

  it('an expired presigned URL is 403 "Request has expired"', async () => {
    const Bucket = out(STACK_OUTPUTS.renditionsBucket);
    const url = await getSignedUrl(s.clients.s3, new GetObjectCommand({ Bucket, Key: 'renditions/sec/large.jpg' }), { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
    const fresh = await fetch(await getSignedUrl(s.clients.s3, new GetObjectCommand({ Bucket, Key: 'renditions/sec/large.jpg' }), { expiresIn: 60 }));
    expect(fresh.status).toBe(200);
  });

  it('a presigned PUT from the job API holds its signed type and size: the upload limit holds when a client lies', async () => {
    const api = new ApiClient({ baseUrl: s.stack.api!.url, maxAttempts: 1 });
    const data = await sampleImage('jpeg', 64, 48, 1);
    const up = await api.request('POST', '/uploads', { contentType: 'image/jpeg', contentLength: data.length });
    expect(up.status).toBe(201);
    const { uploadUrl } = up.json as { uploadUrl: string };
    const put = (body: Uint8Array, type: string) => fetch(uploadUrl, { method: 'PUT', body, headers: { 'content-type': type } });
    // Declared small, sends 21 MiB (over the 20 MiB limit): refused before anything is stored.
    const big = await put(new Uint8Array(21 * 1024 * 1024), 'image/jpeg');
    expect(big.status).toBe(403);
    expect(await big.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const typed = await put(data, 'text/html');
    expect(typed.status).toBe(403);
    expect(await typed.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect((await put(data, 'image/jpeg')).status).toBe(200);
  });
});

describe('IAM on the endpoint: a function\'s credentials are limited to its role', () => {
  it('the job API\'s role may PutItem on the jobs table but not UpdateItem: AccessDeniedException in AWS\'s words, nothing written', async () => {
    const creds = s.stack.functionCredentials(functionId('JobApiFunction'))!;
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    const c = clientsWith(creds);
    const TableName = out(STACK_OUTPUTS.jobsTable);
    await c.ddb.send(new PutItemCommand({ TableName, Item: { jobId: { S: 'iam-1' }, status: { S: 'queued' } } }));
    const denied = await failure(c.ddb.send(new UpdateItemCommand({ TableName, Key: { jobId: { S: 'iam-1' } }, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: 'completed' } } })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toMatch(
      new RegExp(`^User: arn:aws:sts::000000000000:assumed-role/[^/]+/${s.stack.deployment.functions.find((f) => f.logicalId.startsWith('JobApiFunction'))!.functionName} is not authorized to perform: dynamodb:UpdateItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${TableName} because no identity-based policy allows the dynamodb:UpdateItem action$`),
    );
    const got = await clientsWith({ accessKeyId: 'test', secretAccessKey: 'test' }).ddb.send(new GetItemCommand({ TableName, Key: { jobId: { S: 'iam-1' } } }));
    expect(got.Item?.status?.S).toBe('queued');
  });

  it('S3 and SQS deny with their own codes and messages (SQS lower-cases the action, as AWS does)', async () => {
    const c = clientsWith(s.stack.functionCredentials(functionId('ImageWorkerFunction'))!);
    const s3d = await failure(c.s3.send(new PutObjectCommand({ Bucket: out(STACK_OUTPUTS.uploadsBucket), Key: 'uploads/evil.jpg', Body: 'x' })));
    expect(s3d).toMatchObject({ name: 'AccessDenied', status: 403, message: expect.stringContaining('is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::') });
    const q = await failure(c.sqs.send(new SendMessageCommand({ QueueUrl: out(STACK_OUTPUTS.jobQueueUrl), MessageBody: 'x' })));
    expect(q).toMatchObject({ status: 403, message: expect.stringContaining('is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:') });
    expect(refusals.some((r) => r.code === 'AccessDenied' && r.service === 'sqs')).toBe(true);
  });

  it('the whole pipeline works with the grants as they are (a job through the worker\'s own credentials)', async () => {
    const before = refusals.length;
    const jobId = await s.submit('iam-ok.jpg', await sampleImage('jpeg', 320, 240, 3));
    const [rec] = await s.settle([jobId]);
    expect(rec).toMatchObject({ status: 'completed' });
    expect(refusals.slice(before)).toEqual([]);
  });
});
