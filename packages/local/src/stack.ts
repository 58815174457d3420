/**
 * The whole local stack in one call: (synthesize), start or reuse the emulators, deploy the template
 * with the names it writes, start one Lambda host per function and one runner per SQS event source mapping,
 * and the local API front when the template has an HTTP API. Used by `npm start`, the integration
 * tests, the chaos run and the benchmarks.
 */
import type { CfnTemplate } from './core/deployment/assembly.js';
import { readAssembly, selectStack } from './core/deployment/assembly.js';
import { deployTemplate, writeOutputsFile, type DeployedEventSourceMapping, type DeployedFunction, type DeployedStreamEventSourceMapping, type EmptyReport, type LocalDeployment } from './core/deployment/deploy.js';
import { DataDirError, deleteDeploymentState, lockDataDir, readDeploymentState, writeDeploymentState } from './core/deployment/state.js';
import { resolve as resolvePath } from 'node:path';
import { LOCAL_CREDENTIALS, singleEndpoint, startEmulators, type LocalEndpoints, type RunningEmulators } from './emulators.js';
import { localClients, type LocalClients } from './core/clients.js';
import { checkNode } from './prerequisites.js';
import { startGateway, type Gateway } from './gateway/server.js';
import { localConcurrencyCeiling } from './services/lambda/event-source-scaling.js';
import { createEnforcement } from './gateway/enforce.js';
import { CredentialStore } from './gateway/auth/credentials.js';
import { IAM_NOT_INSTALLED_MESSAGE, loadIamSimulator } from './gateway/iam/evaluate.js';
import { readPolicies, type PolicyIndex } from './gateway/iam/policies.js';
import type { GatewayError } from './gateway/types.js';
import { LOCAL_ACCOUNT_ID } from './core/identity.js';
import { concurrencyCap, createEventSourceRunner, type EventSourceRunner, type InvocationRecord, type RunnerStats } from './services/lambda/event-source-runner.js';
import { createFunctionHost, type FunctionHost, type FunctionHostStats, type LogEntry } from './lambda-host/index.js';
import { LogStore, type LogEvent } from './services/logs/store.js';
import { DEFAULT_ASSEMBLY_DIR, DEFAULT_SYNTH_INPUTS, synthesize } from './synth.js';
import { startHotReload, type HotReload } from './watch/hot-reload.js';
import { startApiFront } from './services/apigateway/front.js';
import { createAsyncInvoker, type AsyncInvoker } from './services/lambda/async-invoke.js';
import { RESPONSE_ROUTE } from './services/cloudformation/response-route-path.js';
import { createEventsRuntime, EventsApiError, type EventsRuntime, type FireResult, type PutEventsResult, type RuleStats } from './services/events/bus-runtime.js';
import type { PutEventsEntry } from './services/events/event.js';
import { createSchedulerRuntime, type ScheduleStats } from './services/scheduler/runtime.js';
import { createStreamPoller, type StreamInvocationRecord, type StreamPoller } from './services/lambda/stream-poller.js';
import { onFailureSender } from './services/lambda/stream-destination.js';
import { AsyncInvokeConfigs, AsyncSettingsError, parseEventInvokeConfig } from './services/lambda/async-invoke-config.js';
import { createDestinationSender } from './services/lambda/async-destinations.js';
import { EVENT_INVOKE_CONFIG_TYPE } from './services/lambda/event-invoke-config.js';
import { FunctionConcurrency, withFunctionConcurrency } from './services/lambda/function-concurrency.js';
import { UnsupportedResourceError } from './core/deployment/errors.js';
import { createDeliveryGate, type DeliveryFailures } from './gateway/deliveries.js';
import { provisionerFor } from './services/provisioners.js';
import { templateChanges } from './watch/template-diff.js';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ParameterStore } from './services/ssm/store.js';
import { ssmService } from './services/ssm/handler.js';
import { CloudFormationStacks } from './services/cloudformation/stacks.js';
import { cloudformationApiService } from './services/cloudformation/api.js';
import { stackFunctionsService } from './services/lambda/stack-functions.js';

