/**
 * The comparison consumer: what a careful user would build with Powertools for AWS Lambda (TypeScript)
 * 2.35 instead of Floodgate, doing the SAME image work (parseJobMessage, renderImage with the default
 * renditions, sharp configured by configureSharp, renditions written to `renditions/{jobId}/`, the job
 * record marked completed) so that only the consumer machinery differs:
 *
 * - BatchProcessor + processPartialResponse: every record of the batch runs at once (Promise.all; the
 *   library has no concurrency limit), failures become batchItemFailures.
 * - makeIdempotent + DynamoDBPersistenceLayer keyed on the job id (`powertools_json(body).jobId`), on the
 *   stack's idempotency table (partition key `id`, same as Powertools' default).
 *
 * Deployed in the benchmark's own CDK app (bench/app.ts) through the stack's `workerEntry` prop, bundled
 * by NodejsFunction exactly like the Floodgate worker, and run by the same local stack.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { configureSharp, renderImage } from '../../lambda/image-worker/image/index';
import { PIPELINE_ENV, RENDITIONS_PREFIX, TABLE_ATTRIBUTES } from '../../lambda/shared/contract';
import { parseJobMessage, RENDITION_NAMES, type RenditionName } from '../../lambda/shared/job-message';
import { needsPathStyle } from '@floodgate/runtime';

/** What the record handler needs from the image module; the overhead benchmark swaps in a no-op. */
export type RenderFn = (
  input: Buffer,
  request: { renditions: RenditionName[] },
) => Promise<{ name: RenditionName; format: string; ext: string; contentType: string; width: number; height: number; bytes: number; data: Buffer }[]>;

export interface PowertoolsWorkerOptions {
  readonly env?: Record<string, string | undefined>;
  readonly render?: RenderFn;
  readonly dynamodb?: DynamoDBClient;
  readonly s3?: S3Client;
}

function required(env: Record<string, string | undefined>, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

export function createPowertoolsHandler(options: PowertoolsWorkerOptions = {}): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const env = options.env ?? process.env;
  const jobsTable = required(env, PIPELINE_ENV.jobsTable);
  const idempotencyTable = required(env, PIPELINE_ENV.idempotencyTable);
  const uploadsBucket = required(env, PIPELINE_ENV.uploadsBucket);
  const renditionsBucket = required(env, PIPELINE_ENV.renditionsBucket);
  const render: RenderFn = options.render ?? renderImage;
  const dynamodb = options.dynamodb ?? new DynamoDBClient({});
  const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  const s3 = options.s3 ?? new S3Client(needsPathStyle(env) ? { forcePathStyle: true } : {});
  const logger = new Logger({ serviceName: 'powertools-image-worker' });

  const processor = new BatchProcessor(EventType.SQS);
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: idempotencyTable,
    keyAttr: TABLE_ATTRIBUTES.idempotency.partitionKey,
    expiryAttr: TABLE_ATTRIBUTES.idempotency.ttl,
    awsSdkV3Client: dynamodb,
  });
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'powertools_json(body).jobId' });

  const recordHandler = async (record: SQSRecord): Promise<void> => {
    const job = parseJobMessage(record.body);
    const source = await s3.send(new GetObjectCommand({ Bucket: uploadsBucket, Key: job.sourceKey }));
    const input = Buffer.from(await source.Body!.transformToByteArray());
    const outputs = await render(input, { renditions: job.renditions ?? [...RENDITION_NAMES] });
    const renditions = await Promise.all(
      outputs.map(async (o) => {
        const key = `${RENDITIONS_PREFIX}${job.jobId}/${o.name}.${o.ext}`;
        await s3.send(new PutObjectCommand({ Bucket: renditionsBucket, Key: key, Body: o.data, ContentType: o.contentType }));
        return { name: o.name, key, width: o.width, height: o.height, bytes: o.bytes, format: o.format };
      }),
    );
    const now = new Date().toISOString();
    await documents.send(
      new UpdateCommand({
        TableName: jobsTable,
        Key: { [TABLE_ATTRIBUTES.jobs.partitionKey]: job.jobId },
        UpdateExpression: 'SET #s = :s, renditions = :r, updatedAt = :u',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': 'completed', ':r': renditions, ':u': now },
      }),
    );
    logger.info('job completed', { jobId: job.jobId, messageId: record.messageId, renditions: renditions.length });
  };

  const processIdempotently = makeIdempotent(recordHandler, { persistenceStore, config });

  return async (event, context) => {
    config.registerLambdaContext(context);
    return processPartialResponse(event, processIdempotently, processor, { context });
  };
}

let cached: ((event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) | undefined;

/** Lambda entry point. Clients and sharp are set up once per execution environment (cold start). */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  if (cached === undefined) {
    configureSharp();
    cached = createPowertoolsHandler();
  }
  return cached(event, context);
};
