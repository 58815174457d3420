/**
 * Deploys a synthesized CloudFormation template onto the local emulators: SQS queues, DynamoDB tables
 * and S3 buckets are created as declared; functions and event source mappings are returned for the
 * Lambda host and the event source runner; outputs are written in `cdk deploy --outputs-file` format.
 * Every physical name carries a per-deployment prefix, so several deployments share one emulator set.
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SQSClient, type QueueAttributeName } from '@aws-sdk/client-sqs';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
  type Projection,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from './emulators.js';
import { functionAssetDir, type CfnResource, type CfnTemplate } from './assembly.js';
import { IntrinsicError, UnresolvedReferenceError, evaluateCondition, referencedIds, resolveValue, type PhysicalResource, type ResolveContext } from './intrinsics.js';

export const LOCAL_ACCOUNT_ID = '000000000000';

/** Types created in the emulators or run by the local stack. */
const EMULATED = new Set(['AWS::SQS::Queue', 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable', 'AWS::S3::Bucket', 'AWS::Lambda::Function', 'AWS::Lambda::EventSourceMapping']);

/** Types served by the local API front (local/api/), not by the deployer. */
const SERVED_BY_API_FRONT = (type: string): boolean => type.startsWith('AWS::ApiGatewayV2::') || type === 'AWS::Lambda::Permission';

/**
 * Types deliberately not emulated: they change nothing about how messages flow locally (permissions,
 * observability, encryption keys, deploy-time custom resources).
 */
export const NOT_EMULATED = [
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::Logs::LogGroup',
  'AWS::Logs::MetricFilter',
  'AWS::Logs::SubscriptionFilter',
  'AWS::S3::BucketPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::Topic',
  'AWS::SNS::Subscription',
  'AWS::SNS::TopicPolicy',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::Lambda::Version',
  'AWS::Lambda::Alias',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::SSM::Parameter',
  'AWS::CDK::Metadata',
] as const;
const NOT_EMULATED_SET = new Set<string>(NOT_EMULATED);
const isNotEmulated = (type: string): boolean => NOT_EMULATED_SET.has(type) || type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';

export class UnsupportedResourceError extends Error {
  override readonly name = 'UnsupportedResourceError';
}

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
  /** FilterCriteria as declared (the runner applies it). */
  readonly filterCriteria?: { readonly Filters?: ReadonlyArray<{ readonly Pattern?: string }> };
  /** ProvisionedPollerConfig (provisioned mode), when set. */
  readonly provisionedPollerConfig?: { readonly minimumPollers?: number; readonly maximumPollers?: number };
}

export interface LocalDeployment {
  readonly stackName: string;
  readonly prefix: string;
  readonly template: CfnTemplate;
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  readonly functions: readonly DeployedFunction[];
  readonly eventSourceMappings: readonly DeployedEventSourceMapping[];
  /** `{ OutputKey: value }` for this stack. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Resource types present in the template but deliberately not emulated. */
  readonly notEmulated: readonly string[];
  /** Resources served by the local API front (ApiGatewayV2, Lambda permissions). */
  readonly apiResources: readonly string[];
  /** Resolves intrinsics against this deployment (for the API front and tools). */
  resolve(value: unknown): unknown;
  /** Deletes the queues, tables and buckets this deployment created. */
  destroy(): Promise<void>;
}

export interface DeployOptions {
  readonly template: CfnTemplate;
  readonly stackName: string;
  /** Directory of the cloud assembly (function code is found there). */
  readonly assemblyDir: string;
  readonly endpoints: LocalEndpoints;
  /** Name prefix for every physical resource. @default a random `fg<hex>` */
  readonly prefix?: string;
  /** Write `{ [stackName]: outputs }` here (the `cdk deploy --outputs-file` format). */
  readonly outputsFile?: string;
  /** Receives the one-line notice about types not emulated. @default console.log */
  readonly log?: (line: string) => void;
}

function clients(endpoints: LocalEndpoints) {
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  return {
    sqs: new SQSClient({ ...common, endpoint: endpoints.sqs }),
    s3: new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true }),
    dynamodb: new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb }),
  };
}

/** A physical name: `<prefix>-<base>`, shortened with a hash when it would exceed `max`. */
export function physicalName(prefix: string, base: string, max: number, opts: { lower?: boolean; suffix?: string } = {}): string {
  const suffix = opts.suffix ?? '';
  let name = `${prefix}-${base}`;
  if (opts.lower) name = name.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const room = max - suffix.length;
  if (name.length > room) {
    const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
    name = `${name.slice(0, room - 9)}-${hash}`;
  }
  return name + suffix;
}

const num = (v: unknown, where: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new IntrinsicError(`${where}: expected a number, got ${JSON.stringify(v)}`);
  return n;
};
const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));

