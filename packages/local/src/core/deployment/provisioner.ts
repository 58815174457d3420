/**
 * One provisioner per CloudFormation resource type (or family): what the local deployer does with it.
 * Adding a type means one new file in its service folder (services/<service>/) and one entry in
 * services/provisioners.ts.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { CfnResource, CfnTemplate } from './assembly.js';
import type { PhysicalResource } from './intrinsics.js';
import type { NameRules } from './values.js';

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
  /** LoggingConfig.LogGroup, when the template sets it (else Lambda writes to `/aws/lambda/<name>`). */
  readonly logGroupName?: string;
  /** LoggingConfig.LogFormat, when the template sets it. */
  readonly logFormat?: 'Text' | 'JSON';
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

/** A DynamoDB Streams AWS::Lambda::EventSourceMapping, as the stream poller runs it. */
export interface DeployedStreamEventSourceMapping {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  /** The function's ARN (for the on-failure record's requestContext.functionArn). */
  readonly functionArn: string;
  /** The stream ARN in the stack's region and account (as GetAtt Table.StreamArn gives it). */
  readonly streamArn: string;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly parallelizationFactor: number;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1 = until the record expires. */
  readonly maximumRetryAttempts: number;
  /** -1 = never. */
  readonly maximumRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly enabled: boolean;
  readonly filterCriteria?: { readonly Filters?: ReadonlyArray<{ readonly Pattern?: string }> };
  /** DestinationConfig.OnFailure.Destination: an SQS queue or SNS topic ARN. */
  readonly onFailure?: { readonly arn: string; readonly kind: 'sqs' | 'sns'; readonly queueUrl?: string };
}

/** A resource that is recorded, not created: IAM and resource policies (for IAM evaluation and tools). */
export interface RecordedResource {
  readonly logicalId: string;
  readonly type: string;
  /** Properties with every intrinsic resolved. */
  readonly properties: Readonly<Record<string, unknown>>;
}

/** What the deployer does with a type: created in the target, run by the local stack, recorded, ... */
export type ProvisionKind = 'created' | 'run' | 'recorded' | 'served-by-api-front' | 'not-emulated' | 'unsupported';

/** How a function run during the deployment ended (custom resources run their handlers then). */
export type FunctionOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly errorType: string; readonly errorMessage: string };

/** Running functions of this stack from a provisioner (bound to the deployment's progress). */
export interface ProvisionLambda {
  readonly endpoint: string;
  invoke(fn: DeployedFunction, event: unknown): Promise<FunctionOutcome>;
}

export interface ProvisionContext {
  readonly logicalId: string;
  readonly resource: CfnResource;
  /** Properties with every intrinsic resolved. */
  readonly props: Record<string, unknown>;
  /** The name prefix for a shared endpoint (`--name-prefix`), or '' (names as written). */
  readonly prefix: string;
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  /** The cloud assembly directory; absent when the template came through the CloudFormation API (code is then in S3). */
  readonly assemblyDir?: string;
  readonly clients: { readonly sqs: SQSClient; readonly s3: S3Client; readonly dynamodb: DynamoDBClient; readonly sns: SNSClient };
  /** Resources created so far (every dependency of this one). */
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  readonly log: (line: string) => void;
  /** The endpoint the resources are created on (for services without an SDK client here, e.g. SSM). */
  readonly endpoint: string;
  /** `arn:aws:<service>:<region>:<account>:<resource>` (region left empty when `withRegion` is false). */
  arn(service: string, resource: string, withRegion?: boolean): string;
  /** Functions deployed so far (every dependency of this resource). */
  readonly functions: readonly DeployedFunction[];
  /** Runs this stack's functions now; absent when the deployer was given no Lambda host. */
  readonly lambda?: ProvisionLambda;
  /**
   * This resource's physical name: `explicit` (the template's name property) kept exactly, else a
   * CloudFormation-style `<stack>-<logicalId>-<RANDOM>` within `rules` (values.ts resourceName).
   */
  name(explicit: unknown, rules: NameRules): string;
}

/**
 * The clients `ProvisionResult.empty` uses: straight to the emulators when the stack runs on them (the
 * reset is the stack's own housekeeping: no hop through the gateway, no signature check), else the
 * provisioning clients.
 */
export interface EmptyClients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
}

export interface ProvisionResult {
  /** What Ref and Fn::GetAtt return for this resource. */
  readonly physical: PhysicalResource;
  readonly function?: DeployedFunction;
  readonly eventSourceMapping?: DeployedEventSourceMapping;
  readonly streamEventSourceMapping?: DeployedStreamEventSourceMapping;
  readonly recorded?: RecordedResource;
  /** Deletes what was created (destroy()). */
  readonly destroy?: () => Promise<void>;
  /**
   * Empties what was created and keeps it (the reset: messages, items, objects); resolves with the
   * number of items or objects deleted (0 where a whole store is purged at once).
   */
  readonly empty?: (clients: EmptyClients) => Promise<number>;
  /**
   * What deleting the stack runs on the stack's own functions (a custom resource's Delete): run by
   * LocalDeployment.teardown() in reverse creation order while the Lambda host still runs, and on a
   * failed deployment's rollback.
   */
  readonly teardown?: () => Promise<void>;
}

/** A shape a provisioner cannot run (checked before anything is created). */
export interface ProvisionRefusal {
  /** What will not happen locally, e.g. "S3 sends no event notification for this bucket". */
  readonly consequence: string;
  /**
   * With --allow-unsupported: true gives the resource a placeholder Ref/Arn instead of provisioning it;
   * false provisions it without the part refused.
   */
  readonly placeholder?: boolean;
}

export interface Provisioner {
  /** Resource types handled (exact), or a predicate for families (`AWS::ApiGatewayV2::*`, `Custom::*`). */
  readonly handles: readonly string[] | ((type: string) => boolean);
  readonly kind: ProvisionKind;
  /**
   * provision() with the name it gave before updates that resource in place (create-or-update): an
   * update of the stack then keeps it instead of replacing it. @default false for 'created' kinds
   */
  readonly updatesInPlace?: boolean;
  /** Refuses, before anything is created, a shape of the type this provisioner cannot run. */
  refuse?(logicalId: string, resource: CfnResource, template: CfnTemplate): ProvisionRefusal | undefined;
  provision(ctx: ProvisionContext): Promise<ProvisionResult>;
  /**
   * Updates a resource created in the target in place, keeping its data (a queue's attributes), when its
   * properties changed (an update of the stack; `ctx.name()` returns its current name unless the template
   * renamed it). Throw UnsupportedResourceError for a change that would need a replacement. Without it, a
   * changed 'created' resource is refused on an update.
   */
  update?(ctx: ProvisionContext, before: ProvisionResult): Promise<ProvisionResult>;
}
