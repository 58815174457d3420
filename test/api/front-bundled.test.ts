/**
 * The local front with the BUNDLED job-api handler: a stack holding only the JobApi and what it needs is
 * synthesized with real esbuild bundling, deployed to the emulators by the local deployer, and served by
 * `startApiFront` through the Lambda host (child-process execution environments).
 * Flow: presign -> PUT with plain fetch -> submit -> replay -> status; plus 403 and the bundle's logs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { CfnTemplate } from '@floodgate/local';
import { deployTemplate, type LocalDeployment } from '@floodgate/local';
import { startApiFront, type ApiFront } from '@floodgate/local';
import type { LogEntry } from '@floodgate/local';
import { JobApi } from '../../lib/job-api';
import { localClients, localEndpoints } from '../support/local-env';
import { drainQueue } from './support';

const outdir = mkdtempSync(join(tmpdir(), 'floodgate-api-'));
let deployment: LocalDeployment | undefined;
let front: ApiFront | undefined;
const logs: LogEntry[] = [];
let uploadsBucket = '';
let queueUrl = '';

async function signed(url: string, method: string, body?: string, headers: Record<string, string> = {}) {
  const u = new URL(url);
  const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service: 'execute-api', sha256: Sha256 });
  const req = await signer.sign({ method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, query: {}, headers: { host: u.host, 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body }) });
  const h = { ...req.headers };
  delete h.host;
  const res = await fetch(url, { method, headers: h, ...(body === undefined ? {} : { body }) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

beforeAll(async () => {
  const app = new App({ outdir });
  const stack = new Stack(app, 'ApiOnly');
  const table = (id: string, key: string) => new dynamodb.TableV2(stack, id, { partitionKey: { name: key, type: dynamodb.AttributeType.STRING }, removalPolicy: RemovalPolicy.DESTROY });
  new JobApi(stack, 'Api', {
    jobsTable: table('Jobs', 'jobId'),
    idempotencyTable: table('Idem', 'id'),
    uploadsBucket: new s3.Bucket(stack, 'Uploads'),
    renditionsBucket: new s3.Bucket(stack, 'Renditions'),
    queue: new sqs.Queue(stack, 'Queue'),
    throttlingRateLimit: 100,
    throttlingBurstLimit: 100,
  });
  const assembly = app.synth();
  const template = assembly.getStackByName('ApiOnly').template as CfnTemplate;
  deployment = await deployTemplate({ template, stackName: 'ApiOnly', assemblyDir: outdir, endpoints: localEndpoints(), log: () => {} });
  const ids = Object.entries(template.Resources);
  const physical = (type: string, hint: string) => deployment!.resources.get(ids.find(([id, r]) => r.Type === type && id.startsWith(hint))![0])!.ref;
  uploadsBucket = physical('AWS::S3::Bucket', 'Uploads');
  queueUrl = physical('AWS::SQS::Queue', 'Queue');
  front = await startApiFront({ template, assemblyDir: outdir, resolve: (v) => deployment!.resolve(v), endpoints: localEndpoints(), onLog: (e) => logs.push(e), maxEnvironments: 2 });
}, 120_000);

afterAll(async () => {
  await front?.stop();
  await deployment?.destroy();
  rmSync(outdir, { recursive: true, force: true });
});

describe('bundled job API behind the local front', () => {
  it('presign -> upload -> submit -> replay -> status, with structured logs from the bundle', async () => {
    const url = front!.url;
    const image = Buffer.from('not really a jpeg, the API does not decode it');
    const up = await signed(`${url}/uploads`, 'POST', JSON.stringify({ contentType: 'image/jpeg', contentLength: image.length }));
    expect(up.status).toBe(201);
    const { sourceKey, uploadUrl } = JSON.parse(up.text) as { sourceKey: string; uploadUrl: string };
    const put = await fetch(uploadUrl, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: image });
    expect(put.status).toBe(200);
    const head = await localClients().s3.send(new HeadObjectCommand({ Bucket: uploadsBucket, Key: sourceKey }));
    expect(head.ContentLength).toBe(image.length);

    const submit = () => signed(`${url}/jobs`, 'POST', JSON.stringify({ sourceKey, renditions: ['thumb'] }), { 'idempotency-key': 'bundled-1' });
    const first = await submit();
    expect(first.status).toBe(202);
    const replay = await submit();
    expect([replay.status, replay.text]).toEqual([first.status, first.text]);
    const { jobId } = JSON.parse(first.text) as { jobId: string };
    const other = await signed(`${url}/jobs`, 'POST', JSON.stringify({ sourceKey }), { 'idempotency-key': 'bundled-1' });
    expect(other.status).toBe(422);

    const status = await signed(`${url}/jobs/${jobId}`, 'GET');
    expect(JSON.parse(status.text)).toEqual({ jobId, status: 'queued', renditions: [] });
    expect((await drainQueue(queueUrl)).map((b) => JSON.parse(b) as { jobId: string }).map((m) => m.jobId)).toEqual([jobId]);

    const requestLogs = logs.filter((l) => l.json?.message === 'request').map((l) => l.json?.statusCode);
    expect(requestLogs).toEqual([201, 202, 202, 422, 200]);
  });

  it('rejects unsigned requests before the function runs', async () => {
    // The function runs = Lambda writes a START line (END and REPORT of earlier invocations may still come).
    const starts = () => logs.filter((l) => l.line.startsWith('START RequestId:')).length;
    const before = starts();
    const res = await fetch(`${front!.url}/jobs/abc`);
    expect(res.status).toBe(403);
    expect(starts()).toBe(before);
  });
});
