/**
 * What a request asks for, in IAM's terms: the action(s) and resource ARN(s) a request to the local
 * endpoint needs, per service, as AWS's service authorization reference defines them
 * (dynamodb:PutItem on the table ARN, s3:GetObject on `bucket/key`, sqs:SendMessage on the queue ARN,
 * lambda:InvokeFunction on the function ARN). A batch or transaction needs every action it contains.
 * Pure: the gateway passes the parsed request, nothing here does I/O.
 */
import { isMessageMoveOperation, messageMoveAuthorizations } from '../../services/sqs/message-move.js';

export type ServiceName = 's3' | 'sqs' | 'sns' | 'dynamodb' | 'lambda' | 'logs' | 'events';

export interface RequestForIam {
  readonly service: ServiceName;
  readonly method: string;
  /** Path as sent (percent-encoded). */
  readonly path: string;
  /** Raw query string without `?`. */
  readonly query: string;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** One authorization question: may the caller perform `action` on `resource`. */
export interface Authorization {
  readonly action: string;
  readonly resource: string;
  /** Service condition keys known from the request (e.g. s3:prefix). */
  readonly context?: Readonly<Record<string, string | string[]>>;
}

export interface ArnContext {
  readonly region: string;
  readonly accountId: string;
}

export class UnmappedRequestError extends Error {
  override readonly name = 'UnmappedRequestError';
}

function searchParams(query: string): URLSearchParams {
  return new URLSearchParams(query);
}

function jsonBody(body: Uint8Array): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------- DynamoDB

/** TableName may be a name or (since 2024) a table ARN. */
function tableArn(name: unknown, ctx: ArnContext): string {
  const n = String(name ?? '');
  return n.startsWith('arn:') ? n : `arn:aws:dynamodb:${ctx.region}:${ctx.accountId}:table/${n}`;
}

/** Operations whose IAM action is not `dynamodb:<Operation>` on the table named by TableName. */
const DYNAMODB_ACCOUNT_LEVEL = new Set(['ListTables', 'DescribeLimits', 'DescribeEndpoints', 'ListBackups', 'ListGlobalTables', 'ListExports', 'ListImports']);

export function dynamodbAuthorizations(req: RequestForIam, ctx: ArnContext): Authorization[] {
  const target = req.headers['x-amz-target'] ?? '';
  const streams = /^DynamoDBStreams_\d{8}\.(\w+)$/.exec(target);
  if (streams) return dynamodbStreamsAuthorizations(streams[1]!, jsonBody(req.body));
  const m = /^DynamoDB_\d{8}\.(\w+)$/.exec(target);
  if (!m) throw new UnmappedRequestError(`DynamoDB request without a DynamoDB_20120810.<Operation> X-Amz-Target (got "${target}")`);
  const op = m[1]!;
  const body = jsonBody(req.body);
  if (DYNAMODB_ACCOUNT_LEVEL.has(op)) return [{ action: `dynamodb:${op}`, resource: '*' }];
  if (op === 'BatchWriteItem' || op === 'BatchGetItem') {
    // AWS authorizes dynamodb:BatchWriteItem / BatchGetItem on each table the batch names.
    const items = (body.RequestItems ?? {}) as Record<string, unknown>;
    return Object.keys(items).map((t) => ({ action: `dynamodb:${op}`, resource: tableArn(t, ctx) }));
  }
  if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
    const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };
    const out: Authorization[] = [];
    for (const item of (body.TransactItems ?? []) as Record<string, { TableName?: string }>[]) {
      for (const [k, v] of Object.entries(item)) {
        const action = kinds[k];
        if (action !== undefined) out.push({ action: `dynamodb:${action}`, resource: tableArn(v.TableName, ctx) });
      }
    }
    return out;
  }
  if (op === 'ExecuteStatement' || op === 'BatchExecuteStatement' || op === 'ExecuteTransaction') {
    throw new UnmappedRequestError(`dynamodb:${op} (PartiQL) is not mapped to IAM actions locally`);
  }
  if (body.TableName === undefined && body.TableArn === undefined && body.ResourceArn === undefined) {
    throw new UnmappedRequestError(`DynamoDB ${op} without TableName`);
  }
  let resource = tableArn(body.TableName ?? body.TableArn ?? body.ResourceArn, ctx);
  if ((op === 'Query' || op === 'Scan') && typeof body.IndexName === 'string') resource = `${resource}/index/${body.IndexName}`;
  return [{ action: `dynamodb:${op}`, resource }];
}

