/**
 * Issue 19's "Done when", on a public example no one here wrote: aws-samples/aws-cdk-examples
 * `typescript/s3-sns-lambda-chain` (S3 → SNS → SQS → Lambda), vendored unchanged under
 * fixtures/aws-cdk-examples (Apache-2.0). Synthesized with this repository's aws-cdk-lib and deployed on
 * the embedded stack: uploading example.csv reaches the function through S3 → SNS → SQS and its log line
 * shows the event; a .txt upload does not reach it. When the mirror of the repository is on this
 * machine, the vendored files are checked against it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../src/stack';
import { localEndpoints } from '../../../test/support/local-env';

const EXAMPLE = fileURLToPath(new URL('./fixtures/aws-cdk-examples/s3-sns-lambda-chain/', import.meta.url));
const MIRROR = '/work/.mirror/aws-samples+aws-cdk-examples/repo';

let stack: LocalStack;
const lines: Array<{ fn: string; line: string }> = [];

beforeAll(async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'fg-cdk-examples-'));
  const app = new App({ outdir });
  // Loaded by path: the example's own sources are not held to this repository's compiler settings.
  const stackModule: string = join(EXAMPLE, 'lib', 's3-sns-sqs-lambda-chain-stack.ts');
  const { default: S3SnsSqsLambdaChainStack } = (await import(stackModule)) as { default: new (scope: App, id: string) => unknown };
  new S3SnsSqsLambdaChainStack(app, 'S3SnsSqsLambdaChain');
  app.synth();
  stack = await startLocalStack({ assembly: outdir, emulators: localEndpoints(), waitTimeSeconds: 1, log: () => undefined, onLog: (e) => lines.push({ fn: e.functionName, line: e.line }) });
}, 180_000);
afterAll(async () => {
  await stack?.stop({ destroy: true });
});

const bucketName = (): string => [...stack.deployment.resources.values()].find((r) => r.type === 'AWS::S3::Bucket')!.ref;
const functionLog = (): string => lines.filter((l) => /CsvUploadEventLambda$/.test(l.fn)).map((l) => l.line).join('\n');

async function queueDepth(name: string): Promise<number> {
  const { QueueUrl } = await stack.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  const a = await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(a.Attributes!.ApproximateNumberOfMessages) + Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible);
}

describe('aws-cdk-examples typescript/s3-sns-lambda-chain', () => {
  it.skipIf(!existsSync(MIRROR))('the vendored copy is the example as published (mirror present)', () => {
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    for (const f of files(EXAMPLE)) {
      const rel = relative(EXAMPLE, f);
      const published = execFileSync('git', ['--git-dir', MIRROR, 'show', `bccff1d2775e4b0bf777721c6b41c0107e122f73:typescript/s3-sns-lambda-chain/${rel}`]);
      expect(readFileSync(f).equals(published), rel).toBe(true);
    }
  });

  it('deploys its topic, subscription and bucket notifications as message flow, not "not emulated"', () => {
    expect(stack.deployment.notEmulated.filter((t) => /^AWS::SNS::|^Custom::S3BucketNotifications$/.test(t))).toEqual([]);
  });

  it('example.csv reaches the function through S3 → SNS → SQS, and its log line shows the event; a .txt upload does not', async () => {
    const Bucket = bucketName();
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'example.txt', Body: readFileSync(join(EXAMPLE, 'example.csv')) }));
    await stack.clients.s3.send(new PutObjectCommand({ Bucket, Key: 'example.csv', Body: readFileSync(join(EXAMPLE, 'example.csv')) }));
    const end = Date.now() + 20_000;
    while (Date.now() < end && !functionLog().includes('example.csv')) await new Promise((r) => setTimeout(r, 200));
    const log = functionLog();
    expect(log).toContain('CSV upload event:');
    // The SQS record's body is the raw SNS message: S3's event for the object.
    expect(log).toMatch(/\\"eventSource\\":\\"aws:s3\\"/);
    expect(log).toMatch(/\\"eventName\\":\\"ObjectCreated:Put\\"/);
    expect(log).toMatch(/\\"key\\":\\"example\.csv\\"/);
    expect(log).toContain('"eventSource": "aws:sqs"');
    // Given time to arrive, the .txt never does; both queues end empty (nothing dead-lettered).
    await new Promise((r) => setTimeout(r, 2000));
    expect(functionLog()).not.toContain('example.txt');
    const queueName = (logicalPrefix: string): string => [...stack.deployment.resources.entries()].find(([id, r]) => r.type === 'AWS::SQS::Queue' && id.startsWith(logicalPrefix))![1].attributes.QueueName!;
    expect(await queueDepth(queueName('CsvUploadQueue'))).toBe(0);
    expect(await queueDepth(queueName('CsvUploadDeadLetterQueue'))).toBe(0);
  });
});