export interface LocalStackOptions {
  /** A synthesized assembly directory (e.g. `cdk.out`). Alias: `assemblyDir`. */
  readonly assembly?: string;
  /** @deprecated use `assembly` */
  readonly assemblyDir?: string;
  /**
   * The CDK app command (as `cdk --app`), synthesized with the host architecture into
   * .floodgate/cdk.out (cached by input hash). Without `app` or `assembly`, the project's cdk.json app.
   */
  readonly app?: string;
  /** Project directory (cdk.json) for synthesis. @default process.cwd() */
  readonly projectDir?: string;
  /** Stack to deploy (name or artifact id). @default the only stack of the assembly. Alias: `stackName`. */
  readonly stack?: string;
  /** @deprecated use `stack` */
  readonly stackName?: string;
  /**
   * An external AWS-compatible endpoint (moto, LocalStack) where the template's resources are created
   * instead of the embedded emulators; the functions still run here. @default $FLOODGATE_ENDPOINT
   */
  readonly endpoint?: string;
  /** Running emulators (or their endpoints) to share; when absent (and no `endpoint`) they are started and owned. */
  readonly emulators?: LocalEndpoints;
  /** Port of the stack's endpoint (its gateway). @default a free port */
  readonly port?: number;
  /** Owned emulators stop on SIGINT/SIGTERM (and re-raise it). @default true */
  readonly handleSignals?: boolean;
  /**
   * Keep the stack's state in this directory across a stop and a start (`--data-dir`): the queues with
   * their messages, the buckets with their objects, the tables with their items (the emulators' own
   * persistence), and the names the deployment gave, so that a restart with the same assembly finds the
   * same resources. A stop keeps the stack (custom resources get no Delete; `stop({ destroy: true })`
   * still deletes everything). Only with the embedded emulators (not with `endpoint` or `emulators`).
   * See the README ("State that lasts") for what is not kept. @default none: everything in memory
   */
  readonly dataDir?: string;
  /**
   * A prefix for every physical name (`--name-prefix`): for an external endpoint shared with other
   * deployments. @default none: names as the template writes them (CloudFormation-style for unnamed ones)
   */
  readonly prefix?: string;
  /**
   * Deploy even when the template has resources the local stack cannot emulate (topics, rules, custom
   * resources, ...): each is named in a warning saying what will not happen. Without it such a template
   * is refused before anything is created. @default false
   */
  readonly allowUnsupported?: boolean;
  /** Extra environment for every function (e.g. FLOODGATE_FAULTS for chaos), or per function. */
  readonly functionEnv?: Record<string, string> | ((fn: DeployedFunction) => Record<string, string>);
  /** Override function settings (e.g. a shorter timeout in a test). */
  readonly functionOverrides?: (fn: DeployedFunction) => Partial<Pick<DeployedFunction, 'timeoutSeconds' | 'memoryMb' | 'reservedConcurrency'>>;
  /** Write outputs here in `cdk deploy --outputs-file` format. */
  readonly outputsFile?: string;
  /** Start the local API front if the template has an HTTP API. @default true */
  readonly api?: boolean;
  /** Port for the API front. @default a free port */
  readonly apiPort?: number;
  /** Long-poll wait of the runners, seconds (shorter stops faster). @default 20 */
  readonly waitTimeSeconds?: number;
  /** Progress lines (synth, deploy notice). @default console.log */
  readonly log?: (line: string) => void;
  /**
   * Every log line of every execution environment: the function's stdout and stderr lines and Lambda's
   * own START, END, REPORT and INIT_REPORT lines (`stream: 'platform'`). `LocalStack.onLog` subscribes later.
   */
  readonly onLog?: (entry: LogEntry) => void;
  /** Log events kept per log group for the CloudWatch Logs API and `logs()` (a ring buffer: the newest). @default 10000 */
  readonly logEventsPerGroup?: number;
  /** Start polling at once; false leaves it to `startRunners()` (e.g. to enqueue a burst first). @default true */
  readonly startRunners?: boolean;
  /** Every settled invocation of every runner. */
  readonly onInvocation?: (mapping: string, record: InvocationRecord) => void;
  /** Every invocation of every DynamoDB Streams poller. */
  readonly onStreamInvocation?: (mapping: string, record: StreamInvocationRecord) => void;
  /** GetRecords period of an idle stream shard, ms. @default 250 */
  readonly streamPollIntervalMs?: number;
  /**
   * Enforce IAM on the endpoint: each function signs with its own credentials, mapped to its execution
   * role, and every call it makes is evaluated against the role's policies and the resource's policy
   * (gateway/enforce.ts). Authentication (SigV4) is enforced either way. @default true
   */
  readonly iam?: boolean;
  /**
   * Waits before the retries of a failed asynchronous invocation (Invoke Event, SNS, S3).
   * @default [60_000, 120_000] (AWS's one and two minutes)
   */
  readonly asyncRetryDelaysMs?: readonly number[];
  /**
   * First wait before an EventBridge / Scheduler target delivery is retried (doubled each retry, at most
   * one minute). @default 1000
   */
  readonly eventRetryBaseMs?: number;
  /** Fire scheduled rules and schedules on time (false: only on demand, `schedules.fire`). @default true */
  readonly scheduleTimers?: boolean;
  /**
   * The clock asynchronous event ages are measured with (MaximumEventAgeInSeconds is at least 60 s: a
   * test moves this clock instead of waiting). @default Date.now
   */
  readonly asyncClock?: () => number;
  /**
   * Hot reload (`up --watch`): an edit to a bundled function's sources swaps its code (the next
   * invocation runs it, those in flight finish on the old one); an edit to the app's other sources
   * synthesizes it again and applies the template as a diff. Needs the app (`app` or cdk.json), not a
   * pre-synthesized `assembly`. @default false
   */
  readonly watch?: boolean | { readonly debounceMs?: number };
  /** Every request the endpoint refused (authentication or IAM), e.g. for a test or a log. */
  readonly onRefusal?: (r: { service: string; operation?: string; principal: string; error: GatewayError }) => void;
  /**
   * Deploy the app's stack (false: start the endpoint with no stack, for the stock CDK CLI to deploy
   * into through the CloudFormation API: `floodgate-local up --no-deploy`). @default true
   */
  readonly deploy?: boolean;
  /**
   * A template to deploy instead of an assembly's stack: what the CloudFormation API hands over (its
   * function code is read from S3). `previous` is the deployment it updates.
   */
  readonly stackTemplate?: { readonly stackName: string; readonly template: CfnTemplate; readonly parameters?: Readonly<Record<string, string>>; readonly previous?: LocalDeployment };
  /** The URL clients are given in answers (queue URLs), when this stack's gateway is behind another endpoint. */
  readonly publicEndpoint?: string;
  /** The endpoint's SSM Parameter Store (shared by the stacks on one endpoint). @default a new one */
  readonly parameterStore?: ParameterStore;
}

export interface LocalStackStats {
  readonly runners: readonly RunnerStats[];
  readonly functions: readonly FunctionHostStats[];
  /** Highest number of concurrent executions over all runners. */
  readonly maxConcurrentExecutions: number;
  /** EventBridge rules and Scheduler schedules: matches, invocations, FailedInvocations, dead-lettered. */
  readonly events: { readonly rules: readonly RuleStats[]; readonly schedules: readonly ScheduleStats[] };
  /** Service-to-service deliveries that failed: denied by a resource policy, SNS NumberOfNotificationsFailed, EventBridge FailedInvocations. */
  readonly deliveryFailures: DeliveryFailures;
}

