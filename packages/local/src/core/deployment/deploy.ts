/**
 * Deploys a synthesized CloudFormation template onto the local target (the embedded emulators behind
 * the gateway, or an external AWS-compatible endpoint): resources are provisioned in dependency order,
 * each by the provisioner for its type (services/<service>/, one file per type); functions and event source
 * mappings are returned for the Lambda host and the poller; IAM and resource policies are recorded.
 * Names are kept as the template writes them; unnamed resources get CloudFormation-style generated names
 * (`<stack>-<logicalId>-<RANDOM>`). A name prefix is for a shared external endpoint only.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CfnResource, CfnTemplate } from './assembly.js';
import { localClients } from '../clients.js';
import type { LocalEndpoints } from '../endpoints.js';
import { UnsupportedResourceError } from './errors.js';
import { resourceName } from './values.js';
import { deploymentModel, type DeploymentModel } from './model.js';
import { placeholder } from '../../services/support.js';
import { IntrinsicError, evaluateCondition, referencedIds, resolveValue, type PhysicalResource, type ResolveContext } from './intrinsics.js';
import { PROVISIONERS, describeUnsupported, provisionerFor, unsupportedResources, type Unsupported, type DeployedEventSourceMapping, type DeployedStreamEventSourceMapping, type DeployedFunction, type FunctionOutcome, type Provisioner, type ProvisionResult, type RecordedResource } from '../../services/provisioners.js';

export { UnsupportedResourceError } from './errors.js';
export { NOT_EMULATED, PROVISIONERS, generatedName, provisionerFor, resourceName } from '../../services/provisioners.js';
export type { DeployedEventSourceMapping, DeployedStreamEventSourceMapping, DeployedFunction, Provisioner, ProvisionContext, ProvisionKind, ProvisionResult, RecordedResource } from '../../services/provisioners.js';

import { LOCAL_ACCOUNT_ID } from '../identity.js';
export { LOCAL_ACCOUNT_ID };

export interface LocalDeployment {
  readonly stackName: string;
  /** This deployment's own id (random): stack ids and other per-deployment identifiers derive from it. */
  readonly id: string;
  /** The name prefix (`--name-prefix`), or '' when names are as written. */
  readonly prefix: string;
  readonly template: CfnTemplate;
  /** The template as read once (defaults applied, Conditions evaluated): what every consumer reads. */
  readonly model: DeploymentModel;
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  readonly functions: readonly DeployedFunction[];
  readonly eventSourceMappings: readonly DeployedEventSourceMapping[];
  /** DynamoDB Streams mappings (run by services/lambda/stream-poller.ts). */
  readonly streamEventSourceMappings: readonly DeployedStreamEventSourceMapping[];
  /** IAM roles and policies, queue and bucket policies, with resolved documents (not enforced by the emulators). */
  readonly recorded: readonly RecordedResource[];
  /** `{ OutputKey: value }` for this stack. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Resource types present in the template and passed over: they move no message (alarms, log groups, ...). */
  readonly notEmulated: readonly string[];
  /** Resources the local stack cannot emulate, let through by `allowUnsupported` (with what does not happen). */
  readonly unsupported: readonly Unsupported[];
  /** Resources served by the local API front (ApiGatewayV2, Lambda permissions). */
  readonly apiResources: readonly string[];
  /** The parameter values this deployment used (given ones, else Defaults). */
  readonly parameters: Readonly<Record<string, string | string[]>>;
  /** What each resource was provisioned from and into (an update diffs against it). */
  readonly provisioned: ReadonlyMap<string, ProvisionedResource>;
  /** Resolves intrinsics against this deployment (for the API front and tools). */
  resolve(value: unknown): unknown;
  /** Deletes the queues, tables and buckets this deployment created (best effort). */
  destroy(): Promise<void>;
  /** An update's changes against `previous` (empty for a first deployment). */
  readonly changes: readonly ResourceChange[];
  /**
   * After an update: deletes what the previous deployment had and this one no longer has (removed and
   * replaced resources, custom resources' Delete first), in reverse creation order. Returns the failures.
   */
  retire(): Promise<readonly Error[]>;
  /**
   * Runs what deleting the stack runs on its own functions (custom resources' Delete), in reverse
   * creation order, once; call it while the Lambda host still runs. Returns the failures (each is logged).
   */
  teardown(): Promise<readonly Error[]>;
}

/** One resource of a deployment: its type, its resolved properties, its physical name and what its provisioner returned. */
export interface ProvisionedResource {
  readonly type: string;
  /** Properties with every intrinsic resolved (what an update compares). */
  readonly props: Readonly<Record<string, unknown>>;
  /** The physical name given by `name()` (kept by an in-place update), when the provisioner asked for one. */
  readonly name?: string;
  readonly result: ProvisionResult;
}