/**
 * DynamoDB Streams: dynamodb:ListStreams on `*`; DescribeStream, GetShardIterator and GetRecords on the
 * stream ARN (GetRecords names it through the shard iterator, which begins with it).
 */
function dynamodbStreamsAuthorizations(op: string, body: Record<string, unknown>): Authorization[] {
  if (op === 'ListStreams') return [{ action: 'dynamodb:ListStreams', resource: '*' }];
  if (op === 'DescribeStream' || op === 'GetShardIterator') {
    if (typeof body.StreamArn !== 'string') throw new UnmappedRequestError(`dynamodb:${op} without StreamArn`);
    return [{ action: `dynamodb:${op}`, resource: body.StreamArn }];
  }
  if (op === 'GetRecords') {
    const arn = typeof body.ShardIterator === 'string' ? body.ShardIterator.split('|')[0] : undefined;
    // An external endpoint's iterators may be opaque (moto): the action is then checked on any stream.
    return [{ action: 'dynamodb:GetRecords', resource: arn?.startsWith('arn:') ? arn : '*' }];
  }
  throw new UnmappedRequestError(`DynamoDB Streams ${op} is not mapped to IAM actions locally`);
}

// ---------------------------------------------------------------- SQS

/** SQS batch operations are authorized by their single-message action (IAM has no *Batch actions). */
const SQS_ACTION: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};
const SQS_ACCOUNT_LEVEL = new Set(['ListQueues']);

