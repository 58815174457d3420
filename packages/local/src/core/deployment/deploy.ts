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
import { resourceName, type NameRules } from './values.js';
import { deploymentModel, type DeploymentModel } from './model.js';
import { placeholder } from '../../services/support.js';
import { IntrinsicError, evaluateCondition, referencedIds, resolveValue, type PhysicalResource, type ResolveContext } from './intrinsics.js';
import type { EmptyClients } from './provisioner.js';
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
  /** The physical name given to each named resource, by logical id (kept in a data directory). */
  readonly names: ReadonlyMap<string, string>;
  /** What each resource was provisioned from and into, in creation order (an update diffs against it). */
  readonly provisioned: ReadonlyMap<string, ProvisionedResource>;
  /** An update's changes against `previous` (empty for a first deployment). */
  readonly changes: readonly ResourceChange[];
  /** The parameter values this deployment used (given ones, else Defaults). */
  readonly parameters: Readonly<Record<string, string | string[]>>;
  /** Resolves intrinsics against this deployment (for the API front and tools). */
  resolve(value: unknown): unknown;
  /** Deletes the queues, tables and buckets this deployment created (best effort). */
  destroy(): Promise<void>;
  /**
   * After an update: deletes what the previous deployment had and this one no longer has (removed and
   * replaced resources, custom resources' Delete first), in reverse creation order. Returns the failures.
   */
  retire(): Promise<readonly Error[]>;
  /**
   * Empties what this deployment created and keeps it (the reset): every queue's messages (in flight
   * and delayed too), every table's items, every bucket's objects. All at once; the first failure
   * rejects after the others have settled. `clients`: where to send the requests (e.g. straight to the
   * emulators); @default the deployment's own (through the endpoint).
   */
  empty(clients?: EmptyClients): Promise<EmptyReport>;
  /**
   * Runs what deleting the stack runs on its own functions (custom resources' Delete), in reverse
   * creation order, once; call it while the Lambda host still runs. Returns the failures (each is logged).
   */
  teardown(): Promise<readonly Error[]>;
}

/** What `LocalDeployment.empty()` did, per resource kind. */
export interface EmptyReport {
  /** Resources emptied, by CloudFormation type. */
  readonly resources: Readonly<Record<string, number>>;
  /** Items and objects deleted (queues are purged whole and not counted). */
  readonly deleted: number;
}

/** One resource of a deployment: its type, its resolved properties, its physical name, what its provisioner returned. */
export interface ProvisionedResource {
  readonly type: string;
  /** Properties with every intrinsic resolved (what an update compares). */
  readonly props: Readonly<Record<string, unknown>>;
  /** The physical name `name()` gave, when the provisioner asked for one (an in-place update keeps it). */
  readonly name?: string;
  readonly result: ProvisionResult;
}

