import { fileURLToPath } from 'node:url';
import { Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { createFloodgateFunction } from '@floodgate/cdk';
import { PIPELINE_ENV, RENDITIONS_PREFIX, UPLOADS_PREFIX } from '../lambda/shared/contract';

const JOB_API_ENTRY = fileURLToPath(new URL('../lambda/job-api/handler.ts', import.meta.url));
/** Same name as `JOB_API_LEASE_MS_ENV` in lambda/job-api/handler.ts (not imported: it pulls the SDK in). */
const LEASE_MS_ENV = 'FLOODGATE_API_LEASE_MS';

/** The routes of the job API (route keys as API Gateway writes them). */
export const JOB_API_ROUTES = ['POST /uploads', 'POST /jobs', 'GET /jobs/{jobId}'] as const;

/** Properties of a {@link JobApi}. */
export interface JobApiProps {
  /** Job records (partition key `jobId`); the API creates them `queued` and reads them. */
  readonly jobsTable: dynamodb.ITableV2;
  /** Idempotency records (partition key `id`); the API uses keys `api#<Idempotency-Key>`. */
  readonly idempotencyTable: dynamodb.ITableV2;
  /** Bucket that receives uploads; the API presigns PUTs under `uploads/` only. */
  readonly uploadsBucket: s3.IBucket;
  /** Bucket of renditions; the API presigns GETs under `renditions/` only. */
  readonly renditionsBucket: s3.IBucket;
  /** The job queue the API sends v1 job messages to. */
  readonly queue: sqs.IQueue;
  /**
   * Steady-state requests per second of the stage (all routes together); above it API Gateway answers 429.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst capacity of the stage's token bucket (requests). Must be at least 1.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Largest upload accepted: a declared `contentLength` above it is refused with 400, and one within it is
   * signed into the presigned URL; without a declared length the worker refuses larger sources (TooLarge).
   * @default Size.mebibytes(20)
   */
  readonly maxUploadSize?: Size;
  /**
   * Function timeout. The Idempotency-Key lease is this plus 5 s, so a live request is never taken over.
   * API Gateway HTTP APIs give up after 30 s, so at most 29 s.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Function memory (MB).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Instruction set of the function.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Retention of the function's logs and of the access logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The producer side of the pipeline: an API Gateway HTTP API whose every route requires SigV4 (IAM)
 * authorization, with stage throttling (429 at the door), JSON access logs, and one Lambda function with
 * least-privilege access: PutObject under `uploads/`, GetObject under `renditions/`, item reads and writes
 * on the two tables, SendMessage on the queue.
 */
export class JobApi extends Construct {
  /** The HTTP API. */
  readonly httpApi: apigwv2.HttpApi;
  /** The `$default` stage (throttled, access-logged). */
  readonly stage: apigwv2.HttpStage;
  /** The handler of all routes. */
  readonly function: nodejs.NodejsFunction;
  /** Access logs of the stage (one JSON object per request). */
  readonly accessLogGroup: logs.LogGroup;
  /** Rate limit applied to the stage (requests per second). */
  readonly throttlingRateLimit: number;
  /** Burst limit applied to the stage. */
  readonly throttlingBurstLimit: number;

  constructor(scope: Construct, id: string, props: JobApiProps) {
    super(scope, id);
    const rate = props.throttlingRateLimit ?? 50;
    const burst = props.throttlingBurstLimit ?? 100;
    if (!(rate > 0)) throw new Error(`JobApi ${this.node.path}: throttlingRateLimit must be > 0 (got ${rate}); set a positive requests-per-second.`);
    if (!Number.isInteger(burst) || burst < 1) throw new Error(`JobApi ${this.node.path}: throttlingBurstLimit must be an integer >= 1 (got ${burst}).`);
    const timeout = props.timeout ?? Duration.seconds(10);
    if (timeout.toSeconds() > 29) throw new Error(`JobApi ${this.node.path}: timeout must be at most 29 seconds (API Gateway HTTP APIs time out at 30 s); got ${timeout.toSeconds()} s.`);
    const maxUploadBytes = (props.maxUploadSize ?? Size.mebibytes(20)).toBytes();
    if (maxUploadBytes > 5 * 1024 ** 3) throw new Error(`JobApi ${this.node.path}: maxUploadSize must be at most 5 GiB (the single PUT limit of S3).`);
    this.throttlingRateLimit = rate;
    this.throttlingBurstLimit = burst;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    const { fn, role } = createFloodgateFunction(this, {
      entry: JOB_API_ENTRY,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      timeout,
      memorySize: props.memorySize ?? 512,
      logRetention: retention,
      roleDescription: `Job API handler of ${Stack.of(this).stackName}/${this.node.path}`,
      environment: {
        [PIPELINE_ENV.jobsTable]: props.jobsTable.tableName,
        [PIPELINE_ENV.idempotencyTable]: props.idempotencyTable.tableName,
        [PIPELINE_ENV.uploadsBucket]: props.uploadsBucket.bucketName,
        [PIPELINE_ENV.renditionsBucket]: props.renditionsBucket.bucketName,
        [PIPELINE_ENV.jobQueueUrl]: props.queue.queueUrl,
        [PIPELINE_ENV.maxUploadBytes]: String(maxUploadBytes),
        [LEASE_MS_ENV]: String(timeout.toMilliseconds() + 5000),
      },
    });
    this.function = fn;
    this.grantHandlerAccess(props, role);

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Floodgate job API (SigV4-authorized)',
      createDefaultStage: false,
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    const integration = new HttpLambdaIntegration('Handler', this.function, { payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0 });
    for (const routeKey of JOB_API_ROUTES) {
      const [method, path] = routeKey.split(' ') as [string, string];
      this.httpApi.addRoutes({ path, methods: [method as apigwv2.HttpMethod], integration, authorizer: new HttpIamAuthorizer() });
    }

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: rate, burstLimit: burst },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.userArn',
            method: '$context.httpMethod',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            error: '$context.error.message',
          }),
        ),
      },
    });
  }

  /** The API's base URL (the `$default` stage). */
  get url(): string {
    return this.stage.url;
  }

  /** Lets `grantee` call every route (execute-api:Invoke on this API's `$default` stage only). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [
        Stack.of(this).formatArn({ service: 'execute-api', resource: this.httpApi.apiId, resourceName: '$default/*' }),
      ],
    });
  }

  /** Requests answered 4xx (429 throttling included). */
  metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stage.metricClientError({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** Requests answered 5xx. */
  metricServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stage.metricServerError({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** Request count. */
  metricCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stage.metricCount({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** End-to-end latency (p99 by default). */
  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stage.metricLatency({ statistic: 'p99', period: Duration.minutes(1), ...props });
  }

  private grantHandlerAccess(props: JobApiProps, role: iam.Role): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.uploadsBucket.arnForObjects(`${UPLOADS_PREFIX}*`)] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.renditionsBucket.arnForObjects(`${RENDITIONS_PREFIX}*`)] }));
    props.uploadsBucket.encryptionKey?.grant(role, 'kms:GenerateDataKey', 'kms:Encrypt');
    props.renditionsBucket.encryptionKey?.grant(role, 'kms:Decrypt');
    // Conditional create/read of job records; claim, take over, complete, release of idempotency keys.
    props.jobsTable.grant(role, 'dynamodb:GetItem', 'dynamodb:PutItem');
    props.idempotencyTable.grant(role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    for (const table of [props.jobsTable, props.idempotencyTable]) table.encryptionKey?.grant(role, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    props.queue.grantSendMessages(role);

    for (const [bucket, prefix, why] of [
      [props.uploadsBucket, UPLOADS_PREFIX, 'presigns PUTs for keys generated per upload'],
      [props.renditionsBucket, RENDITIONS_PREFIX, 'presigns GETs of renditions/{jobId}/... for jobs created at run time'],
    ] as const) {
      const arn = Stack.of(this).resolve(bucket.bucketArn) as unknown;
      const token = typeof arn === 'object' && arn !== null && 'Fn::GetAtt' in arn ? `<${(arn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]}.Arn>` : String(arn);
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${token}/${prefix}*]`,
        reason: `The job API role ${why}; the grant is one object action limited to the ${prefix} key prefix.`,
      });
    }
  }
}
