/**
 * The benchmark's comparison consumer must do the same work as the Floodgate worker, or the comparison
 * means nothing: renditions at the same keys, the job record completed, duplicates skipped by Powertools'
 * idempotency, a bad record failing alone.
 */
import { CreateTableCommand, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPowertoolsHandler } from '../../bench/powertools-worker/handler';
import { PIPELINE_ENV } from '../../lambda/shared/contract';
import { localClients, localEndpoints } from '../support/local-env';

const endpoints = localEndpoints();
const clients = localClients(endpoints);
const suffix = Date.now().toString(36);
const names = { jobs: `bench-pt-jobs-${suffix}`, idem: `bench-pt-idem-${suffix}`, uploads: `bench-pt-up-${suffix}`, renditions: `bench-pt-out-${suffix}` };

function record(body: string): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: 'rh',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1', SenderId: 's', ApproximateFirstReceiveTimestamp: '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
    awsRegion: 'us-east-1',
  };
}

const context = { getRemainingTimeInMillis: () => 60_000, functionName: 'pt', awsRequestId: 'r', invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:pt' } as unknown as Context;

beforeAll(async () => {
  for (const [TableName, key] of [[names.jobs, 'jobId'], [names.idem, 'id']] as const) {
    await clients.dynamodb.send(new CreateTableCommand({ TableName, KeySchema: [{ AttributeName: key, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  }
  for (const Bucket of [names.uploads, names.renditions]) await clients.s3.send(new CreateBucketCommand({ Bucket }));
  const photo = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#336699' } }).jpeg().toBuffer();
  await clients.s3.send(new PutObjectCommand({ Bucket: names.uploads, Key: 'uploads/a.jpg', Body: photo }));
  await clients.s3.send(new PutObjectCommand({ Bucket: names.uploads, Key: 'uploads/b.jpg', Body: photo }));
});

describe('Powertools comparison worker', () => {
  const handler = createPowertoolsHandler({
    env: {
      [PIPELINE_ENV.jobsTable]: names.jobs,
      [PIPELINE_ENV.idempotencyTable]: names.idem,
      [PIPELINE_ENV.uploadsBucket]: names.uploads,
      [PIPELINE_ENV.renditionsBucket]: names.renditions,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
    },
    dynamodb: clients.dynamodb,
    s3: clients.s3,
  });

  it('renders the renditions, completes the job records, and fails a bad record alone', async () => {
    const event: SQSEvent = {
      Records: [
        record(JSON.stringify({ v: 1, jobId: 'job-a', sourceKey: 'uploads/a.jpg' })),
        record('not json'),
        record(JSON.stringify({ v: 1, jobId: 'job-b', sourceKey: 'uploads/b.jpg', renditions: ['thumb'] })),
      ],
    };
    const res = await handler(event, context);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]!.messageId }]);
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: names.renditions }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(['renditions/job-a/large.jpg', 'renditions/job-a/medium.webp', 'renditions/job-a/thumb.jpg', 'renditions/job-b/thumb.jpg']);
    const job = await clients.dynamodb.send(new GetItemCommand({ TableName: names.jobs, Key: { jobId: { S: 'job-a' } } }));
    expect(job.Item?.['status']?.S).toBe('completed');
    const thumb = job.Item?.['renditions']?.L?.map((r) => r.M).find((m) => m?.['name']?.S === 'thumb');
    expect(thumb?.['width']?.N).toBe('320');
  });

  it('skips a duplicate of a completed job through Powertools idempotency', async () => {
    const before = await clients.dynamodb.send(new GetItemCommand({ TableName: names.jobs, Key: { jobId: { S: 'job-a' } } }));
    const res = await handler({ Records: [record(JSON.stringify({ v: 1, jobId: 'job-a', sourceKey: 'uploads/a.jpg' }))] }, context);
    expect(res.batchItemFailures).toEqual([]);
    const after = await clients.dynamodb.send(new GetItemCommand({ TableName: names.jobs, Key: { jobId: { S: 'job-a' } } }));
    // The record handler did not run again: the job record was not rewritten.
    expect(after.Item?.['updatedAt']?.S).toBe(before.Item?.['updatedAt']?.S);
    const idem = await clients.dynamodb.send(new ScanCommand({ TableName: names.idem }));
    expect(idem.Items?.filter((i) => i['status']?.S === 'COMPLETED')).toHaveLength(2);
  });
});
