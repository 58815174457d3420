import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Size, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import {
  ARCH_CONTEXT,
  PIPELINE_ENV,
  RENDITIONS_PREFIX,
  STACK_OUTPUTS,
  TABLE_ATTRIBUTES,
  UPLOADS_PREFIX,
} from '../lambda/shared/contract';
import { BoundedQueueConsumer } from '@floodgate/cdk';
import { IdempotencyTable } from '@floodgate/cdk';
import { JobApi } from './job-api';
import { LockTable } from '@floodgate/cdk';

const IMAGE_WORKER_ENTRY = fileURLToPath(new URL('../lambda/image-worker/handler.ts', import.meta.url));
/** Files copied into the worker asset so text watermarks have a font on Lambda (see lambda/image-worker/image/fonts.ts). */
export const WORKER_FONT_FILES: Readonly<Record<string, string>> = {
  'fonts/fonts.conf': fileURLToPath(new URL('../lambda/image-worker/fonts/fonts.conf', import.meta.url)),
  // Bold: the watermark text is drawn bold.
  'fonts/DejaVuSans-Bold.ttf': createRequire(import.meta.url).resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf'),
};

/** Properties of the {@link ImagePipelineStack}. */
export interface ImagePipelineStackProps extends StackProps {
  /**
   * Instruction set of the image worker (sharp is installed for it).
   * @default - the `floodgate:architecture` context value, else arm64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Uploads under `uploads/` that no job consumed are deleted after this long.
   * @default Duration.days(7)
   */
  readonly uploadExpiration?: Duration;
  /**
   * Removal policy of the buckets and tables (data).
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /**
   * Image worker: executions at once (event-source cap = reserved concurrency).
   * @default 10
   */
  readonly workerMaxConcurrency?: number;
  /**
   * Image worker memory (MB); 2,048 MB gives one full vCPU to libvips.
   * @default 2048
   */
  readonly workerMemorySize?: number;
  /**
   * Image worker timeout.
   * @default Duration.seconds(60)
   */
  readonly workerTimeout?: Duration;
  /**
   * Entry file (TypeScript, exporting `handler`) of the image worker function. Exists so the benchmark
   * can deploy a comparison consumer in the very same stack (bench/app.ts); applications keep the default.
   * @default - lambda/image-worker/handler.ts (the Floodgate worker)
   */
  readonly workerEntry?: string;
  /**
   * Give the worker the idempotency table (environment and item grant). The Floodgate worker claims jobs
   * on the job record and needs no other table; the benchmark's Powertools worker keeps its claims there.
   * @default false
   */
  readonly workerUsesIdempotencyTable?: boolean;
  /**
   * Largest source image, one number for the job API (a declared upload size above it is a 400, one
   * within it is signed into the presigned URL) and the worker (a larger source fails TooLarge).
   * @default Size.mebibytes(20)
   */
  readonly maxUploadSize?: Size;
}

/**
 * Reads `floodgate:architecture` (arm64 | x86_64). arm64 is the default: Graviton runs libvips at a
 * better price/performance and Lambda bills arm64 GB-seconds about 20 % cheaper.
 */
export function architectureFromContext(scope: IConstruct): lambda.Architecture {
  const value: unknown = scope.node.tryGetContext(ARCH_CONTEXT) ?? 'arm64';
  if (value === 'arm64') return lambda.Architecture.ARM_64;
  if (value === 'x86_64') return lambda.Architecture.X86_64;
  throw new Error(`Context ${ARCH_CONTEXT} must be 'arm64' or 'x86_64', got ${JSON.stringify(value)}.`);
}

/**
 * The image pipeline: uploads land in a private bucket, a job message goes to a bounded queue, the image
 * worker (sharp) writes renditions to a second bucket and records the job in DynamoDB, guarded by an
 * idempotency table and a lease table. Every name a client needs is a stack output (`STACK_OUTPUTS`).
 */
