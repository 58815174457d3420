/**
 * Reads the end state the invariants are checked on: the jobs table, every published rendition's fence
 * metadata, the DLQ (non-destructively, with the DLQ tool's client), and queue depths.
 */
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { RENDITIONS_PREFIX } from '../lambda/shared/contract';
import type { JobRecord } from '../lambda/shared/job-record';
import { DlqClient } from '../tools/dlq/dlq-client';
import type { DeadLetter, PublishedRendition } from './invariants';

export async function scanJobs(dynamodb: DynamoDBClient, tableName: string): Promise<JobRecord[]> {
  const doc = DynamoDBDocumentClient.from(dynamodb);
  const out: JobRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: tableName, ...(start ? { ExclusiveStartKey: start } : {}) }));
    for (const item of page.Items ?? []) out.push(item as JobRecord);
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return out;
}

/** Every object under `renditions/` with its `fence` metadata (HEAD per object, 16 at a time). */
export async function listRenditions(s3: S3Client, bucket: string): Promise<PublishedRendition[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: RENDITIONS_PREFIX, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  const limit = pLimit(16);
  return Promise.all(
    keys.map((key) =>
      limit(async () => {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        const f = head.Metadata?.fence;
        const jobId = key.slice(RENDITIONS_PREFIX.length).split('/')[0] ?? '';
        return { jobId, key, ...(f !== undefined && /^\d+$/.test(f) ? { fence: Number(f) } : {}) };
      }),
    ),
  );
}

export async function readDeadLetters(sqs: SQSClient, deadLetterQueueUrl: string): Promise<DeadLetter[]> {
  const entries = await new DlqClient({ sqs, deadLetterQueueUrl, maxMessages: 100_000 }).list();
  return entries.map((e) => ({ jobId: e.jobId, body: e.body, errorClass: e.errorClass, kind: e.kind, reason: e.reason }));
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const a = (
    await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    )
  ).Attributes;
  return {
    visible: Number(a?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a?.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a?.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}
