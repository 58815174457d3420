/**
 * Submits image jobs the way the stack's producer does, and reads their outcome back.
 * Direct path (no API in the stack): S3 PutObject under uploads/, the job record `queued`, then a v1
 * job message on the queue — the same three effects the job API has.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { STACK_OUTPUTS, UPLOADS_PREFIX } from '../lambda/shared/contract';
import { JobMessageSchema, type JobMessage } from '../lambda/shared/job-message';
import type { JobRecord } from '../lambda/shared/job-record';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';

export interface PipelineClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly ddb: DynamoDBDocumentClient;
  destroy(): void;
}

export function pipelineClients(endpoints: LocalEndpoints): PipelineClients {
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  const raw = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  const ddb = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    s3,
    sqs,
    ddb,
    destroy() {
      s3.destroy();
      sqs.destroy();
      raw.destroy();
    },
  };
}

/** A job id: 1-64 of [A-Za-z0-9_-], unique enough for local runs. */
export function newJobId(): string {
  return `job-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

/** An S3-safe file name for the upload key (the job message schema forbids control chars, `..`, `//`). */
export function uploadKeyFor(jobId: string, fileName: string): string {
  const safe = fileName.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(-100) || 'file';
  return `${UPLOADS_PREFIX}${jobId}/${safe}`;
}

export interface SubmitDirectArgs {
  readonly clients: PipelineClients;
  readonly outputs: Readonly<Record<string, string>>;
  readonly fileName: string;
  readonly bytes: Uint8Array;
  readonly jobId?: string;
  readonly renditions?: JobMessage['renditions'];
  /** Send the same message this many times (duplicate delivery scenario). @default 1 */
  readonly copies?: number;
}

export async function submitDirect(args: SubmitDirectArgs): Promise<{ jobId: string; sourceKey: string }> {
  const { clients, outputs } = args;
  const jobId = args.jobId ?? newJobId();
  const sourceKey = uploadKeyFor(jobId, args.fileName);
  const bucket = need(outputs, STACK_OUTPUTS.uploadsBucket);
  const table = need(outputs, STACK_OUTPUTS.jobsTable);
  const queueUrl = need(outputs, STACK_OUTPUTS.jobQueueUrl);
  await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: sourceKey, Body: args.bytes }));
  const now = new Date().toISOString();
  const record: JobRecord = { jobId, status: 'queued', sourceKey, createdAt: now, updatedAt: now, ...(args.renditions ? { renditionNames: args.renditions } : {}) };
  await clients.ddb.send(new PutCommand({ TableName: table, Item: record }));
  const message = JobMessageSchema.parse({ v: 1, jobId, sourceKey, ...(args.renditions ? { renditions: args.renditions } : {}) });
  for (let i = 0; i < (args.copies ?? 1); i++) {
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }));
  }
  return { jobId, sourceKey };
}

export async function getJob(clients: PipelineClients, outputs: Readonly<Record<string, string>>, jobId: string): Promise<JobRecord | undefined> {
  const r = await clients.ddb.send(new GetCommand({ TableName: need(outputs, STACK_OUTPUTS.jobsTable), Key: { jobId }, ConsistentRead: true }));
  return r.Item as JobRecord | undefined;
}

export async function getObjectBytes(clients: PipelineClients, bucket: string, key: string): Promise<Uint8Array> {
  const r = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToByteArray();
}

/** Visible + in-flight messages of a queue. */
export async function queueDepth(clients: PipelineClients, queueUrl: string): Promise<{ visible: number; notVisible: number }> {
  const a = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return { visible: Number(a.Attributes?.ApproximateNumberOfMessages ?? 0), notVisible: Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** Reads (without deleting for long: a short visibility) the dead-letter queue's messages. */
export async function peekDeadLetters(clients: PipelineClients, dlqUrl: string, max = 10): Promise<Array<{ body: string; attributes: Record<string, string> }>> {
  const r = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: Math.min(10, max), WaitTimeSeconds: 0, VisibilityTimeout: 1, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
  return (r.Messages ?? []).map((m) => ({
    body: m.Body ?? '',
    attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
  }));
}

function need(outputs: Readonly<Record<string, string>>, key: string): string {
  const v = outputs[key];
  if (!v) throw new Error(`stack output ${key} is missing (outputs: ${Object.keys(outputs).join(', ')})`);
  return v;
}