export interface LocalStack {
  readonly stackName: string;
  readonly assemblyDir: string;
  /** The stack's one endpoint (its gateway): for AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  readonly region: string;
  /** The credentials the local stack accepts (and gives its functions). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** SDK v3 clients pointed at `endpoint`, destroyed by stop(). */
  readonly clients: LocalClients;
  /** The gateway serving `endpoint` (add services or authorizers to it). */
  readonly gateway: Gateway;
  /** Where the resources were created: the embedded emulators, or the external endpoint. */
  readonly target: 'emulators' | 'external';
  /** Whether IAM is enforced on the endpoint (see LocalStackOptions.iam). */
  readonly iam: boolean;
  /** The IAM policies read from the template (roles, functions' roles, resource policies). */
  readonly policies: PolicyIndex;
  /** The credential pair a function's environments sign with (by logical id). */
  functionCredentials(logicalId: string): { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  readonly endpoints: LocalEndpoints;
  readonly deployment: LocalDeployment;
  readonly template: CfnTemplate;
  /** The stack outputs (also written to outputsFile), API URL included when the front runs. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly runners: ReadonlyMap<string, EventSourceRunner>;
  /** DynamoDB Streams pollers, by mapping logical id. */
  readonly streamPollers: ReadonlyMap<string, StreamPoller>;
  readonly hosts: ReadonlyMap<string, FunctionHost>;
  /** Each function's asynchronous event queue (Invoke Event, SNS and S3 deliveries), by logical id. */
  readonly asyncInvokers: ReadonlyMap<string, AsyncInvoker>;
  /** EventInvokeConfig and DeadLetterConfig of every function (changed live by the Lambda API). */
  readonly asyncConfigs: AsyncInvokeConfigs;
  /** Each function's reserved concurrency, shared by its mappings, its event queue and Invoke, by logical id. */
  readonly functionConcurrency: ReadonlyMap<string, FunctionConcurrency>;
  readonly api?: { readonly url: string };
  /** The hot reload of `watch: true`: its reload events, and `idle()` to wait for one to finish. */
  readonly hotReload?: HotReload;
  /** The functions' CloudWatch Logs, as the endpoint's Logs API serves them. */
  readonly logStore: LogStore;
  /**
   * The log events kept for a function (by name or logical id), oldest first: its log group
   * (`/aws/lambda/<name>` or LoggingConfig.LogGroup), every execution environment's stream.
   */
  logs(functionNameOrLogicalId: string): readonly LogEvent[];
  /** Subscribes to every function's log lines as they are written; returns the unsubscribe function. */
  onLog(listener: (entry: LogEntry) => void): () => void;
  /** EventBridge (the default bus, the template's buses and rules). */
  readonly events: EventsRuntime;
  /** Scheduled rules and Scheduler schedules: `fire(name)` runs one now (rule or schedule name, or logical id). */
  readonly schedules: { fire(name: string): Promise<FireResult> };
  /** Puts events on a bus (`default` or a custom bus name/ARN), as PutEvents does: e.g. a Lambda destination. */
  putEvents(bus: string, entries: readonly PutEventsEntry[]): PutEventsResult;
  stats(): LocalStackStats;
  /**
   * Deliveries between services that did not happen, named after AWS's metrics: those a queue policy,
   * topic policy or Lambda permission refused (`deniedDeliveries`, and the latest in `denied`), SNS's
   * NumberOfNotificationsFailed per topic, EventBridge's FailedInvocations per rule.
   */
  deliveryFailures(): DeliveryFailures;
  /** Starts the event source runners (when created with startRunners: false). */
  startRunners(): void;
  /** Stops runners, API, execution environments, and the emulators if this stack started them. */
  /**
   * `handBack`: the pollers' receives in progress finish and hand their messages back (a restart of the
   * stack, such as a CloudFormation update or hotswap, must not leave messages invisible).
   */
  stop(options?: { destroy?: boolean; handBack?: boolean }): Promise<void>;
  /** The stacks deployed on this endpoint through the CloudFormation API (the stock CDK CLI). */
  readonly cloudFormation: CloudFormationStacks;
  /** The data directory (`dataDir`), when the stack keeps its state. */
  readonly dataDir?: string;
  /** True when the deployment was found in `dataDir` (a restart): its resources were taken over, not created. */
  readonly restored: boolean;
  /**
   * Empties the stack and keeps it: every queue's messages (DLQs, in-flight and delayed ones too), every
   * table's items, every bucket's objects, and the functions' pending asynchronous events and retries.
   * The resources, the functions and the event source mappings stay and keep running; a DynamoDB
   * stream mapping does not deliver the reset's own deletes. Invocations running at the time finish.
   */
  reset(): Promise<ResetReport>;
}

/** What `reset()` (and `POST /_floodgate/reset`) did. */
export interface ResetReport {
  /** Resources emptied, by CloudFormation type (`AWS::SQS::Queue`: 2, ...). */
  readonly resources: Readonly<Record<string, number>>;
  /** Table items and bucket objects deleted (queues are purged whole and not counted). */
  readonly deleted: number;
  /** Pending asynchronous events and retries dropped. */
  readonly asyncEventsDropped: number;
  /** How long the reset took, ms. */
  readonly ms: number;
}


export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? ((l: string) => console.log(l));
  checkNode();
  const given = options.assembly ?? options.assemblyDir;
  if (options.watch && given !== undefined) throw new Error('watch needs the CDK app to synthesize it again (its cdk.json, or `app`), not a synthesized assembly (`assembly`, --assembly)');
  const synthOptions = { outDir: DEFAULT_ASSEMBLY_DIR, log, ...(options.app ? { app: options.app } : {}), ...(options.projectDir ? { projectDir: options.projectDir } : {}), ...(options.watch ? { needsBundleRecord: true } : {}) };
  // The stack to deploy: an assembly's (synthesized here or given), a template handed over by the
  // CloudFormation API, or none (the endpoint alone, for the stock CDK CLI).
  const fromApi = options.stackTemplate;
  const noStack = options.deploy === false && !fromApi;
  const parameterStore = options.parameterStore ?? new ParameterStore();
  const external = options.endpoint ?? (options.emulators ? undefined : process.env.FLOODGATE_ENDPOINT || undefined);
  const dataDir = options.dataDir !== undefined ? resolvePath(options.dataDir) : undefined;
  if (dataDir !== undefined && (external || options.emulators)) {
    throw new DataDirError(`dataDir (--data-dir) keeps the embedded emulators' state; ${external ? `the external endpoint ${external} keeps its own` : 'shared emulators keep whatever their owner gave them'}: give one or the other`);
  }
  // One running stack per data directory: taken before anything starts, released when it stops.
  const unlock = dataDir !== undefined ? lockDataDir(dataDir) : undefined;
  // Owned emulators start first and run their start-up (DynamoDB Local's JVM is the longest part of
  // `up`) while the app is synthesized and the IAM simulator is loaded.
  const ownedStart = external || options.emulators ? undefined : startEmulators({ handleSignals: options.handleSignals ?? true, ...(dataDir !== undefined ? { dataDir } : {}) });
  ownedStart?.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled
  const iamLoad = options.iam === false ? Promise.resolve(undefined) : loadIamSimulator();
  iamLoad.catch(() => undefined);
  let owned: RunningEmulators | undefined;
  let assemblyDir: string | undefined;
  let stack: { readonly stackName: string; readonly template: CfnTemplate };
  let upstream: LocalEndpoints;
  let iamSimulatorInstalled: boolean;
  try {
    if (fromApi) stack = { stackName: fromApi.stackName, template: fromApi.template };
    else if (noStack) stack = { stackName: 'floodgate-local', template: { Resources: {} } };
    else {
      // Absolute: the functions' code is found from it, by processes with other working directories.
      assemblyDir = resolvePath(given ?? (await synthesize(synthOptions)).assemblyDir);
      stack = selectStack(readAssembly(assemblyDir), options.stack ?? options.stackName);
    }
    upstream = external ? singleEndpoint(external, options.emulators?.region) : (options.emulators ?? (owned = await ownedStart!));
    // IAM is enforced by default when the (optional, AGPL) simulator is installed; asked for explicitly without it, it is an error.
    iamSimulatorInstalled = options.iam === false ? false : (await iamLoad) !== undefined;
    if (options.iam === true && !iamSimulatorInstalled) throw new Error(`iam: true needs @cloud-copilot/iam-simulate: npm i -D @cloud-copilot/iam-simulate`);
  } catch (err) {
    await ownedStart?.then((e) => e.stop(), () => undefined);
    unlock?.();
    throw err;
  }
  const previous = dataDir !== undefined ? readDeploymentState(dataDir, stack.stackName) : undefined;
  if (previous) log(`data dir ${dataDir}: restoring ${stack.stackName} (deployed ${previous.savedAt}): its ${Object.keys(previous.names).length} named resources are taken over with their contents`);
  else if (dataDir !== undefined) log(`data dir ${dataDir}: first start of ${stack.stackName}; its state is kept there`);
  if (previous && previous.prefix !== (options.prefix ?? '')) log(`data dir: ${stack.stackName} was deployed with name prefix "${previous.prefix}", now "${options.prefix ?? ''}": resources the template names are created under the new names`);
  const cleanups: Array<() => Promise<void>> = [];
  // The stack's own gateway (in this process, so the Lambda and CloudFormation APIs can answer from
  // this stack) forwards SQS, S3 and DynamoDB straight to the emulators, or to the external endpoint.
  let gateway: Gateway;
  const iamEnforced = (options.iam ?? true) && iamSimulatorInstalled;
  const store = new CredentialStore(LOCAL_CREDENTIALS, LOCAL_ACCOUNT_ID);
  let policies: PolicyIndex | undefined;
  // The account that the target writes into its ARNs (an external endpoint has its own: moto's is
  // 123456789012); requests are matched against policies in that account.
  let targetAccount = LOCAL_ACCOUNT_ID;
  // While deploying, resource policies apply as they are created (an S3 notification is validated when
  // it is put): the policies of the deployment so far, read again when a resource was added.
  let deploying: LocalDeployment | undefined;
  let deployingPolicies: { size: number; index: PolicyIndex } | undefined;
  const currentPolicies = (): PolicyIndex | undefined => {
    const d = deploying;
    if (d === undefined) return policies;
    if (deployingPolicies?.size !== d.resources.size) deployingPolicies = { size: d.resources.size, index: readPolicies(d.model, d.resolve, (id) => d.resources.get(id)) };
    return deployingPolicies.index;
  };
  const deliveries = createDeliveryGate({ iam: iamEnforced, policies: currentPolicies, accountId: () => targetAccount });
  try {
    gateway = await startGateway({
      deliveries,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.publicEndpoint !== undefined ? { publicUrl: options.publicEndpoint } : {}),
      upstreams: upstream.backends ?? { sqs: upstream.sqs, s3: upstream.s3, dynamodb: upstream.dynamodb },
      region: upstream.region,
      authorizers: [createEnforcement({ store, region: upstream.region, accountId: () => targetAccount, policies: () => policies, iam: iamEnforced, ...(options.onRefusal ? { onRefusal: options.onRefusal } : {}) })],
    });
  } catch (err) {
    await owned?.stop();
    unlock?.();
    throw err;
  }
  cleanups.push(() => gateway.stop());
  gateway.addService(ssmService(parameterStore));
  const endpoints: LocalEndpoints = { ...singleEndpoint(gateway.url, upstream.region), ...(upstream.backends ? { backends: upstream.backends } : {}) };
  const clients = localClients(endpoints);
  // The reset's requests go straight to the emulators when they are there (no gateway hop, no signature check).
  const resetClients = endpoints.backends ? localClients({ ...endpoints, ...endpoints.backends, endpoint: endpoints.backends.sqs }) : clients;
  cleanups.push(async () => {
    clients.destroy();
    if (resetClients !== clients) resetClients.destroy();
  });
  // Stacks deployed through the CloudFormation API (the stock CDK CLI): each runs as a local stack of
  // its own on the same emulators (its functions and pollers, its own gateway for its functions), through
  // the same deployer and provisioners as the app's stack.
  const readObject = async (bucket: string, key: string, version?: string): Promise<Uint8Array> => {
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(version ? { VersionId: version } : {}) }));
    return got.Body!.transformToByteArray();
  };
  const cloudFormation = new CloudFormationStacks({
    region: endpoints.region,
    log,
    // As the deployer decides (deploy.ts): what it creates in the target and cannot update in place is replaced.
    replaces: (type) => {
      const p = provisionerFor(type);
      return p !== undefined && p.kind === 'created' && p.update === undefined && p.updatesInPlace !== true;
    },
    deploy: async (req) => {
      const sub = await startLocalStack({
        emulators: endpoints,
        stackTemplate: req,
        parameterStore,
        // Queue URLs in its outputs and answers are the main endpoint's: they outlive an update.
        publicEndpoint: endpoints.endpoint,
        handleSignals: false,
        log,
        // Its functions' lines go where this stack's go: the `up` output and this endpoint's Logs API.
        onLog: (e) => onLog(e),
        ...(options.iam !== undefined ? { iam: options.iam } : {}),
        ...(options.functionEnv ? { functionEnv: options.functionEnv } : {}),
        ...(options.waitTimeSeconds !== undefined ? { waitTimeSeconds: options.waitTimeSeconds } : {}),
        ...(options.onInvocation ? { onInvocation: options.onInvocation } : {}),
        ...(options.onRefusal ? { onRefusal: options.onRefusal } : {}),
      });
      return { deployment: sub.deployment, outputs: sub.outputs, endpoint: sub.endpoint, stop: (o) => sub.stop(o) };
    },
  });
  if (!fromApi) {
    gateway.addService(cloudformationApiService({ stacks: cloudFormation, readObject: async (b, k) => Buffer.from(await readObject(b, k)).toString('utf8'), log }));
    gateway.addService(stackFunctionsService({ stacks: cloudFormation, readObject, log }));
  }
  const logStore = new LogStore(options.logEventsPerGroup !== undefined ? { maxEventsPerGroup: options.logEventsPerGroup } : {});
  const logListeners = new Set<(entry: LogEntry) => void>();
  if (options.onLog) logListeners.add(options.onLog);
  const onLog = (entry: LogEntry): void => {
    logStore.put(entry.logGroupName, entry.logStreamName, entry.line, entry.time);
    for (const l of logListeners) l(entry);
  };
  // The functions' hosts are made on first use: custom resources run their handlers during the deployment.
  const credentialsByFunction = new Map<string, { accessKeyId: string; secretAccessKey: string }>();
  const hosts = new Map<string, FunctionHost>();
  const fnByLogicalId = new Map<string, DeployedFunction>();
  cleanups.push(async () => {
    await Promise.all([...hosts.values()].map((h) => h.stop()));
  });
  // A stream mapping runs up to ParallelizationFactor batches per shard (a parent and a child shard can overlap).
  const streamLanesOf = (d: { readonly streamEventSourceMappings: readonly DeployedStreamEventSourceMapping[] }, logicalId: string): number =>
    d.streamEventSourceMappings.filter((m) => m.functionLogicalId === logicalId).reduce((n, m) => n + 2 * m.parallelizationFactor, 0);
  // Each function signs with its own credentials, mapped to its role (as Lambda hands it the role's).
  const environmentOf = (fn: DeployedFunction): Record<string, string> => {
    const extra = typeof options.functionEnv === 'function' ? options.functionEnv(fn) : options.functionEnv ?? {};
    const creds = credentialsByFunction.get(fn.logicalId)!;
    return { ...fn.environment, ...extra, AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey };
  };
  const hostFor = (f0: DeployedFunction, mappingCount: number, resources: ReadonlyMap<string, { readonly ref: string }>, streamLanes = 0): FunctionHost => {
    const existing = hosts.get(f0.logicalId);
    if (existing) return existing;
    const fn = { ...f0, ...options.functionOverrides?.(f0) };
    fnByLogicalId.set(fn.logicalId, fn);
    // Environments are spawned on demand and each runner enforces its mapping's limit, which can be
    // raised live (UpdateEventSourceMapping, PutFunctionConcurrency): the pool only needs the ceiling.
    const maxEnvironments = (mappingCount > 0 ? mappingCount * localConcurrencyCeiling() : Math.max(1, Math.min(fn.reservedConcurrency ?? 4, 4))) + streamLanes;
    const roleLogicalId = policies?.functionRoles.get(fn.logicalId) ?? '';
    const creds = store.issueForFunction({ functionName: fn.functionName, roleLogicalId, roleName: resources.get(roleLogicalId)?.ref ?? `${fn.functionName}-role`, accountId: targetAccount });
    credentialsByFunction.set(fn.logicalId, creds);
    const host = createFunctionHost({
      functionName: fn.functionName,
      assetDir: fn.assetDir,
      handler: fn.handler,
      environment: environmentOf(fn),
      timeoutSeconds: fn.timeoutSeconds,
      memoryMb: fn.memoryMb,
      maxEnvironments: Math.max(1, maxEnvironments),
      // Under `watch`, a spare process waits for the next code (hot reload without a process start).
      ...(options.watch ? { standby: true } : {}),
      endpoints,
      // Custom resource handlers answer CloudFormation over HTTPS; locally the ResponseURL is the endpoint.
      execArgv: ['--import', RESPONSE_ROUTE],
      ...(fn.logGroupName !== undefined ? { logGroupName: fn.logGroupName } : {}),
      ...(fn.logFormat ? { logFormat: fn.logFormat } : {}),
      onLog,
    });
    hosts.set(fn.logicalId, host);
    return host;
  };
  let detachDeploying: (() => void) | undefined;
  try {
    const deployment = await deployTemplate({
      template: stack.template,
      stackName: stack.stackName,
      ...(assemblyDir !== undefined ? { assemblyDir } : {}),
      ...(fromApi?.parameters ? { parameters: fromApi.parameters } : {}),
      ...(fromApi?.previous ? { previous: fromApi.previous } : {}),
      ...(fromApi ? { deleteOnFailure: true } : {}),
      // A stack deployed through the CloudFormation API creates (and later deletes, after updates that
      // restart this stack's own gateway) its resources through the endpoint that outlives it.
      endpoints: fromApi && options.emulators ? options.emulators : endpoints,
      log,
      ...(options.prefix ? { prefix: options.prefix } : {}),
      ...(options.allowUnsupported ? { allowUnsupported: true } : {}),
      onProgress: (d) => {
        deploying = d;
      },
      ...(previous ? { previousNames: previous.names, id: previous.id } : {}),
      lambda: {
        endpoint: endpoints.endpoint,
        async invoke(fn, event, sofar) {
          // The policies of what is deployed so far: the handler's role and its grants come before it.
          targetAccount = accountInArns(sofar.resources.values()) ?? LOCAL_ACCOUNT_ID;
          policies = readPolicies(sofar.model, sofar.resolve, (id) => sofar.resources.get(id));
          // The functions deployed so far answer on the endpoint's Lambda API (cr.Provider's framework
          // invokes the user's onEvent handler through it).
          for (const f of sofar.functions) hostFor(f, sofar.eventSourceMappings.filter((m) => m.functionLogicalId === f.logicalId).length, sofar.resources);
          detachDeploying ??= gateway.attachStack({ stackName: stack.stackName, region: endpoints.region, template: stack.template, deployment: sofar, outputs: {}, runners: new Map(), hosts });
          const r = await hostFor(fn, 0, sofar.resources).invoke(event);
          return r.ok ? { ok: true, value: r.value } : { ok: false, errorType: r.error.errorType, errorMessage: r.error.errorMessage };
        },
      },
    });
    detachDeploying?.();
    deploying = undefined;
    if (dataDir !== undefined) writeDeploymentState(dataDir, { stackName: stack.stackName, id: deployment.id, prefix: deployment.prefix, names: Object.fromEntries(deployment.names) });
    // The deployment, assembly and template the stack runs now (a template change under `watch` replaces them).
    let current = deployment;
    // '' when the template came through the CloudFormation API, or with --no-deploy.
    let currentAssembly = assemblyDir ?? '';
    let currentTemplate = stack.template;

    targetAccount = accountInArns(deployment.resources.values()) ?? LOCAL_ACCOUNT_ID;
    policies = readPolicies(deployment.model, deployment.resolve, (id) => deployment.resources.get(id));
    for (const w of policies.warnings) log(`iam: ${w}`);
    if (!iamEnforced) log(options.iam === false ? 'iam: enforcement OFF (--no-iam): function calls are not checked against their roles' : IAM_NOT_INSTALLED_MESSAGE);
    for (const fn of deployment.functions) hostFor(fn, deployment.eventSourceMappings.filter((m) => m.functionLogicalId === fn.logicalId).length, deployment.resources, streamLanesOf(deployment, fn.logicalId));

    const functionConcurrency = new Map<string, FunctionConcurrency>();
    for (const fn of fnByLogicalId.values()) functionConcurrency.set(fn.logicalId, new FunctionConcurrency(fn.reservedConcurrency));
    // EventBridge destinations are delivered only when the endpoint serves EventBridge.
    const asyncConfigs = new AsyncInvokeConfigs((kind) => kind !== 'events' || gateway.services().includes('events'));
    try {
      for (const r of deployment.recorded.filter((x) => x.type === EVENT_INVOKE_CONFIG_TYPE)) {
        const fnId = String(r.properties.FunctionLogicalId);
        if (asyncConfigs.get(fnId)) throw new AsyncSettingsError(`${r.logicalId}: function ${fnId} already has an EventInvokeConfig (versions and aliases are not emulated: one configuration per function)`);
        asyncConfigs.put(fnId, parseEventInvokeConfig(r.properties, r.logicalId), r.logicalId);
      }
      for (const fn of fnByLogicalId.values()) asyncConfigs.setDeadLetterTarget(fn.logicalId, fn.deadLetterTargetArn, `${fn.logicalId}.DeadLetterConfig`);
    } catch (err) {
      if (err instanceof AsyncSettingsError) throw new UnsupportedResourceError(err.message);
      throw err;
    }
    const destinations = createDestinationSender({
      endpoint: () => gateway.url,
      region: endpoints.region,
      credentials: (id) => credentialsByFunction.get(id),
      supports: (kind) => kind !== 'events' || gateway.services().includes('events'),
      log,
    });
    const asyncInvokers = new Map<string, AsyncInvoker>();
    const addAsyncInvoker = (logicalId: string, host: FunctionHost): void => {
      const functionName = fnByLogicalId.get(logicalId)!.functionName;
      const functionArn = String(current.resources.get(logicalId)?.attributes.Arn ?? `arn:aws:lambda:${endpoints.region}:${targetAccount}:function:${functionName}`);
      asyncInvokers.set(
        logicalId,
        createAsyncInvoker({
          functionName,
          target: host,
          log,
          settings: () => asyncConfigs.settings(logicalId),
          functionConcurrency: functionConcurrency.get(logicalId)!,
          ...(options.asyncRetryDelaysMs ? { retryDelaysMs: options.asyncRetryDelaysMs } : {}),
          ...(options.asyncClock ? { now: options.asyncClock } : {}),
          onOutcome: (o) => {
            const config = asyncConfigs.get(logicalId);
            const deadLetterTarget = asyncConfigs.deadLetterTarget(logicalId);
            if (!config?.onSuccess && !config?.onFailure && !deadLetterTarget) return undefined;
            return destinations.deliver(o, { functionLogicalId: logicalId, functionArn, ...(config ? { config } : {}), ...(deadLetterTarget ? { deadLetterTarget } : {}) });
          },
        }),
      );
    };
    for (const [logicalId, host] of hosts) addAsyncInvoker(logicalId, host);
    // Event queues stop before the hosts (cleanups run in reverse).
    cleanups.push(async () => {
      for (const i of asyncInvokers.values()) i.stop();
    });

    const runners = new Map<string, EventSourceRunner>();
    const makeRunner = (m: DeployedEventSourceMapping): EventSourceRunner => {
      const fn = fnByLogicalId.get(m.functionLogicalId)!;
      return createEventSourceRunner({
        name: m.logicalId,
        queueUrl: m.queueUrl,
        queueArn: m.queueArn,
        // Reserved concurrency is the function's, shared by all its mappings and its event queue.
        host: withFunctionConcurrency(hosts.get(m.functionLogicalId)!, functionConcurrency.get(m.functionLogicalId)!),
        endpoints,
        // Lambda polls with the function's execution role: its SQS grants are evaluated like its own calls.
        credentials: credentialsByFunction.get(m.functionLogicalId)!,
        batchSize: m.batchSize,
        maximumBatchingWindowSeconds: m.maximumBatchingWindowSeconds,
        reportBatchItemFailures: m.reportBatchItemFailures,
        enabled: m.enabled,
        ...(m.maximumConcurrency !== undefined ? { maximumConcurrency: m.maximumConcurrency } : {}),
        ...(fn.reservedConcurrency !== undefined ? { reservedConcurrency: fn.reservedConcurrency } : {}),
        ...(m.provisionedPollerConfig ? { provisionedPollerConfig: m.provisionedPollerConfig } : {}),
        ...(m.filterCriteria ? { filterCriteria: m.filterCriteria } : {}),
        ...(options.waitTimeSeconds !== undefined ? { waitTimeSeconds: options.waitTimeSeconds } : {}),
        ...(options.onInvocation ? { onInvocation: (r: InvocationRecord) => options.onInvocation!(m.logicalId, r) } : {}),
      });
    };
    for (const m of deployment.eventSourceMappings) runners.set(m.logicalId, makeRunner(m));
    const streamPollers = new Map<string, StreamPoller>();
    for (const m0 of deployment.streamEventSourceMappings) {
      const fn = fnByLogicalId.get(m0.functionLogicalId)!;
      // A restart keeps the table and its stream, not the mapping's checkpoint: the records of the last
      // run are not delivered again (as if every one had been checkpointed at the stop).
      const m = previous && m0.startingPosition === 'TRIM_HORIZON' ? { ...m0, startingPosition: 'LATEST' as const } : m0;
      streamPollers.set(
        m.logicalId,
        createStreamPoller({
          mapping: m,
          host: withFunctionConcurrency(hosts.get(m.functionLogicalId)!, functionConcurrency.get(m.functionLogicalId)!),
          endpoints,
          log,
          ...(fn.reservedConcurrency !== undefined ? { reservedConcurrency: fn.reservedConcurrency } : {}),
          ...(m.onFailure ? { sendOnFailure: onFailureSender(m.onFailure, clients) } : {}),
          ...(options.streamPollIntervalMs !== undefined ? { pollIntervalMs: options.streamPollIntervalMs } : {}),
          ...(options.onStreamInvocation ? { onInvocation: (r: StreamInvocationRecord) => options.onStreamInvocation!(m.logicalId, r) } : {}),
        }),
      );
    }
    // Runners stop before the hosts (cleanups run in reverse).
    let handBackOnStop = false;
    cleanups.push(async () => {
      await Promise.all([...runners.values()].map((r) => r.stop({ handBack: handBackOnStop })));
      await Promise.all([...streamPollers.values()].map((p) => p.stop()));
    });

    // EventBridge and Scheduler deliver through the endpoint: rules as the service (the admin), schedules
    // signed as their execution role, so IAM applies to them as on AWS.
    const events = createEventsRuntime({
      region: endpoints.region,
      account: targetAccount,
      endpoint: () => gateway.url,
      credentials: LOCAL_CREDENTIALS,
      recorded: deployment.recorded,
      deliveries,
      log,
      ...(options.eventRetryBaseMs !== undefined ? { retryBaseMs: options.eventRetryBaseMs } : {}),
      ...(options.scheduleTimers === false ? { timers: false } : {}),
    });
    const scheduler = createSchedulerRuntime({
      region: endpoints.region,
      endpoint: () => gateway.url,
      recorded: deployment.recorded,
      log,
      roleCredentials: (roleArn, session) => {
        const role = [...deployment.resources.entries()].find(([, r]) => r.type === 'AWS::IAM::Role' && r.attributes.Arn === roleArn);
        return store.issueForFunction({ functionName: `scheduler-${session}`, roleLogicalId: role?.[0] ?? '', roleName: role?.[1].ref ?? roleArn.split('/').pop() ?? 'unknown', accountId: targetAccount });
      },
      ...(options.eventRetryBaseMs !== undefined ? { retryBaseMs: options.eventRetryBaseMs } : {}),
      ...(options.scheduleTimers === false ? { timers: false } : {}),
    });
    cleanups.push(async () => {
      events.stop();
      scheduler.stop();
    });
    const schedules = {
      fire(name: string): Promise<FireResult> {
        return events.fire(name) ?? scheduler.fire(name) ?? Promise.reject(new EventsApiError(404, 'ResourceNotFoundException', `No scheduled rule or schedule named ${name} in the local stack`));
      },
    };

    let api: { url: string } | undefined;
    let outputs: Record<string, string> = { ...deployment.outputs };
    const hasApi = deployment.model.ofType('AWS::ApiGatewayV2::Api').length > 0;
    if (hasApi && options.api !== false && assemblyDir === undefined) {
      throw new UnsupportedResourceError(`${deployment.model.ofType('AWS::ApiGatewayV2::Api').map((r) => r.logicalId).join(', ')} (AWS::ApiGatewayV2::Api): an HTTP API is served by the local API front only for a stack \`floodgate-local up\` deploys from its cloud assembly, not for one deployed through the CloudFormation API`);
    }
    if (hasApi && options.api !== false && assemblyDir !== undefined) {
      const front = await startApiFront({
        template: deployment.model,
        assemblyDir,
        resolve: deployment.resolve,
        endpoints,
        host: '127.0.0.1',
        ...(options.apiPort !== undefined ? { port: options.apiPort } : {}),
        onLog,
        invoke: async (logicalId, event) => {
          const host = hosts.get(logicalId);
          if (!host) return { ok: false, error: { kind: 'init', errorType: 'Runtime.FunctionNotFound', errorMessage: `no function ${logicalId} in the deployment` } };
          return host.invoke(event);
        },
      });
      cleanups.push(() => front.stop());
      api = { url: front.url };
      // The deployed stack's output is API Gateway's URL; locally it is the front's.
      outputs = localOutputs(outputs, front.url);
    }
    if (options.outputsFile) writeOutputsFile(options.outputsFile, stack.stackName, outputs);
    let runnersStarted = false;
    if (options.startRunners !== false) {
      runnersStarted = true;
      for (const r of runners.values()) r.start();
      for (const p of streamPollers.values()) p.start();
    }

    const deliveryFailures = (): DeliveryFailures => ({
      ...deliveries.snapshot(),
      events: events
        .stats()
        .filter((r) => r.failedInvocations > 0 || r.deadLetterInvocations > 0)
        .map((r) => ({ ruleArn: r.arn, FailedInvocations: r.failedInvocations, DeadLetterInvocations: r.deadLetterInvocations })),
    });
    /**
     * `watch`: the template of a new assembly, applied to the running stack as a diff through the
     * deployment model (deployTemplate with `previous`): unchanged resources and their data stay; the
     * functions, mappings and policies it changes are rewired live. A change the running stack cannot
     * take live (rules, schedules, topics, an API, stream mappings, custom resources) is refused, naming
     * it, before anything is changed.
     */
    const applyAssembly = async (nextDir: string): Promise<string[]> => {
      const next = selectStack(readAssembly(nextDir), stack.stackName);
      const notLive = templateChanges(currentTemplate, next.template).filter((c) => !appliesLive(c.resource));
      if (notLive.length > 0) {
        throw new UnsupportedResourceError(
          `the new template changes what the running stack cannot take live, so nothing was changed:\n${notLive.map((c) => `  - ${c.action} ${c.logicalId} (${c.resource.Type})`).join('\n')}\nRestart \`up\` to deploy it.`,
        );
      }
      const before = current;
      const updated = await deployTemplate({
        template: next.template,
        stackName: stack.stackName,
        assemblyDir: nextDir,
        endpoints,
        log,
        previous: before,
        // A dev loop keeps its data: what could only be replaced is refused, naming it (restart to deploy it).
        replacements: 'refuse',
        ...(options.allowUnsupported ? { allowUnsupported: true } : {}),
      });
      policies = readPolicies(updated.model, updated.resolve, (id) => updated.resources.get(id));
      const gone = new Map(before.functions.map((f) => [f.logicalId, f]));
      for (const f of updated.functions) {
        const old = gone.get(f.logicalId);
        gone.delete(f.logicalId);
        if (old === f) continue;
        if (old) {
          // New code or settings: the next invocation starts on them, those in flight finish as they began.
          const fn = { ...f, ...options.functionOverrides?.(f) };
          fnByLogicalId.set(fn.logicalId, fn);
          hosts.get(fn.logicalId)!.updateCode({ assetDir: fn.assetDir, handler: fn.handler, environment: environmentOf(fn), timeoutSeconds: fn.timeoutSeconds, memoryMb: fn.memoryMb });
        } else {
          const host = hostFor(f, updated.eventSourceMappings.filter((m) => m.functionLogicalId === f.logicalId).length, updated.resources);
          const fn = fnByLogicalId.get(f.logicalId)!;
          functionConcurrency.set(fn.logicalId, new FunctionConcurrency(fn.reservedConcurrency));
          asyncConfigs.setDeadLetterTarget(fn.logicalId, fn.deadLetterTargetArn, `${fn.logicalId}.DeadLetterConfig`);
          addAsyncInvoker(fn.logicalId, host);
        }
      }
      const oldMappings = new Map(before.eventSourceMappings.map((m) => [m.logicalId, m]));
      for (const m of updated.eventSourceMappings) {
        const old = oldMappings.get(m.logicalId);
        oldMappings.delete(m.logicalId);
        if (old === m) continue;
        // A changed mapping: its poller stops (its batches in flight finish) and one with the new settings starts.
        await runners.get(m.logicalId)?.stop();
        const runner = makeRunner(m);
        runners.set(m.logicalId, runner);
        if (runnersStarted) runner.start();
      }
      for (const id of oldMappings.keys()) {
        await runners.get(id)?.stop();
        runners.delete(id);
      }
      for (const id of gone.keys()) {
        asyncInvokers.get(id)?.stop();
        asyncInvokers.delete(id);
        await hosts.get(id)?.stop();
        hosts.delete(id);
        fnByLogicalId.delete(id);
      }
      current = updated;
      if (dataDir !== undefined) writeDeploymentState(dataDir, { stackName: stack.stackName, id: updated.id, prefix: updated.prefix, names: Object.fromEntries(updated.names) });
      currentAssembly = nextDir;
      currentTemplate = next.template;
      outputs = api ? localOutputs(updated.outputs, api.url) : { ...updated.outputs };
      if (options.outputsFile) writeOutputsFile(options.outputsFile, stack.stackName, outputs);
      await updated.retire();
      return updated.changes.map((c) => `${c.action === 'Add' ? 'added' : c.action === 'Remove' ? 'removed' : 'updated'} ${c.logicalId} (${c.type})`);
    };

    let stopped = false;
    let detach = (): void => undefined;
    let hotReload: HotReload | undefined;
    const local: LocalStack = {
      stackName: stack.stackName,
      get assemblyDir() {
        return currentAssembly;
      },
      endpoint: endpoints.endpoint,
      region: endpoints.region,
      credentials: LOCAL_CREDENTIALS,
      clients,
      gateway,
      target: owned || upstream.backends ? 'emulators' : 'external',
      iam: iamEnforced,
      policies,
      functionCredentials: (logicalId) => credentialsByFunction.get(logicalId),
      endpoints,
      get deployment() {
        return current;
      },
      get template() {
        return currentTemplate;
      },
      get outputs() {
        return outputs;
      },
      runners,
      streamPollers,
      hosts,
      asyncInvokers,
      events,
      schedules,
      putEvents: (bus, entries) => events.putEventsOn(bus, entries),
      asyncConfigs,
      functionConcurrency,
      ...(api ? { api } : {}),
      get hotReload() {
        return hotReload;
      },
      logStore,
      logs(ref) {
        const fn = current.functions.find((f) => f.functionName === ref || f.logicalId === ref);
        if (!fn) throw new Error(`no function ${ref} in the deployment (functions: ${current.functions.map((f) => f.functionName).join(', ') || 'none'})`);
        return logStore.events(fn.logGroupName ?? `/aws/lambda/${fn.functionName}`) ?? [];
      },
      onLog(listener) {
        logListeners.add(listener);
        return () => void logListeners.delete(listener);
      },
      startRunners() {
        runnersStarted = true;
        for (const r of runners.values()) r.start();
        for (const p of streamPollers.values()) p.start();
      },
      stats() {
        const runnerStats = [...runners.values()].map((r) => r.stats());
        return {
          runners: runnerStats,
          functions: [...hosts.values()].map((h) => h.stats()),
          maxConcurrentExecutions: runnerStats.reduce((m, r) => Math.max(m, r.maxConcurrentExecutions), 0),
          events: { rules: events.stats(), schedules: scheduler.stats() },
          deliveryFailures: deliveryFailures(),
        };
      },
      deliveryFailures,
      cloudFormation,
      dataDir,
      restored: previous !== undefined,
      async reset() {
        const started = performance.now();
        let asyncEventsDropped = 0;
        for (const i of asyncInvokers.values()) asyncEventsDropped += i.clear();
        // Each stream mapping is held while the tables are emptied, so that the deletes are not delivered.
        const pollers = [...streamPollers.values()];
        const hold = (i: number): Promise<EmptyReport> => (i < pollers.length ? pollers[i]!.skip(() => hold(i + 1)) : current.empty(resetClients));
        const emptied = await hold(0);
        return { ...emptied, asyncEventsDropped, ms: performance.now() - started };
      },
      async stop(opts = {}) {
        if (stopped) return;
        stopped = true;
        handBackOnStop = opts.handBack === true;
        hotReload?.close();
        // The stacks deployed through the CloudFormation API stop first (their resources stay, or go with the emulators).
        await cloudFormation.stop();
        // Custom resources get their Delete when the stack's resources go (destroyed, or the emulators
        // stop with it), first, while everything runs (cr.Provider reaches its handler through the
        // endpoint's Lambda API); on shared emulators kept alive, or in a data directory, they stay like
        // the rest.
        if (opts.destroy || (owned && dataDir === undefined)) await current.teardown();
        detach();
        // Runners, API and hosts first (reverse order), then the resources, then the gateway and emulators.
        const [gatewayStop, clientsDestroy, ...rest] = cleanups;
        for (const c of rest.reverse()) await c().catch(() => undefined);
        if (opts.destroy) {
          await current.destroy().catch(() => undefined);
          if (dataDir !== undefined) deleteDeploymentState(dataDir, stack.stackName);
        }
        await clientsDestroy!().catch(() => undefined);
        await gatewayStop!().catch(() => undefined);
        await owned?.stop();
        unlock?.();
      },
    };
    detach = gateway.attachStack(local);
    if (options.watch) {
      const projectDir = options.projectDir ?? process.cwd();
      hotReload = startHotReload(
        {
          assemblyDir: () => local.assemblyDir,
          functions: () => local.deployment.functions,
          swapCode: (logicalId, dir) => hosts.get(logicalId)?.updateCode({ assetDir: dir }),
          synthesize: async () => {
            const next = (await synthesize(synthOptions)).assemblyDir;
            return next === local.assemblyDir ? undefined : next;
          },
          applyAssembly,
        },
        { projectDir, appInputs: DEFAULT_SYNTH_INPUTS, log, ...(typeof options.watch === 'object' && options.watch.debounceMs !== undefined ? { debounceMs: options.watch.debounceMs } : {}) },
      );
    }
    return local;
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await owned?.stop();
    unlock?.();
    throw err;
  }
}