/** Orders logical ids so that every resource comes after the resources it references. */
function dependencyOrder(resources: Record<string, CfnResource>): string[] {
  const ids = Object.keys(resources);
  const deps = new Map<string, Set<string>>();
  for (const id of ids) {
    const r = resources[id]!;
    const d = referencedIds(r.Properties ?? {});
    for (const x of [r.DependsOn ?? []].flat()) d.add(x);
    deps.set(id, new Set([...d].filter((x) => x in resources && x !== id)));
  }
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new IntrinsicError(`Circular reference: ${[...path, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const d of deps.get(id) ?? []) visit(d, [...path, id]);
    state.set(id, 'done');
    out.push(id);
  };
  for (const id of ids.sort()) visit(id, []);
  return out;
}

export async function deployTemplate(options: DeployOptions): Promise<LocalDeployment> {
  const { template, stackName, assemblyDir, endpoints, outputsFile, log = (l: string) => console.log(l) } = options;
  const prefix = options.prefix ?? `fg${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9][a-z0-9-]{0,23}$/.test(prefix)) throw new Error(`prefix "${prefix}" must be 1-24 characters of a-z 0-9 -, starting with a letter or digit`);
  const { region } = endpoints;
  const accountId = LOCAL_ACCOUNT_ID;
  const c = clients(endpoints);
  const resources = new Map<string, PhysicalResource>();
  const parameters: Record<string, string | string[]> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    if (p.Default !== undefined) parameters[name] = Array.isArray(p.Default) ? p.Default.map(String) : String(p.Default);
  }
  const ctx: ResolveContext = { stackName, region, accountId, resources, parameters, conditions: template.Conditions ?? {} };
  const resolve = (v: unknown): unknown => resolveValue(v, ctx);

  // Refuse unknown types before creating anything.
  const all = template.Resources ?? {};
  const unknown = Object.entries(all).filter(([, r]) => !EMULATED.has(r.Type) && !isNotEmulated(r.Type) && !SERVED_BY_API_FRONT(r.Type));
  if (unknown.length > 0) {
    throw new UnsupportedResourceError(
      `The local deployer does not know ${unknown.map(([id, r]) => `${r.Type} (${id})`).join(', ')}. ` +
        `Emulate it in local/deploy.ts, or add it to NOT_EMULATED there if it does not affect how messages flow.`,
    );
  }
  const notEmulated = [...new Set(Object.values(all).map((r) => r.Type).filter(isNotEmulated))].sort();
  const apiResources = Object.entries(all).filter(([, r]) => SERVED_BY_API_FRONT(r.Type)).map(([id]) => id);
  log(`local deploy: not emulated (no effect on message flow): ${notEmulated.length ? notEmulated.join(', ') : 'none'}`);

  const created = { queues: [] as string[], tables: [] as string[], buckets: [] as string[] };
  const functions: DeployedFunction[] = [];
  const mappings: DeployedEventSourceMapping[] = [];
  const arn = (service: string, resource: string, withRegion = true): string => `arn:aws:${service}:${withRegion ? region : ''}:${accountId}:${resource}`;

  for (const id of dependencyOrder(all)) {
    const r = all[id]!;
    if (r.Condition !== undefined && !evaluateCondition(r.Condition, ctx)) continue;
    const props = (resolve(r.Properties ?? {}) ?? {}) as Record<string, unknown>;
    switch (r.Type) {
      case 'AWS::SQS::Queue': {
        const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
        const base = typeof props.QueueName === 'string' ? props.QueueName.replace(/\.fifo$/, '') : id;
        const QueueName = physicalName(prefix, base, 80, fifo ? { suffix: '.fifo' } : {});
        const attrs: Partial<Record<QueueAttributeName, string>> = {};
        for (const k of ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds', 'MaximumMessageSize'] as const) {
          if (props[k] !== undefined) attrs[k] = String(props[k]);
        }
        if (fifo) attrs.FifoQueue = 'true';
        for (const k of ['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit'] as const) {
          if (props[k] !== undefined) attrs[k] = String(props[k]);
        }
        if (props.RedrivePolicy !== undefined) attrs.RedrivePolicy = typeof props.RedrivePolicy === 'string' ? props.RedrivePolicy : JSON.stringify(props.RedrivePolicy);
        if (props.RedriveAllowPolicy !== undefined) attrs.RedriveAllowPolicy = typeof props.RedriveAllowPolicy === 'string' ? props.RedriveAllowPolicy : JSON.stringify(props.RedriveAllowPolicy);
        const created0 = await c.sqs.send(new CreateQueueCommand({ QueueName, Attributes: attrs }));
        if (!created0.QueueUrl) throw new Error(`CreateQueue ${QueueName} returned no URL`);
        // Behind the gateway, queue URLs are on the endpoint's origin (the gateway rewrites them).
        const QueueUrl = created0.QueueUrl;
        created.queues.push(QueueUrl);
        const got = await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
        const QueueArn = got.Attributes?.QueueArn ?? arn('sqs', QueueName);
        resources.set(id, { type: r.Type, ref: QueueUrl, attributes: { Arn: QueueArn, QueueName, QueueUrl } });
        break;
      }
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable': {
        const TableName = physicalName(prefix, typeof props.TableName === 'string' ? props.TableName : id, 255);
        const keyed = <T extends { IndexName?: unknown; KeySchema?: unknown; Projection?: unknown }>(list: unknown) =>
          (list as T[] | undefined)?.map((i) => ({ IndexName: String(i.IndexName), KeySchema: i.KeySchema as KeySchemaElement[], Projection: (i.Projection ?? { ProjectionType: 'ALL' }) as Projection }));
        const gsis = keyed(props.GlobalSecondaryIndexes) as GlobalSecondaryIndex[] | undefined;
        const lsis = keyed(props.LocalSecondaryIndexes) as LocalSecondaryIndex[] | undefined;
        // Capacity does not matter to an emulator: every table is on-demand locally.
        await c.dynamodb.send(
          new CreateTableCommand({
            TableName,
            KeySchema: props.KeySchema as KeySchemaElement[],
            AttributeDefinitions: props.AttributeDefinitions as AttributeDefinition[],
            BillingMode: 'PAY_PER_REQUEST',
            ...(gsis?.length ? { GlobalSecondaryIndexes: gsis } : {}),
            ...(lsis?.length ? { LocalSecondaryIndexes: lsis } : {}),
          }),
        );
        created.tables.push(TableName);
        const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean | string } | undefined;
        if (ttl?.AttributeName && (ttl.Enabled === undefined || ttl.Enabled === true || ttl.Enabled === 'true')) {
          await c.dynamodb.send(new UpdateTimeToLiveCommand({ TableName, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }));
        }
        const tableArn = arn('dynamodb', `table/${TableName}`);
        resources.set(id, { type: r.Type, ref: TableName, attributes: { Arn: tableArn, StreamArn: `${tableArn}/stream/local`, TableId: TableName } });
        break;
      }
      case 'AWS::S3::Bucket': {
        const Bucket = physicalName(prefix, typeof props.BucketName === 'string' ? props.BucketName : id, 63, { lower: true });
        await c.s3.send(new CreateBucketCommand({ Bucket }));
        created.buckets.push(Bucket);
        resources.set(id, {
          type: r.Type,
          ref: Bucket,
          attributes: {
            Arn: `arn:aws:s3:::${Bucket}`,
            DomainName: `${Bucket}.s3.amazonaws.com`,
            RegionalDomainName: `${Bucket}.s3.${region}.amazonaws.com`,
            DualStackDomainName: `${Bucket}.s3.dualstack.${region}.amazonaws.com`,
            WebsiteURL: `http://${Bucket}.s3-website-${region}.amazonaws.com`,
          },
        });
        break;
      }
      case 'AWS::Lambda::Function': {
        const functionName = physicalName(prefix, typeof props.FunctionName === 'string' ? props.FunctionName : id, 64);
        const functionArn = arn('lambda', `function:${functionName}`);
        resources.set(id, { type: r.Type, ref: functionName, attributes: { Arn: functionArn } });
        const env = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
        const code = props.Code as { ZipFile?: unknown } | undefined;
        let assetDir: string;
        if (typeof code?.ZipFile === 'string') {
          // Inline code (custom resource providers): Lambda names the file index.js.
          assetDir = mkdtempSync(join(tmpdir(), `floodgate-inline-${id}-`));
          writeFileSync(join(assetDir, 'index.js'), code.ZipFile);
        } else assetDir = functionAssetDir(assemblyDir, id, r);
        const reserved = num(props.ReservedConcurrentExecutions, `${id}.ReservedConcurrentExecutions`);
        functions.push({
          logicalId: id,
          functionName,
          assetDir,
          handler: str(props.Handler) ?? 'index.handler',
          runtime: str(props.Runtime) ?? 'nodejs24.x',
          timeoutSeconds: num(props.Timeout, `${id}.Timeout`) ?? 3,
          memoryMb: num(props.MemorySize, `${id}.MemorySize`) ?? 128,
          environment: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
          architectures: (props.Architectures as string[] | undefined) ?? ['x86_64'],
          ...(reserved !== undefined ? { reservedConcurrency: reserved } : {}),
        });
        break;
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const sourceArn = str(props.EventSourceArn) ?? '';
        const queueEntry = [...resources.entries()].find(([, p]) => p.type === 'AWS::SQS::Queue' && p.attributes.Arn === sourceArn);
        if (!queueEntry) throw new UnsupportedResourceError(`${id}: event source ${sourceArn || '(none)'} is not a queue of this stack; only SQS mappings are run locally`);
        const fnRef = str(props.FunctionName) ?? '';
        const fnEntry = [...resources.entries()].find(([, p]) => p.type === 'AWS::Lambda::Function' && (p.ref === fnRef || p.attributes.Arn === fnRef));
        if (!fnEntry) throw new UnsupportedResourceError(`${id}: function ${fnRef} is not a function of this stack`);
        const types = (props.FunctionResponseTypes as string[] | undefined) ?? [];
        const scaling = props.ScalingConfig as { MaximumConcurrency?: unknown } | undefined;
        const maxConc = num(scaling?.MaximumConcurrency, `${id}.ScalingConfig.MaximumConcurrency`);
        const provisioned = props.ProvisionedPollerConfig as { MinimumPollers?: unknown; MaximumPollers?: unknown } | undefined;
        const minPollers = num(provisioned?.MinimumPollers, `${id}.ProvisionedPollerConfig.MinimumPollers`);
        const maxPollers = num(provisioned?.MaximumPollers, `${id}.ProvisionedPollerConfig.MaximumPollers`);
        const filters = props.FilterCriteria as { Filters?: Array<{ Pattern?: unknown }> } | undefined;
        mappings.push({
          logicalId: id,
          functionLogicalId: fnEntry[0],
          queueLogicalId: queueEntry[0],
          queueUrl: queueEntry[1].ref,
          queueArn: sourceArn,
          batchSize: num(props.BatchSize, `${id}.BatchSize`) ?? 10,
          maximumBatchingWindowSeconds: num(props.MaximumBatchingWindowInSeconds, `${id}.MaximumBatchingWindowInSeconds`) ?? 0,
          ...(maxConc !== undefined ? { maximumConcurrency: maxConc } : {}),
          reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
          enabled: props.Enabled === undefined || props.Enabled === true || props.Enabled === 'true',
          ...(filters?.Filters ? { filterCriteria: { Filters: filters.Filters.map((f) => ({ ...(f.Pattern !== undefined ? { Pattern: typeof f.Pattern === 'string' ? f.Pattern : JSON.stringify(f.Pattern) } : {}) })) } } : {}),
          ...(provisioned ? { provisionedPollerConfig: { ...(minPollers !== undefined ? { minimumPollers: minPollers } : {}), ...(maxPollers !== undefined ? { maximumPollers: maxPollers } : {}) } } : {}),
        });
        resources.set(id, { type: r.Type, ref: `${prefix}-${id}`, attributes: { EventSourceMappingArn: arn('lambda', `event-source-mapping:${prefix}-${id}`) } });
        break;
      }
      default: {
        // Not emulated / served by the API front: give Ref and Arn plausible values so outputs and
        // environments that mention them still resolve.
        const explicit = ['Name', 'RoleName', 'DashboardName', 'AlarmName', 'LogGroupName', 'TopicName', 'PolicyName', 'ApiId'].map((k) => props[k]).find((v) => typeof v === 'string') as string | undefined;
        const name = explicit ?? physicalName(prefix, id, 64);
        const service = (r.Type.split('::')[1] ?? 'custom').toLowerCase();
        resources.set(id, { type: r.Type, ref: name, attributes: { Arn: arn(service, name) } });
      }
    }
  }

  const outputs: Record<string, string> = {};
  for (const [key, o] of Object.entries(template.Outputs ?? {})) {
    if (o.Condition !== undefined && !evaluateCondition(o.Condition, ctx)) continue;
    try {
      const v = resolve(o.Value);
      outputs[key] = typeof v === 'string' ? v : JSON.stringify(v);
    } catch (err) {
      throw new Error(`Output ${key}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (outputsFile) writeOutputsFile(outputsFile, stackName, outputs);

  return {
    stackName,
    prefix,
    template,
    resources,
    functions,
    eventSourceMappings: mappings,
    outputs,
    notEmulated,
    apiResources,
    resolve,
    async destroy() {
      await Promise.allSettled(created.queues.map((QueueUrl) => c.sqs.send(new DeleteQueueCommand({ QueueUrl }))));
      await Promise.allSettled(created.tables.map((TableName) => c.dynamodb.send(new DeleteTableCommand({ TableName }))));
      for (const Bucket of created.buckets) {
        try {
          for (;;) {
            const page = await c.s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1000 }));
            const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
            if (keys.length === 0) break;
            await c.s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys } }));
          }
          await c.s3.send(new DeleteBucketCommand({ Bucket }));
        } catch {
          // best effort: the emulators are in-memory and go away with the run
        }
      }
    },
  };
}

/** Writes `{ [stackName]: outputs }`: the `cdk deploy --outputs-file` format. */
export function writeOutputsFile(file: string, stackName: string, outputs: Record<string, string>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ [stackName]: outputs }, null, 2)}\n`);
}