/** What an update did to each resource (as a changeset lists it). */
export interface ResourceChange {
  readonly logicalId: string;
  readonly type: string;
  readonly action: 'Add' | 'Modify' | 'Remove';
  /** Modify only: whether the resource was replaced (a new physical resource) or updated in place. */
  readonly replacement?: boolean;
}

export interface DeployOptions {
  readonly template: CfnTemplate;
  readonly stackName: string;
  /**
   * Directory of the cloud assembly (function code is found there). Without it (a template deployed
   * through the CloudFormation API), a function's code is read from the S3 object its Code names.
   */
  readonly assemblyDir?: string;
  /** Parameter values (a changeset's Parameters); the others take their Default. */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * The deployment this one updates (a CloudFormation stack update): resources whose type and resolved
   * properties are unchanged are kept as they are (with their data); changed ones are updated in place
   * when nothing is created in the target for them (functions, mappings, policies) and replaced when
   * the template does not name them (a new queue or bucket, the old one deleted after); removed ones are
   * deleted by `retire()` of the result. A changed resource that is created in the target under a name
   * the template writes cannot be replaced under the same name: the update is refused, as
   * CloudFormation refuses it.
   */
  readonly previous?: LocalDeployment;
  readonly endpoints: LocalEndpoints;
  /**
   * A prefix for every physical name, for an endpoint shared with other deployments (`--name-prefix`).
   * @default none: names as the template writes them, CloudFormation-style names for unnamed resources
   */
  readonly prefix?: string;
  /** Write `{ [stackName]: outputs }` here (the `cdk deploy --outputs-file` format). */
  readonly outputsFile?: string;
  /** Receives the one-line notice about types not emulated. @default console.log */
  readonly log?: (line: string) => void;
  /** The provisioner registry. @default PROVISIONERS */
  readonly provisioners?: readonly Provisioner[];
  /**
   * Deploy a template with resources the local stack cannot emulate (`--allow-unsupported`): each is
   * named in a warning saying what will not happen, instead of refusing the deployment. @default false
   */
  readonly allowUnsupported?: boolean;
  /** Runs the stack's functions during the deployment (custom resources); without it they are refused. */
  readonly lambda?: DeployLambdaHost;
  /** A failed deployment deletes the queues, tables and buckets it created (CloudFormation's rollback). @default only on an update */
  readonly deleteOnFailure?: boolean;
}

/** The local Lambda host as the deployer uses it (given by the composition root, stack.ts). */
export interface DeployLambdaHost {
  /** The endpoint URL the functions call (a custom resource's ResponseURL is presigned for it). */
  readonly endpoint: string;
  /** Runs `fn`; `deployment` is the deployment so far (what is created, the functions, resolve). */
  invoke(fn: DeployedFunction, event: unknown, deployment: LocalDeployment): Promise<FunctionOutcome>;
}

