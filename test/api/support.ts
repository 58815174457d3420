/** Per-test AWS resources on the emulators for the job API tests, and a handler wired to them. */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { LOCAL_CREDENTIALS } from '@floodgate/local';
import { TABLE_ATTRIBUTES } from '../../lambda/shared/contract';
import { createJobApi, type JobApiDeps } from '../../lambda/job-api/app';
import { dynamoIdempotencyStore, dynamoJobStore, s3Presigner, sqsJobQueue } from '../../lambda/job-api/aws-adapters';
import { Logger } from '@aws-lambda-powertools/logger';
import { localClients, localEndpoints } from '../support/local-env';

export interface ApiResources {
  readonly jobsTable: string;
  readonly idempotencyTable: string;
  readonly uploadsBucket: string;
  readonly renditionsBucket: string;
  readonly queueUrl: string;
}

export async function createApiResources(): Promise<ApiResources> {
  const { dynamodb, s3, sqs } = localClients();
  const suffix = randomUUID().slice(0, 8);
  const table = async (name: string, key: string) => {
    await dynamodb.send(new CreateTableCommand({ TableName: name, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }], KeySchema: [{ AttributeName: key, KeyType: 'HASH' }] }));
    return name;
  };
  const [jobsTable, idempotencyTable] = await Promise.all([
    table(`jobs-${suffix}`, TABLE_ATTRIBUTES.jobs.partitionKey),
    table(`idem-${suffix}`, TABLE_ATTRIBUTES.idempotency.partitionKey),
  ]);
  const uploadsBucket = `uploads-${suffix}`;
  const renditionsBucket = `renditions-${suffix}`;
  await s3.send(new CreateBucketCommand({ Bucket: uploadsBucket }));
  await s3.send(new CreateBucketCommand({ Bucket: renditionsBucket }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `jobs-${suffix}` }));
  if (QueueUrl === undefined) throw new Error('no queue url');
  return { jobsTable, idempotencyTable, uploadsBucket, renditionsBucket, queueUrl: QueueUrl };
}

export function presigningS3(): S3Client {
  const e = localEndpoints();
  return new S3Client({ region: e.region, endpoint: e.s3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

/** Real AWS adapters on the emulators; override any port (e.g. a queue that crashes) per test. */
export function realDeps(r: ApiResources, overrides: Partial<JobApiDeps> = {}): JobApiDeps {
  const { dynamodb, sqs } = localClients();
  return {
    // The store's clock is the API's: lease expiry is judged by the persistence.
    idempotency: dynamoIdempotencyStore(dynamodb, r.idempotencyTable, overrides.now),
    jobs: dynamoJobStore(dynamodb, r.jobsTable),
    queue: sqsJobQueue(sqs, r.queueUrl),
    presigner: s3Presigner(presigningS3(), r.uploadsBucket, r.renditionsBucket),
    logger: silentLogger(),
    ...overrides,
  };
}

/** Powertools Logger that writes nothing (the tests assert responses and AWS state). */
export const silentLogger = () => new Logger({ serviceName: 'job-api-test', logLevel: 'SILENT' });

export function apiFor(r: ApiResources, overrides: Partial<JobApiDeps> = {}, leaseMs = 30_000) {
  return createJobApi({ maxUploadBytes: 5 * 1024 * 1024, leaseMs }, realDeps(r, overrides));
}

/** A minimal but faithful API Gateway v2 event for a route. */
export function event(routeKey: string, opts: { body?: unknown; headers?: Record<string, string>; pathParameters?: Record<string, string> } = {}): APIGatewayProxyEventV2 {
  const [method = 'GET', path = '/'] = routeKey.split(' ');
  const rawPath = opts.pathParameters?.jobId === undefined ? path : path.replace('{jobId}', opts.pathParameters.jobId);
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: '',
    headers: opts.headers ?? {},
    ...(opts.pathParameters === undefined ? {} : { pathParameters: opts.pathParameters }),
    ...(opts.body === undefined ? {} : { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000', apiId: 'local', domainName: 'localhost', domainPrefix: 'localhost',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: randomUUID(), routeKey, stage: '$default', time: '', timeEpoch: Date.now(),
    },
  };
}

/** Every message currently on the queue (receives until empty; leaves them in flight). */
export async function drainQueue(queueUrl: string): Promise<string[]> {
  const { sqs } = localClients();
  const bodies: string[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300 }));
    if (!out.Messages?.length) return bodies;
    bodies.push(...out.Messages.map((m) => m.Body ?? ''));
  }
}