export { concurrencyCap };

/** The deployed stack's API Gateway URLs in its outputs, as the local API front's. */
function localOutputs(outputs: Readonly<Record<string, string>>, frontUrl: string): Record<string, string> {
  const out = { ...outputs };
  for (const [key, value] of Object.entries(out)) {
    if (/^https:\/\/[^/]+\.execute-api\./.test(value)) out[key] = frontUrl.replace(/\/$/, '') + (value.endsWith('/') ? '/' : '');
  }
  return out;
}

/** Types a running stack takes live under `watch` (created, updated or deleted, then rewired). */
const LIVE_TYPES = new Set(['AWS::SQS::Queue', 'AWS::SQS::QueuePolicy', 'AWS::Lambda::Function', 'AWS::Lambda::EventSourceMapping', 'AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::DynamoDB::Table']);

/** Whether a changed resource can be applied to the running stack: a live type (not a stream mapping), or one that moves nothing. */
function appliesLive(r: { readonly Type: string; readonly Properties?: Record<string, unknown> }): boolean {
  if (r.Type === 'AWS::Lambda::EventSourceMapping') return r.Properties?.StartingPosition === undefined;
  return LIVE_TYPES.has(r.Type) || provisionerFor(r.Type)?.kind === 'not-emulated';
}

/** The account id in the deployed resources' ARNs (queues and tables carry one), if any. */
export function accountInArns(resources: Iterable<{ readonly attributes?: Readonly<Record<string, unknown>> }>): string | undefined {
  for (const r of resources) {
    const m = /^arn:aws[\w-]*:(?:sqs|dynamodb|lambda):[^:]*:(\d{12}):/.exec(String(r.attributes?.['Arn'] ?? ''));
    if (m) return m[1];
  }
  return undefined;
}