/** What an update did to a resource. */
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
  /** The deployment so far, after each resource is created (resource policies apply while deploying). */
  readonly onProgress?: (deployment: LocalDeployment) => void;
  /**
   * The physical names a previous deployment of this stack gave (a data directory's state): a resource
   * the template does not name gets its previous name again, so the resources kept by the emulators are
   * found instead of created a second time. @default none (fresh generated names)
   */
  readonly previousNames?: Readonly<Record<string, string>>;
  /** The deployment's id (a previous deployment's, from a data directory). @default random */
  readonly id?: string;
  /**
   * The deployment this one updates (a CloudFormation change set, a template changed under `up
   * --watch`). Resources whose type and resolved properties are unchanged are kept as they are, with
   * their data. A changed resource is updated in place when its provisioner can (`update`: a queue's
   * attributes) or when nothing of it lives in the target (functions, mappings, policies: provisioned
   * again under the same name); otherwise it is replaced (see `replacements`), and a replacement of a
   * resource whose name the template writes is refused, as CloudFormation refuses it. Removed and
   * replaced resources are deleted by `retire()` of the result; the previous deployment stays valid
   * until then.
   */
  readonly previous?: LocalDeployment;
  /** A failed deployment deletes the queues, tables and buckets it created (CloudFormation's rollback). @default only on an update */
  readonly deleteOnFailure?: boolean;
  /**
   * What an update does with a changed resource that can only be replaced (a new table or bucket, the old
   * one deleted by `retire()`): `replace`, as CloudFormation does, or `refuse`, naming it, because its data
   * would be lost (`up --watch`: restart to deploy it). @default 'replace'
   */
  readonly replacements?: 'replace' | 'refuse';
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
  const previous = options.previous;
  const prefix = previous?.prefix ?? options.prefix ?? '';
  const id = previous?.id ?? options.id ?? randomBytes(8).toString('hex');
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
  // Every resource in creation order (those kept from `previous` included): destroy() and teardown() walk it backwards.
  const provisioned = new Map<string, ProvisionedResource>();
  const names = new Map<string, string>();
  const changes: ResourceChange[] = [];
  // What the previous deployment had and this one removed: deleted by retire().
  const retiring: Array<[string, ProvisionedResource]> = [];
  const tornDown = new Set<ProvisionResult>();
  const teardownOf = async (entries: ReadonlyArray<[string, ProvisionedResource]>): Promise<Error[]> => {
    const errors: Error[] = [];
    for (const [logicalId, { result }] of [...entries].reverse()) {
      if (!result.teardown || tornDown.has(result)) continue;
      tornDown.add(result);
      try {
        await result.teardown();
      } catch (err) {
        errors.push(err as Error);
        log(`local deploy: deleting ${logicalId} failed: ${(err as Error).message}`);
      }
    }
    return errors;
  };
  const teardown = (): Promise<Error[]> => teardownOf([...provisioned]);
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
    names,
    parameters: model.parameters,
    provisioned,
    changes,
    resolve,
    teardown,
    async empty(through: EmptyClients = clients) {
      const emptiers = [...provisioned.values()].filter((e) => e.result.empty !== undefined);
      const results = await Promise.allSettled(emptiers.map((e) => e.result.empty!(through)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const resources: Record<string, number> = {};
      for (const e of emptiers) resources[e.type] = (resources[e.type] ?? 0) + 1;
      return { resources, deleted: results.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0) };
    },
    async destroy() {
      // Reverse creation order: buckets are emptied, then tables and queues go (best effort).
      for (const { result } of [...provisioned.values()].reverse()) await result.destroy?.().catch(() => undefined);
      clients.destroy();
    },
    async retire() {
      const errors = await teardownOf(retiring);
      for (const [logicalId, { result }] of [...retiring].reverse()) {
        await result.destroy?.().catch((err: unknown) => {
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
    const { result } = entry;
    resources.set(logicalId, result.physical);
    if (result.function) functions.push(result.function);
    if (result.eventSourceMapping) mappings.push(result.eventSourceMapping);
    if (result.streamEventSourceMapping) streamMappings.push(result.streamEventSourceMapping);
    if (result.recorded) recorded.push(result.recorded);
    provisioned.set(logicalId, entry);
    if (entry.name !== undefined) names.set(logicalId, entry.name);
    options.onProgress?.(deployment);
  };
  // What this deployment created (not what it kept or updated in place): a failure deletes it again.
  const created: Array<[string, ProvisionedResource]> = [];
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
      // How a changed resource is applied, as CloudFormation applies an update: in place when its
      // provisioner updates it (a queue's attributes), or when nothing of it lives in the target (a
      // function, a mapping, a policy: provisioned again under the same name); otherwise it is replaced by
      // a new one, and the old one is deleted by retire().
      const mode: 'new' | 'update' | 'in-place' | 'replace' =
        before === undefined || before.type !== r.Type
          ? 'new'
          : provisioner.kind === 'created'
            ? provisioner.update
              ? 'update'
              : provisioner.updatesInPlace
                ? 'in-place'
                : 'replace'
            : before.result.teardown === undefined
              ? 'in-place'
              : 'replace';
      if (mode === 'replace' && options.replacements === 'refuse') {
        throw new UnsupportedResourceError(
          `${logicalId} (${r.Type}) changed, and the local stack cannot update it in place: ${provisioner.kind === 'created' ? 'replacing it would lose its data' : 'its custom resource handler would have to run its Update'}. Nothing was changed. Restart \`up\` to deploy the new template.`,
        );
      }
      let given: string | undefined;
      const ctx = {
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
        // An update keeps the name it gave before, unless the template now writes another one; a data
        // directory's deployment gives its names again. A replacement cannot take a name the template
        // writes while the old resource still has it (CloudFormation refuses that update too).
        name: (explicit: unknown, rules: NameRules): string => {
          const wanted = typeof explicit === 'string' && explicit !== '' ? resourceName({ explicit, namePrefix: prefix, stackName, logicalId }, rules) : undefined;
          if (mode === 'replace' && wanted !== undefined && wanted === before!.name) {
            throw new UnsupportedResourceError(`${logicalId} (${r.Type}): this update changes it in a way the local stack applies by replacing the resource, and its name "${wanted}" is written in the template, so a replacement cannot be created next to it (CloudFormation refuses this update too). Change its name, or destroy the stack and deploy again.`);
          }
          given = wanted ?? ((mode === 'update' || mode === 'in-place') && before!.name !== undefined ? before!.name : undefined) ?? previousName(options.previousNames?.[logicalId], explicit, rules) ?? resourceName({ explicit, namePrefix: prefix, stackName, logicalId }, rules);
          return given;
        },
      };
      const result = mode === 'update' ? await provisioner.update!(ctx, before!.result) : await provisioner.provision(ctx);
      const entry: ProvisionedResource = { type: r.Type, props, ...(given !== undefined ? { name: given } : {}), result };
      collect(logicalId, entry);
      if (mode === 'new') {
        created.push([logicalId, entry]);
        if (previous) changes.push({ logicalId, type: r.Type, action: 'Add' });
      } else {
        changes.push({ logicalId, type: r.Type, action: 'Modify', replacement: mode === 'replace' });
        if (mode === 'replace') {
          created.push([logicalId, entry]);
          retiring.push([logicalId, before!]);
        }
      }
    }
  } catch (err) {
    // As CloudFormation rolls back: what this deployment created is deleted (custom resources get their
    // Delete); on an update (or when asked) the new queues, tables and buckets go too, and the kept ones stay.
    if (created.some(([, e]) => e.result.teardown)) log('local deploy: rolling back');
    await teardownOf(created);
    if (previous || options.deleteOnFailure) for (const [, { result }] of created.reverse()) await result.destroy?.().catch(() => undefined);
    throw err;
  }
  for (const [logicalId, entry] of previous?.provisioned ?? []) {
    if (provisioned.has(logicalId)) continue;
    changes.push({ logicalId, type: entry.type, action: 'Remove' });
    retiring.push([logicalId, entry]);
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

/**
 * A previous deployment's name for a resource the template does not name, if it still fits the
 * service's rules (a queue made FIFO since needs a `.fifo` name: it gets a new one).
 */
function previousName(previous: string | undefined, explicit: unknown, rules: NameRules): string | undefined {
  if (previous === undefined || (typeof explicit === 'string' && explicit.length > 0)) return undefined;
  if (previous.length > rules.max) return undefined;
  if ((rules.suffix !== undefined) !== (rules.suffix !== undefined && previous.endsWith(rules.suffix))) return undefined;
  if (rules.suffix === undefined && previous.endsWith('.fifo')) return undefined;
  if (rules.lower && previous !== previous.toLowerCase()) return undefined;
  return previous;
}

/** Deep equality of resolved property values (JSON shapes). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => sameValue(x, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Writes `{ [stackName]: outputs }`: the `cdk deploy --outputs-file` format. */
export function writeOutputsFile(file: string, stackName: string, outputs: Record<string, string>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ [stackName]: outputs }, null, 2)}\n`);
}