export class ImagePipelineStack extends Stack {
  /** Server access logs of the data buckets. */
  readonly accessLogsBucket: s3.Bucket;
  /** Original images, under `uploads/`. */
  readonly uploadsBucket: s3.Bucket;
  /** Generated renditions, under `renditions/{jobId}/`. */
  readonly renditionsBucket: s3.Bucket;
  /** Job records, partition key `jobId`. */
  readonly jobsTable: dynamodb.TableV2;
  readonly idempotencyTable: IdempotencyTable;
  readonly lockTable: LockTable;
  /** The image worker: job queue, dead-letter queue, function, event source, alarms. */
  readonly worker: BoundedQueueConsumer;
  readonly dashboard: cloudwatch.Dashboard;
  /** The job API (producer side): presigned uploads, jobs with Idempotency-Key, job status. */
  readonly api: JobApi;

  /** The job queue (the worker's source queue): producers send job messages here. */
  get jobQueue(): sqs.IQueue {
    return this.worker.queue;
  }

  constructor(scope: Construct, id: string, props: ImagePipelineStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      ...privateBucketDefaults(removalPolicy),
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });
    this.uploadsBucket = new s3.Bucket(this, 'UploadsBucket', {
      ...privateBucketDefaults(removalPolicy),
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'uploads-bucket/',
      lifecycleRules: [
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-abandoned-uploads', prefix: UPLOADS_PREFIX, expiration: props.uploadExpiration ?? Duration.days(7) },
      ],
    });
    this.renditionsBucket = new s3.Bucket(this, 'RenditionsBucket', {
      ...privateBucketDefaults(removalPolicy),
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'renditions-bucket/',
      lifecycleRules: [{ id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });

    this.jobsTable = new dynamodb.TableV2(this, 'JobsTable', {
      partitionKey: { name: TABLE_ATTRIBUTES.jobs.partitionKey, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: TABLE_ATTRIBUTES.jobs.ttl,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      removalPolicy,
    });
    this.idempotencyTable = new IdempotencyTable(this, 'IdempotencyTable', { removalPolicy });
    this.lockTable = new LockTable(this, 'LockTable', { removalPolicy });

    const maxUploadSize = props.maxUploadSize ?? Size.mebibytes(20);
    this.worker = new BoundedQueueConsumer(this, 'ImageWorker', {
      entry: props.workerEntry ?? IMAGE_WORKER_ENTRY,
      architecture: props.architecture ?? architectureFromContext(this),
      nodeModules: ['sharp'],
      // Text watermarks need a font and the Lambda runtime has none: ship DejaVu Sans and a fonts.conf
      // beside the bundle (the handler points FONTCONFIG_FILE at it at cold start).
      assetFiles: WORKER_FONT_FILES,
      memorySize: props.workerMemorySize ?? 2048,
      timeout: props.workerTimeout ?? Duration.seconds(60),
      maxConcurrency: props.workerMaxConcurrency ?? 10,
      batchSize: 10,
      environment: {
        [PIPELINE_ENV.jobsTable]: this.jobsTable.tableName,
        ...(props.workerUsesIdempotencyTable ? { [PIPELINE_ENV.idempotencyTable]: this.idempotencyTable.tableName } : {}),
        [PIPELINE_ENV.uploadsBucket]: this.uploadsBucket.bucketName,
        [PIPELINE_ENV.renditionsBucket]: this.renditionsBucket.bucketName,
        [PIPELINE_ENV.maxUploadBytes]: String(maxUploadSize.toBytes()),
        // glibc malloc arenas fragment under libvips threads; 2 keeps RSS flat (sharp's recommendation).
        MALLOC_ARENA_MAX: '2',
      },
    });
    this.grantWorkerAccess(this.worker.function, props.workerUsesIdempotencyTable === true);

    this.dashboard = this.createDashboard();

    this.api = new JobApi(this, 'JobApi', {
      jobsTable: this.jobsTable,
      idempotencyTable: this.idempotencyTable.table,
      uploadsBucket: this.uploadsBucket,
      renditionsBucket: this.renditionsBucket,
      queue: this.worker.queue,
      maxUploadSize,
    });

    const outputs: Record<string, string> = {
      [STACK_OUTPUTS.uploadsBucket]: this.uploadsBucket.bucketName,
      [STACK_OUTPUTS.renditionsBucket]: this.renditionsBucket.bucketName,
      [STACK_OUTPUTS.jobQueueUrl]: this.worker.queue.queueUrl,
      [STACK_OUTPUTS.deadLetterQueueUrl]: this.worker.deadLetterQueue.queueUrl,
      [STACK_OUTPUTS.jobsTable]: this.jobsTable.tableName,
      [STACK_OUTPUTS.idempotencyTable]: this.idempotencyTable.tableName,
      [STACK_OUTPUTS.lockTable]: this.lockTable.tableName,
      [STACK_OUTPUTS.workerFunction]: this.worker.function.functionName,
      [STACK_OUTPUTS.dashboard]: this.dashboard.dashboardName,
      [STACK_OUTPUTS.apiUrl]: this.api.url,
    };
    for (const [key, value] of Object.entries(outputs)) new CfnOutput(this, key, { value });
  }

  /** Least privilege: object reads under `uploads/`, writes under `renditions/`, item access to the tables. */
  private grantWorkerAccess(fn: lambda.IFunction, idempotencyTable: boolean): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.uploadsBucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
      }),
    );
    // ListBucket on the prefix only, so a missing source is a 404 (SourceNotFound), not a 403.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.uploadsBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${UPLOADS_PREFIX}*`] } },
      }),
    );
    // Delete: a job that fails after writing some renditions removes them (nothing half-published).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: [this.renditionsBucket.arnForObjects(`${RENDITIONS_PREFIX}*`)],
      }),
    );
    // AwsSolutions-IAM5 flags the object ARNs' trailing `*`: it is a key-prefix scope, not a wildcard action.
    const role = fn.role;
    if (role) {
      for (const [bucket, prefix, why] of [
        [this.uploadsBucket, UPLOADS_PREFIX, 'reads any source image a job names under uploads/ (keys are generated per upload)'],
        [this.renditionsBucket, RENDITIONS_PREFIX, 'writes renditions/{jobId}/{name}.{ext} for jobs not known at deploy time'],
      ] as const) {
        const logicalId = this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`,
          reason: `The image worker role ${why}; the grant is limited to that key prefix and to object actions.`,
        });
      }
    }
    // The job record is the worker's claim (one item per job): it needs no other table.
    this.jobsTable.grantReadWriteData(fn);
    if (idempotencyTable) this.idempotencyTable.grantReadWrite(fn);
  }

  private createDashboard(): cloudwatch.Dashboard {
    const w = this.worker;
    const reserved = w.settings.reservedConcurrency;
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, ...extra });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      graph('Job queue depth and in flight', [
        w.metricQueueDepth({ label: 'visible' }),
        w.metricMessagesInFlight({ label: 'in flight' }),
      ]),
      graph('Age of oldest message (s)', [w.metricAgeOfOldestMessage()], {
        leftAnnotations: [{ value: w.ageOfOldestMessageThreshold.toSeconds(), label: 'alarm threshold' }],
      }),
    );
    dashboard.addWidgets(
      graph('Concurrent executions', [w.metricConcurrentExecutions()], {
        leftAnnotations: [{ value: reserved, label: `reserved concurrency (${reserved})` }],
      }),
      graph('Dead-letter queue depth', [w.metricDeadLetterQueueDepth()]),
    );
    dashboard.addWidgets(
      graph('Errors and throttles', [w.metricErrors({ label: 'errors' }), w.metricThrottles({ label: 'throttles' })], {
        width: 24,
      }),
    );
    return dashboard;
  }
}

function privateBucketDefaults(removalPolicy: RemovalPolicy): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    versioned: false,
    removalPolicy,
  };
}
