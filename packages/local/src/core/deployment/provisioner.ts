/**
 * One provisioner per CloudFormation resource type (or family): what the local deployer does with it.
 * Adding a type means one new file here and one entry in index.ts.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { CfnResource } from './assembly.js';
import type { PhysicalResource } from './intrinsics.js';

export interface DeployedFunction {
  readonly logicalId: string;
  readonly functionName: string;
  readonly assetDir: string;
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Record<string, string>;
  readonly architectures: readonly string[];
  /** ReservedConcurrentExecutions, when the template sets it. */
  readonly reservedConcurrency?: number;
  /** The execution role's ARN (Role), when the template sets it. */
  readonly roleArn?: string;
  /** DeadLetterConfig.TargetArn (an SQS queue or SNS topic for failed asynchronous events), when set. */
  readonly deadLetterTargetArn?: string;
}

export interface DeployedEventSourceMapping {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  readonly queueLogicalId: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  /** ScalingConfig.MaximumConcurrency, when set. */
  readonly maximumConcurrency?: number;
  readonly reportBatchItemFailures: boolean;
  readonly enabled: boolean;
  /** FilterCriteria as in the template (`{ Filters: [{ Pattern }] }`), for the poller to apply. */
  readonly filterCriteria?: { readonly Filters?: ReadonlyArray<{ readonly Pattern?: string }> };
  /** ProvisionedPollerConfig (provisioned mode), when set. */
  readonly provisionedPollerConfig?: { readonly minimumPollers?: number; readonly maximumPollers?: number };
}

/** A resource that is recorded, not created: IAM and resource policies (for IAM evaluation and tools). */
export interface RecordedResource {
  readonly logicalId: string;
  readonly type: string;
  /** Properties with every intrinsic resolved. */
  readonly properties: Readonly<Record<string, unknown>>;
}

/** What the deployer does with a type: created in the target, run by the local stack, recorded, ... */
export type ProvisionKind = 'created' | 'run' | 'recorded' | 'served-by-api-front' | 'not-emulated';

export interface ProvisionContext {
  readonly logicalId: string;
  readonly resource: CfnResource;
  /** Properties with every intrinsic resolved. */
  readonly props: Record<string, unknown>;
  /** Per-deployment physical name prefix. */
  readonly prefix: string;
  readonly region: string;
  readonly accountId: string;
  readonly assemblyDir: string;
  readonly clients: { readonly sqs: SQSClient; readonly s3: S3Client; readonly dynamodb: DynamoDBClient; readonly sns: SNSClient };
  /** Resources created so far (every dependency of this one). */
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  readonly log: (line: string) => void;
  /** `arn:aws:<service>:<region>:<account>:<resource>` (region left empty when `withRegion` is false). */
  arn(service: string, resource: string, withRegion?: boolean): string;
}

export interface ProvisionResult {
  /** What Ref and Fn::GetAtt return for this resource. */
  readonly physical: PhysicalResource;
  readonly function?: DeployedFunction;
  readonly eventSourceMapping?: DeployedEventSourceMapping;
  readonly recorded?: RecordedResource;
  /** Deletes what was created (destroy()). */
  readonly destroy?: () => Promise<void>;
}

export interface Provisioner {
  /** Resource types handled (exact), or a predicate for families (`AWS::ApiGatewayV2::*`, `Custom::*`). */
  readonly handles: readonly string[] | ((type: string) => boolean);
  readonly kind: ProvisionKind;
  provision(ctx: ProvisionContext): Promise<ProvisionResult>;
}