/** Orders logical ids so that every resource comes after the resources it references. */
function dependencyOrder(model: DeploymentModel): string[] {
  const ids = model.resources.map((r) => r.logicalId);
  const deps = new Map<string, Set<string>>();
  for (const r of model.resources) {
    const d = referencedIds(r.properties);
    for (const x of r.dependsOn) d.add(x);
    deps.set(r.logicalId, new Set([...d].filter((x) => model.get(x) !== undefined && x !== r.logicalId)));
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
  const { template, stackName, assemblyDir, endpoints, outputsFile, log = (l: string) => console.log(l), provisioners = PROVISIONERS } = options;
  const prefix = options.prefix ?? '';
  const id = randomBytes(8).toString('hex');
  if (prefix !== '' && !/^[a-z0-9][a-z0-9-]{0,23}$/.test(prefix)) throw new Error(`prefix "${prefix}" must be 1-24 characters of a-z 0-9 -, starting with a letter or digit`);
  const { region } = endpoints;
  const accountId = LOCAL_ACCOUNT_ID;
  const clients = localClients(endpoints);
  const resources = new Map<string, PhysicalResource>();
  // The template is read once, here; every later consumer (IAM, the API front) reads this model.
  const model = deploymentModel(template, { stackName, region, accountId, ...(options.parameters ? { parameters: options.parameters } : {}) });
  const ctx: ResolveContext = { stackName, region, accountId, resources, parameters: model.parameters, conditions: template.Conditions ?? {} };
  const resolve = (v: unknown): unknown => resolveValue(v, ctx);
  const arn = (service: string, resource: string, withRegion = true): string => `arn:aws:${service}:${withRegion ? region : ''}:${accountId}:${resource}`;

  // Refuse what cannot be emulated before creating anything (services/support.ts decides).
  const unsupported = unsupportedResources(template, provisioners, (id) => model.get(id) !== undefined);
  if (unsupported.length > 0 && !options.allowUnsupported) {
    throw new UnsupportedResourceError(
      `The local stack cannot emulate ${unsupported.length === 1 ? 'this resource' : 'these resources'}, so nothing was created:\n` +
        unsupported.map((u) => `  - ${describeUnsupported(u)}`).join('\n') +
        `\nRun with --allow-unsupported (startLocalStack({ allowUnsupported: true })) to deploy the rest anyway, knowing that the above does not happen.`,
    );
  }
  const placeholderIds = new Set(unsupported.filter((u) => u.placeholder).map((u) => u.logicalId));
  const provisionerOf = (id: string, r: CfnResource): Provisioner => (placeholderIds.has(id) ? placeholder : provisionerFor(r.Type, provisioners)!);
  const entries = model.resources.map((m) => [m.logicalId, m.resource] as const);
  const notEmulated = [...new Set(entries.filter(([id, r]) => provisionerOf(id, r).kind === 'not-emulated').map(([, r]) => r.Type))].sort();
  const apiResources = entries.filter(([id, r]) => provisionerOf(id, r).kind === 'served-by-api-front').map(([id]) => id);
  const recordedTypes = [...new Set(entries.filter(([id, r]) => provisionerOf(id, r).kind === 'recorded').map(([, r]) => r.Type))].sort();
  // Only types that move no message are passed over quietly; never say "no effect" of one that does.
  log(`local deploy: passed over (they move no messages): ${notEmulated.length ? notEmulated.join(', ') : 'none'}` + (recordedTypes.length ? `; recorded for IAM: ${recordedTypes.join(', ')}` : ''));
  for (const u of unsupported) log(`local deploy: WARNING (--allow-unsupported) not emulated: ${describeUnsupported(u)}`);

  const functions: DeployedFunction[] = [];
  const mappings: DeployedEventSourceMapping[] = [];
  const streamMappings: DeployedStreamEventSourceMapping[] = [];
  const recorded: RecordedResource[] = [];
  // Every resource in creation order (kept ones from `previous` included): destroy() and teardown() walk it backwards.
  const provisioned = new Map<string, ProvisionedResource>();
  const previous = options.previous;
  const changes: ResourceChange[] = [];
  // What the previous deployment had that this one replaced or removed: deleted by retire().
  const retiring: Array<{ logicalId: string; entry: ProvisionedResource }> = [];
  const tornDown = new Set<ProvisionResult>();
  const teardownOf = async (entries: ReadonlyArray<{ logicalId: string; entry: ProvisionedResource }>): Promise<Error[]> => {
    const errors: Error[] = [];
    for (const { logicalId, entry } of [...entries].reverse()) {
      const t = entry.result.teardown;
      if (!t || tornDown.has(entry.result)) continue;
      tornDown.add(entry.result);
      try {
        await t();
      } catch (err) {
        errors.push(err as Error);
        log(`local deploy: deleting ${logicalId} failed: ${(err as Error).message}`);
      }
    }
    return errors;
  };
  const inOrder = (): Array<{ logicalId: string; entry: ProvisionedResource }> => [...provisioned].map(([logicalId, entry]) => ({ logicalId, entry }));
  const teardown = (): Promise<Error[]> => teardownOf(inOrder());
  const outputs: Record<string, string> = {};
  // Filled as resources are created: handed to the Lambda host while deploying, returned when done.
  const deployment: LocalDeployment = {
    stackName,
    id,
    prefix,
    template,
    model,
    resources,
    functions,
    eventSourceMappings: mappings,
    streamEventSourceMappings: streamMappings,
    recorded,
    outputs,
    notEmulated,
    unsupported,
    apiResources,
    parameters: model.parameters,
    provisioned,
    changes,
    resolve,
    teardown,
    async destroy() {
      // Reverse creation order: buckets are emptied, then tables and queues go (best effort).
      for (const { entry } of inOrder().reverse()) await entry.result.destroy?.().catch(() => undefined);
      clients.destroy();
    },
    async retire() {
      const errors = await teardownOf(retiring);
      for (const { logicalId, entry } of [...retiring].reverse()) {
        await entry.result.destroy?.().catch((err: unknown) => {
          errors.push(err as Error);
          log(`local deploy: deleting ${logicalId} failed: ${(err as Error).message}`);
        });
      }
      retiring.length = 0;
      return errors;
    },
  };
  const host = options.lambda;
  const lambda = host && { endpoint: host.endpoint, invoke: (fn: DeployedFunction, event: unknown) => host.invoke(fn, event, deployment) };
  const collect = (logicalId: string, entry: ProvisionedResource): void => {
    const result = entry.result;
    resources.set(logicalId, result.physical);
    if (result.function) functions.push(result.function);
    if (result.eventSourceMapping) mappings.push(result.eventSourceMapping);
    if (result.streamEventSourceMapping) streamMappings.push(result.streamEventSourceMapping);
    if (result.recorded) recorded.push(result.recorded);
    provisioned.set(logicalId, entry);
  };
  const created: Array<{ logicalId: string; entry: ProvisionedResource }> = [];
  try {
    for (const logicalId of dependencyOrder(model)) {
      const r = model.get(logicalId)!.resource;
      const props = (resolve(r.Properties ?? {}) ?? {}) as Record<string, unknown>;
      const before = previous?.provisioned.get(logicalId);
      if (before && before.type === r.Type && sameValue(before.props, props)) {
        collect(logicalId, before);
        continue;
      }
      const provisioner = provisionerOf(logicalId, r);
      // In place: nothing of it lives in the target (a function, a mapping, a policy), so the same
      // physical name is given again. Otherwise a changed resource is replaced.
      const inPlace = before !== undefined && before.type === r.Type && (provisioner.kind !== 'created' || provisioner.updatesInPlace === true) && before.result.teardown === undefined;
      let given: string | undefined;
      const result = await provisioner.provision({
        logicalId,
        resource: r,
        props,
        prefix,
        stackName,
        region,
        accountId,
        ...(assemblyDir !== undefined ? { assemblyDir } : {}),
        clients,
        resources,
        log,
        endpoint: endpoints.endpoint,
        arn,
        functions,
        ...(lambda ? { lambda } : {}),
        name: (explicit, rules) => {
          const wanted = typeof explicit === 'string' && explicit !== '' ? resourceName({ explicit, namePrefix: prefix, stackName, logicalId }, rules) : undefined;
          if (before && !inPlace && wanted !== undefined && wanted === before.name) {
            throw new UnsupportedResourceError(`${logicalId} (${r.Type}): this update changes it in a way the local stack applies by replacing the resource, and its name "${wanted}" is written in the template, so a replacement cannot be created next to it (CloudFormation refuses this update too). Change its name, or destroy the stack and deploy again.`);
          }
          given = wanted ?? (inPlace ? before.name : undefined) ?? resourceName({ namePrefix: prefix, stackName, logicalId }, rules);
          return given;
        },
      });
      const entry: ProvisionedResource = { type: r.Type, props, ...(given !== undefined ? { name: given } : {}), result };
      collect(logicalId, entry);
      if (!inPlace) created.push({ logicalId, entry });
      if (before) {
        changes.push({ logicalId, type: r.Type, action: 'Modify', replacement: !inPlace });
        if (!inPlace) retiring.push({ logicalId, entry: before });
      } else if (previous) changes.push({ logicalId, type: r.Type, action: 'Add' });
    }
  } catch (err) {
    // As CloudFormation rolls back: what this deployment created is deleted (custom resources get their
    // Delete); on an update (or when asked) the new queues, tables and buckets go too, and the kept ones stay.
    if (created.some((c) => c.entry.result.teardown)) log('local deploy: rolling back');
    await teardownOf(created);
    if (previous || options.deleteOnFailure) for (const { entry } of created.reverse()) await entry.result.destroy?.().catch(() => undefined);
    throw err;
  }
  for (const [logicalId, entry] of previous?.provisioned ?? []) {
    if (provisioned.has(logicalId)) continue;
    changes.push({ logicalId, type: entry.type, action: 'Remove' });
    retiring.push({ logicalId, entry });
  }

  for (const [key, o] of Object.entries(template.Outputs ?? {})) {
    if (o.Condition !== undefined && !model.condition(o.Condition)) continue;
    try {
      const v = resolve(o.Value);
      outputs[key] = typeof v === 'string' ? v : JSON.stringify(v);
    } catch (err) {
      throw new Error(`Output ${key}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (outputsFile) writeOutputsFile(outputsFile, stackName, outputs);

  return deployment;
}

/** Writes `{ [stackName]: outputs }`: the `cdk deploy --outputs-file` format. */
export function writeOutputsFile(file: string, stackName: string, outputs: Record<string, string>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ [stackName]: outputs }, null, 2)}\n`);
}

/** Deep equality of resolved property values (JSON shapes). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => sameValue(x, (b as unknown[])[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