function queueArnFromUrl(url: string, ctx: ArnContext): string {
  const parts = url.replace(/[?#].*$/, '').split('/').filter(Boolean);
  const name = parts.at(-1) ?? '';
  const account = parts.at(-2);
  return `arn:aws:sqs:${ctx.region}:${account !== undefined && /^\d{12}$/.test(account) ? account : ctx.accountId}:${name}`;
}

export function sqsAuthorizations(req: RequestForIam, ctx: ArnContext): Authorization[] {
  let op: string | undefined;
  let queueUrl: string | undefined;
  let queueName: string | undefined;
  const target = req.headers['x-amz-target'];
  if (target !== undefined) {
    op = /^AmazonSQS\.(\w+)$/.exec(target)?.[1];
    const body = jsonBody(req.body);
    // Message move tasks name queues by ARN (and a task handle), not by URL.
    if (isMessageMoveOperation(op)) return messageMoveAuthorizations(op!, body);
    queueUrl = typeof body.QueueUrl === 'string' ? body.QueueUrl : undefined;
    queueName = typeof body.QueueName === 'string' ? body.QueueName : undefined;
  } else {
    // Query protocol: Action and QueueUrl in the form body or the query; or the queue in the path.
    const form = searchParams(`${req.query}&${(req.headers['content-type'] ?? '').includes('x-www-form-urlencoded') ? Buffer.from(req.body).toString('utf8') : ''}`);
    op = form.get('Action') ?? undefined;
    queueUrl = form.get('QueueUrl') ?? (req.path.split('/').filter(Boolean).length >= 2 ? req.path : undefined);
    queueName = form.get('QueueName') ?? undefined;
  }
  if (op === undefined) throw new UnmappedRequestError('SQS request without an operation (X-Amz-Target AmazonSQS.<Operation> or Action=)');
  const action = `sqs:${SQS_ACTION[op] ?? op}`;
  if (SQS_ACCOUNT_LEVEL.has(op)) return [{ action, resource: '*' }];
  if (queueUrl !== undefined) return [{ action, resource: queueArnFromUrl(queueUrl, ctx) }];
  if (queueName !== undefined) return [{ action, resource: `arn:aws:sqs:${ctx.region}:${ctx.accountId}:${queueName}` }];
  throw new UnmappedRequestError(`SQS ${op} without QueueUrl`);
}

// ---------------------------------------------------------------- SNS

/** SNS operations and their IAM action when it is not `sns:<Operation>` (PublishBatch is sns:Publish). */
const SNS_ACTION: Record<string, string> = { PublishBatch: 'Publish' };
/** Operations on the account, not on a topic (the service authorization reference lists no resource). */
const SNS_ACCOUNT_LEVEL = new Set(['ListTopics', 'ListSubscriptions', 'Unsubscribe', 'GetSubscriptionAttributes', 'SetSubscriptionAttributes', 'ListPlatformApplications', 'CheckIfPhoneNumberIsOptedOut']);

export function snsAuthorizations(req: RequestForIam, ctx: ArnContext): Authorization[] {
  const form = searchParams(`${req.query}&${Buffer.from(req.body).toString('utf8')}`);
  const op = form.get('Action');
  if (op === null) throw new UnmappedRequestError('SNS request without Action=');
  const action = `sns:${SNS_ACTION[op] ?? op}`;
  if (SNS_ACCOUNT_LEVEL.has(op)) return [{ action, resource: '*' }];
  const topic = form.get('TopicArn') ?? form.get('ResourceArn') ?? (op === 'CreateTopic' && form.get('Name') ? `arn:aws:sns:${ctx.region}:${ctx.accountId}:${form.get('Name')}` : null);
  if (topic === null) throw new UnmappedRequestError(`SNS ${op} without TopicArn`);
  return [{ action, resource: topic }];
}

// ---------------------------------------------------------------- S3

/** Bucket sub-resources (query flags) and the action for each method. */
const S3_BUCKET_SUBRESOURCES: Record<string, Partial<Record<string, string>>> = {
  policy: { GET: 'GetBucketPolicy', PUT: 'PutBucketPolicy', DELETE: 'DeleteBucketPolicy' },
  acl: { GET: 'GetBucketAcl', PUT: 'PutBucketAcl' },
  cors: { GET: 'GetBucketCORS', PUT: 'PutBucketCORS', DELETE: 'PutBucketCORS' },
  lifecycle: { GET: 'GetLifecycleConfiguration', PUT: 'PutLifecycleConfiguration', DELETE: 'PutLifecycleConfiguration' },
  versioning: { GET: 'GetBucketVersioning', PUT: 'PutBucketVersioning' },
  tagging: { GET: 'GetBucketTagging', PUT: 'PutBucketTagging', DELETE: 'PutBucketTagging' },
  notification: { GET: 'GetBucketNotification', PUT: 'PutBucketNotification' },
  location: { GET: 'GetBucketLocation' },
  encryption: { GET: 'GetEncryptionConfiguration', PUT: 'PutEncryptionConfiguration', DELETE: 'PutEncryptionConfiguration' },
  uploads: { GET: 'ListBucketMultipartUploads' },
  versions: { GET: 'ListBucketVersions' },
  publicAccessBlock: { GET: 'GetBucketPublicAccessBlock', PUT: 'PutBucketPublicAccessBlock', DELETE: 'PutBucketPublicAccessBlock' },
  ownershipControls: { GET: 'GetBucketOwnershipControls', PUT: 'PutBucketOwnershipControls', DELETE: 'PutBucketOwnershipControls' },
};

const S3_OBJECT_SUBRESOURCES: Record<string, Partial<Record<string, string>>> = {
  tagging: { GET: 'GetObjectTagging', PUT: 'PutObjectTagging', DELETE: 'DeleteObjectTagging' },
  acl: { GET: 'GetObjectAcl', PUT: 'PutObjectAcl' },
  retention: { GET: 'GetObjectRetention', PUT: 'PutObjectRetention' },
  'legal-hold': { GET: 'GetObjectLegalHold', PUT: 'PutObjectLegalHold' },
  attributes: { GET: 'GetObjectAttributes' },
};

function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Bucket and key of a path-style (`/bucket/key`) or virtual-hosted (`bucket.s3.host/key`) request. */
export function s3Address(req: Pick<RequestForIam, 'path' | 'headers'>): { bucket?: string; key?: string } {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  const vhost = /^(.+)\.s3[.-]/.exec(host)?.[1];
  const path = req.path.replace(/^\//, '');
  if (vhost !== undefined) return { bucket: vhost, ...(path !== '' ? { key: decodeKey(path) } : {}) };
  if (path === '') return {};
  const i = path.indexOf('/');
  if (i < 0 || i === path.length - 1) return { bucket: decodeKey(i < 0 ? path : path.slice(0, i)) };
  return { bucket: decodeKey(path.slice(0, i)), key: decodeKey(path.slice(i + 1)) };
}

export function s3Authorizations(req: RequestForIam): Authorization[] {
  const method = req.method.toUpperCase();
  const q = searchParams(req.query);
  const { bucket, key } = s3Address(req);
  if (bucket === undefined) {
    if (method === 'GET') return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
    throw new UnmappedRequestError(`S3 ${method} / is not an S3 operation`);
  }
  const bucketArn = `arn:aws:s3:::${bucket}`;
  if (key === undefined) {
    for (const [flag, actions] of Object.entries(S3_BUCKET_SUBRESOURCES)) {
      if (q.has(flag)) {
        const a = actions[method];
        if (a === undefined) throw new UnmappedRequestError(`S3 ${method} ?${flag} is not mapped`);
        return [{ action: `s3:${a}`, resource: bucketArn }];
      }
    }
    if (method === 'POST' && q.has('delete')) {
      // DeleteObjects: s3:DeleteObject on every key it names.
      const xml = Buffer.from(req.body).toString('utf8');
      const keys = [...xml.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'));
      return keys.map((k) => ({ action: 's3:DeleteObject', resource: `${bucketArn}/${k}` }));
    }
    switch (method) {
      case 'GET':
      case 'HEAD': {
        const prefix = q.get('prefix');
        return [{ action: 's3:ListBucket', resource: bucketArn, ...(prefix !== null ? { context: { 's3:prefix': prefix } } : {}) }];
      }
      case 'PUT':
        return [{ action: 's3:CreateBucket', resource: bucketArn }];
      case 'DELETE':
        return [{ action: 's3:DeleteBucket', resource: bucketArn }];
      default:
        throw new UnmappedRequestError(`S3 ${method} on a bucket is not mapped`);
    }
  }
  const objectArn = `${bucketArn}/${key}`;
  for (const [flag, actions] of Object.entries(S3_OBJECT_SUBRESOURCES)) {
    if (q.has(flag)) {
      const a = actions[method];
      if (a === undefined) throw new UnmappedRequestError(`S3 ${method} ?${flag} on an object is not mapped`);
      return [{ action: `s3:${a}`, resource: objectArn }];
    }
  }
  const versioned = q.has('versionId');
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (q.has('uploadId')) return [{ action: 's3:ListMultipartUploadParts', resource: objectArn }];
      return [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn }];
    case 'PUT': {
      const out: Authorization[] = [{ action: 's3:PutObject', resource: objectArn }];
      // CopyObject / UploadPartCopy also read the source.
      const source = req.headers['x-amz-copy-source'];
      if (source !== undefined) {
        const s = decodeKey(source.replace(/\?.*$/, '')).replace(/^\//, '');
        out.push({ action: 's3:GetObject', resource: `arn:aws:s3:::${s}` });
      }
      return out;
    }
    case 'POST':
      // CreateMultipartUpload (?uploads), CompleteMultipartUpload (?uploadId): both s3:PutObject.
      return [{ action: 's3:PutObject', resource: objectArn }];
    case 'DELETE':
      if (q.has('uploadId')) return [{ action: 's3:AbortMultipartUpload', resource: objectArn }];
      return [{ action: versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: objectArn }];
    default:
      throw new UnmappedRequestError(`S3 ${method} on an object is not mapped`);
  }
}

// ---------------------------------------------------------------- Lambda

export function lambdaAuthorizations(req: RequestForIam, ctx: ArnContext): Authorization[] {
  const m = /^\/\d{4}-\d\d-\d\d\/functions\/([^/]+)\/invocations$/.exec(req.path);
  if (m && req.method.toUpperCase() === 'POST') {
    const name = decodeKey(m[1]!);
    const resource = name.startsWith('arn:') ? name : `arn:aws:lambda:${ctx.region}:${ctx.accountId}:function:${name}`;
    return [{ action: 'lambda:InvokeFunction', resource }];
  }
  const c = /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config$/.exec(req.path);
  const op = ({ PUT: 'PutFunctionEventInvokeConfig', GET: 'GetFunctionEventInvokeConfig', POST: 'UpdateFunctionEventInvokeConfig', DELETE: 'DeleteFunctionEventInvokeConfig' } as Record<string, string>)[req.method.toUpperCase()];
  if (c && op) {
    const name = decodeKey(c[1]!);
    return [{ action: `lambda:${op}`, resource: name.startsWith('arn:') ? name : `arn:aws:lambda:${ctx.region}:${ctx.accountId}:function:${name}` }];
  }
  throw new UnmappedRequestError(`Lambda ${req.method} ${req.path} is not mapped (Invoke and the event-invoke-config operations are)`);
}

// ---------------------------------------------------------------- CloudWatch Logs

/**
 * logs:<Operation> on the log group's streams, in the form AWS names in its denials:
 * `arn:aws:logs:<region>:<account>:log-group:<group>:log-stream:<stream>` (stream empty for a group-level
 * read; group and stream empty for DescribeLogGroups), so `log-group:<group>:*` grants match.
 */
export function logsAuthorizations(req: RequestForIam, ctx: ArnContext): Authorization[] {
  const target = req.headers['x-amz-target'] ?? '';
  const op = /^Logs_20140328\.(\w+)$/.exec(target)?.[1];
  if (op === undefined) throw new UnmappedRequestError(`CloudWatch Logs request without a Logs_20140328.<Operation> X-Amz-Target (got "${target}")`);
  const body = jsonBody(req.body);
  const base = `arn:aws:logs:${ctx.region}:${ctx.accountId}:log-group:`;
  if (op === 'DescribeLogGroups') return [{ action: 'logs:DescribeLogGroups', resource: `${base}:log-stream:` }];
  const id = typeof body.logGroupName === 'string' ? body.logGroupName : typeof body.logGroupIdentifier === 'string' ? body.logGroupIdentifier : undefined;
  if (id === undefined) throw new UnmappedRequestError(`CloudWatch Logs ${op} without logGroupName`);
  const group = /^arn:[^:]+:logs:[^:]*:[^:]*:log-group:(.+?)(:\*)?$/.exec(id)?.[1] ?? id;
  const stream = op === 'GetLogEvents' && typeof body.logStreamName === 'string' ? body.logStreamName : '';
  return [{ action: `logs:${op}`, resource: `${base}${group}:log-stream:${stream}` }];
}

// ---------------------------------------------------------------- EventBridge

/** EventBridge operations on the account (no resource in the service authorization reference). */
const EVENTS_ACCOUNT_LEVEL = new Set(['ListRules', 'ListEventBuses', 'ListRuleNamesByTarget']);

export function eventsAuthorizations(req: RequestForIam, ctx: ArnContext): Authorization[] {
  const op = (req.headers['x-amz-target'] ?? '').replace(/^AWSEvents\./, '');
  if (op === '' || !(req.headers['x-amz-target'] ?? '').startsWith('AWSEvents.')) throw new UnmappedRequestError(`EventBridge ${req.method} ${req.path} is not mapped (the local admin only)`);
  const action = `events:${op}`;
  if (EVENTS_ACCOUNT_LEVEL.has(op)) return [{ action, resource: '*' }];
  const b = jsonBody(req.body);
  const busArn = (bus: unknown): string => {
    const n = typeof bus === 'string' && bus !== '' ? bus : 'default';
    return n.startsWith('arn:') ? n : `arn:aws:events:${ctx.region}:${ctx.accountId}:event-bus/${n}`;
  };
  if (op === 'PutEvents') {
    const entries = Array.isArray(b.Entries) ? (b.Entries as Array<Record<string, unknown>>) : [];
    return [...new Set(entries.map((e) => busArn(e.EventBusName)))].map((resource) => ({ action, resource }));
  }
  if (op === 'DescribeEventBus') return [{ action, resource: busArn(b.Name) }];
  const rule = String(b.Name ?? b.Rule ?? '');
  const bus = typeof b.EventBusName === 'string' && b.EventBusName !== '' && b.EventBusName !== 'default' ? `${String(b.EventBusName).split('/').pop()}/` : '';
  return [{ action, resource: `arn:aws:events:${ctx.region}:${ctx.accountId}:rule/${bus}${rule}` }];
}

/** Every authorization a request needs; throws UnmappedRequestError for what cannot be mapped (refused, not let through). */
export function authorizationsFor(req: RequestForIam, ctx: ArnContext): Authorization[] {
  switch (req.service) {
    case 'dynamodb':
      return dynamodbAuthorizations(req, ctx);
    case 'sqs':
      return sqsAuthorizations(req, ctx);
    case 'sns':
      return snsAuthorizations(req, ctx);
    case 's3':
      return s3Authorizations(req);
    case 'lambda':
      return lambdaAuthorizations(req, ctx);
    case 'logs':
      return logsAuthorizations(req, ctx);
    case 'events':
      return eventsAuthorizations(req, ctx);
  }
}
