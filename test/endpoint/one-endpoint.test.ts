/**
 * The endpoint suite: a stack deployed by startLocalStack on the run's target (the embedded emulators,
 * or FLOODGATE_ENDPOINT such as moto_server) answers SQS, S3 and DynamoDB on its one endpoint, and a
 * function built with default SDK clients reaches that target through it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { startLocalStack, type LocalStack } from '@floodgate/local';
import { synthFixtureApp } from '../../packages/local/test/fixtures/fixture-app';
import { localEndpoints } from '../support/local-env';
import { EXTERNAL_ENDPOINT } from '../support/target';

describe(`one endpoint on ${EXTERNAL_ENDPOINT ?? 'the embedded emulators'}`, () => {
  let stack: LocalStack;
  beforeAll(async () => {
    const assembly = synthFixtureApp(join(mkdtempSync(join(tmpdir(), 'fl-endpoint-')), 'cdk.out'));
    stack = await startLocalStack({ assembly, emulators: localEndpoints(), waitTimeSeconds: 1, log: () => undefined });
  }, 180_000);
  afterAll(() => stack?.stop({ destroy: true }));

  it('serves S3 through the one endpoint, whatever the target', async () => {
    await stack.clients.s3.send(new PutObjectCommand({ Bucket: stack.outputs.BucketName, Key: 'k', Body: 'v' }));
    const got = await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.outputs.BucketName, Key: 'k' }));
    expect(await got.Body!.transformToString()).toBe('v');
    expect(stack.outputs.QueueUrl!.startsWith(`${stack.endpoint}/`)).toBe(true);
  });

  it('a message is handled by the function, whose default DynamoDBClient reaches the target', { timeout: 90_000 }, async () => {
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.outputs.QueueUrl, MessageBody: JSON.stringify({ id: 'e-1', action: 'ok' }) }));
    let item: Record<string, unknown> | undefined;
    for (let i = 0; i < 240 && !item; i++) {
      await new Promise((r) => setTimeout(r, 250));
      item = (await stack.clients.dynamodb.send(new GetItemCommand({ TableName: stack.outputs.TableName, Key: { pk: { S: 'e-1' } } }))).Item;
    }
    expect(item?.attempts).toEqual({ N: '1' });
    expect(stack.target).toBe(EXTERNAL_ENDPOINT ? 'external' : 'emulators');
  });
});
