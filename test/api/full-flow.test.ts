/**
 * The full flow against the local stack (the real ImagePipelineStack: bundled worker and job API, event
 * source runner, local API front): presigned upload -> job -> completed with renditions, downloaded via
 * their presigned URLs; a replay returns the same bytes and no second job runs.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { STACK_OUTPUTS } from '../../lambda/shared/contract';
import { startLocalStack, type LocalStack } from '@floodgate/local';
import { localClients, localEndpoints } from '../support/local-env';

let stack: LocalStack | undefined;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const u = new URL(path, stack!.api!.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service: 'execute-api', sha256: Sha256 });
  const signed = await signer.sign({ method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, query: {}, headers: { host: u.host, 'content-type': 'application/json', ...headers }, ...(payload === undefined ? {} : { body: payload }) });
  const h = { ...signed.headers };
  delete h.host;
  const res = await fetch(u, { method, headers: h, ...(payload === undefined ? {} : { body: payload }) });
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  stack = await startLocalStack({ emulators: localEndpoints(), waitTimeSeconds: 1, log: () => {} });
}, 300_000);

afterAll(async () => {
  await stack?.stop({ destroy: true });
});

describe('upload -> job -> completed, through the local API front', () => {
  it('renders the renditions and serves them with presigned URLs', { timeout: 120_000 }, async () => {
    expect(stack!.outputs[STACK_OUTPUTS.apiUrl]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/?$/);
    const image = await sharp({ create: { width: 1200, height: 900, channels: 3, background: { r: 10, g: 120, b: 200 } } }).jpeg().toBuffer();
    const up = await call('POST', '/uploads', { contentType: 'image/jpeg', contentLength: image.length });
    expect(up.status).toBe(201);
    const { sourceKey, uploadUrl } = JSON.parse(up.text) as { sourceKey: string; uploadUrl: string };
    expect((await fetch(uploadUrl, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: image })).status).toBe(200);

    const submit = () => call('POST', '/jobs', { sourceKey, renditions: ['thumb', 'large'] }, { 'idempotency-key': `flow-${sourceKey}` });
    const first = await submit();
    expect(first.status).toBe(202);
    const { jobId } = JSON.parse(first.text) as { jobId: string };

    let view: { status: string; renditions: { name: string; width: number; height: number; bytes: number; format: string; url: string }[] } | undefined;
    for (let i = 0; i < 100; i++) {
      const res = await call('GET', `/jobs/${jobId}`);
      view = JSON.parse(res.text) as typeof view;
      if (view?.status === 'completed' || view?.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(view?.status).toBe('completed');
    expect(view?.renditions.map((x) => x.name).sort()).toEqual(['large', 'thumb']);
    for (const r of view!.renditions) {
      const got = Buffer.from(await (await fetch(r.url)).arrayBuffer());
      expect(got.length).toBe(r.bytes);
      const meta = await sharp(got).metadata();
      expect([meta.width, meta.height]).toEqual([r.width, r.height]);
      expect(Math.max(r.width, r.height)).toBeLessThanOrEqual(r.name === 'thumb' ? 320 : 2048);
    }

    // A replay after completion: the stored 202 body, and the job is not run again.
    const replay = await submit();
    expect([replay.status, replay.text]).toEqual([202, first.text]);
    const outputs = stack!.outputs;
    const doc = DynamoDBDocumentClient.from(localClients().dynamodb);
    await new Promise((r) => setTimeout(r, 1500));
    const rec = await doc.send(new GetCommand({ TableName: outputs[STACK_OUTPUTS.jobsTable], Key: { jobId } }));
    expect(rec.Item?.status).toBe('completed');
    expect(rec.Item?.completions).toBe(1);
  });
});
