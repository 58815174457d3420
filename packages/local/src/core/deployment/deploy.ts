/**
 * Deploys a synthesized CloudFormation template onto the local target (the embedded emulators behind
 * the gateway, or an external AWS-compatible endpoint): resources are provisioned in dependency order,
 * each by the provisioner for its type (services/<service>/, one file per type); functions and event source
 * mappings are returned for the Lambda host and the poller; IAM and resource policies are recorded.
 * Every physical name carries a per-deployment prefix, so several deployments share one target.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CfnResource, CfnTemplate } from './assembly.js';
import { localClients } from '../clients.js';
import type { LocalEndpoints } from '../endpoints.js';
import { UnsupportedResourceError } from './errors.js';
import { IntrinsicError, evaluateCondition, referencedIds, resolveValue, type PhysicalResource, type ResolveContext } from './intrinsics.js';
import { PROVISIONERS, provisionerFor, type DeployedEventSourceMapping, type DeployedFunction, type FunctionOutcome, type Provisioner, type RecordedResource } from '../../services/provisioners.js';

export { UnsupportedResourceError } from './errors.js';
export { NOT_EMULATED, PROVISIONERS, physicalName, provisionerFor } from '../../services/provisioners.js';
export type { DeployedEventSourceMapping, DeployedFunction, Provisioner, ProvisionContext, ProvisionKind, ProvisionResult, RecordedResource } from '../../services/provisioners.js';

import { LOCAL_ACCOUNT_ID } from '../identity.js';
export { LOCAL_ACCOUNT_ID };

export interface LocalDeployment {
  readonly stackName: string;
  readonly prefix: string;
  readonly template: CfnTemplate;
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  readonly functions: readonly DeployedFunction[];
  readonly eventSourceMappings: readonly DeployedEventSourceMapping[];
  /** IAM roles and policies, queue and bucket policies, with resolved documents (not enforced by the emulators). */
  readonly recorded: readonly RecordedResource[];
  /** `{ OutputKey: value }` for this stack. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Resource types present in the template but deliberately not emulated. */
  readonly notEmulated: readonly string[];
  /** Resources served by the local API front (ApiGatewayV2, Lambda permissions). */
  readonly apiResources: readonly string[];
  /** Resolves intrinsics against this deployment (for the API front and tools). */
  resolve(value: unknown): unknown;
  /** Deletes the queues, tables and buckets this deployment created (best effort). */
  destroy(): Promise<void>;
  /**
   * Runs what deleting the stack runs on its own functions (custom resources' Delete), in reverse
   * creation order, once; call it while the Lambda host still runs. Returns the failures (each is logged).
   */
  teardown(): Promise<readonly Error[]>;
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
  /** The provisioner registry. @default PROVISIONERS */
  readonly provisioners?: readonly Provisioner[];
  /** Runs the stack's functions during the deployment (custom resources); without it they are refused. */
  readonly lambda?: DeployLambdaHost;
}

/** The local Lambda host as the deployer uses it (given by the composition root, stack.ts). */
export interface DeployLambdaHost {
  /** The endpoint URL the functions call (a custom resource's ResponseURL is presigned for it). */
  readonly endpoint: string;
  /** Runs `fn`; `deployment` is the deployment so far (what is created, the functions, resolve). */
  invoke(fn: DeployedFunction, event: unknown, deployment: LocalDeployment): Promise<FunctionOutcome>;
}

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
  const { template, stackName, assemblyDir, endpoints, outputsFile, log = (l: string) => console.log(l), provisioners = PROVISIONERS } = options;
  const prefix = options.prefix ?? `fg${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9][a-z0-9-]{0,23}$/.test(prefix)) throw new Error(`prefix "${prefix}" must be 1-24 characters of a-z 0-9 -, starting with a letter or digit`);
  const { region } = endpoints;
  const accountId = LOCAL_ACCOUNT_ID;
  const clients = localClients(endpoints);
  const resources = new Map<string, PhysicalResource>();
  const parameters: Record<string, string | string[]> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    if (p.Default !== undefined) parameters[name] = Array.isArray(p.Default) ? p.Default.map(String) : String(p.Default);
  }
  const ctx: ResolveContext = { stackName, region, accountId, resources, parameters, conditions: template.Conditions ?? {} };
  const resolve = (v: unknown): unknown => resolveValue(v, ctx);
  const arn = (service: string, resource: string, withRegion = true): string => `arn:aws:${service}:${withRegion ? region : ''}:${accountId}:${resource}`;

  // Refuse unknown types before creating anything.
  const all = template.Resources ?? {};
  const unknown = Object.entries(all).filter(([, r]) => !provisionerFor(r.Type, provisioners));
  // A known type may still be refused in a shape the local stack cannot run (e.g. an SNS-backed custom resource).
  const refused = Object.entries(all).flatMap(([id, r]) => {
    const why = provisionerFor(r.Type, provisioners)?.check?.(id, r, template);
    return why === undefined ? [] : [`${r.Type} (${id}): ${why}`];
  });
  if (unknown.length > 0 || refused.length > 0) {
    throw new UnsupportedResourceError(
      [
        ...(refused.length > 0 ? [`The local stack cannot emulate ${refused.join('; ')}.`] : []),
        ...(unknown.length > 0
          ? [
              `The local deployer does not know ${unknown.map(([id, r]) => `${r.Type} (${id})`).join(', ')}. ` +
                `Add a provisioner for it in packages/local/src/services/<service>/ (one file, listed in services/provisioners.ts), ` +
                `or add it to NOT_EMULATED in services/not-emulated.ts if it does not affect how messages flow.`,
            ]
          : []),
      ].join(' '),
    );
  }
  const kindOf = (r: CfnResource) => provisionerFor(r.Type, provisioners)!.kind;
  const notEmulated = [...new Set(Object.values(all).filter((r) => kindOf(r) === 'not-emulated').map((r) => r.Type))].sort();
  const apiResources = Object.entries(all).filter(([, r]) => kindOf(r) === 'served-by-api-front').map(([id]) => id);
  const recordedTypes = [...new Set(Object.values(all).filter((r) => kindOf(r) === 'recorded').map((r) => r.Type))].sort();
  log(`local deploy: not emulated (no effect on message flow): ${notEmulated.length ? notEmulated.join(', ') : 'none'}` + (recordedTypes.length ? `; recorded, not enforced: ${recordedTypes.join(', ')}` : ''));

  const functions: DeployedFunction[] = [];
  const mappings: DeployedEventSourceMapping[] = [];
  const recorded: RecordedResource[] = [];
  const undo: Array<() => Promise<void>> = [];
  const teardowns: Array<{ logicalId: string; run: () => Promise<void> }> = [];
  const teardown = async (): Promise<Error[]> => {
    const errors: Error[] = [];
    for (const t of teardowns.splice(0).reverse()) {
      try {
        await t.run();
      } catch (err) {
        errors.push(err as Error);
        log(`local deploy: deleting ${t.logicalId} failed: ${(err as Error).message}`);
      }
    }
    return errors;
  };
  const outputs: Record<string, string> = {};
  // Filled as resources are created: handed to the Lambda host while deploying, returned when done.
  const deployment: LocalDeployment = {
    stackName,
    prefix,
    template,
    resources,
    functions,
    eventSourceMappings: mappings,
    recorded,
    outputs,
    notEmulated,
    apiResources,
    resolve,
    teardown,
    async destroy() {
      // Reverse creation order: buckets are emptied, then tables and queues go (best effort).
      for (const d of undo.reverse()) await d().catch(() => undefined);
      clients.destroy();
    },
  };
  const host = options.lambda;
  const lambda = host && { endpoint: host.endpoint, invoke: (fn: DeployedFunction, event: unknown) => host.invoke(fn, event, deployment) };
  try {
    for (const id of dependencyOrder(all)) {
      const r = all[id]!;
      if (r.Condition !== undefined && !evaluateCondition(r.Condition, ctx)) continue;
      const props = (resolve(r.Properties ?? {}) ?? {}) as Record<string, unknown>;
      const result = await provisionerFor(r.Type, provisioners)!.provision({ logicalId: id, resource: r, props, prefix, region, accountId, assemblyDir, clients, resources, log, arn, stackName, functions, ...(lambda ? { lambda } : {}) });
      resources.set(id, result.physical);
      if (result.function) functions.push(result.function);
      if (result.eventSourceMapping) mappings.push(result.eventSourceMapping);
      if (result.recorded) recorded.push(result.recorded);
      if (result.destroy) undo.push(result.destroy);
      if (result.teardown) teardowns.push({ logicalId: id, run: result.teardown });
    }
  } catch (err) {
    // As CloudFormation rolls back: what was created is deleted (custom resources get their Delete).
    if (teardowns.length > 0) {
      log('local deploy: rolling back');
      await teardown();
    }
    throw err;
  }

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

  return deployment;
}

/** Writes `{ [stackName]: outputs }`: the `cdk deploy --outputs-file` format. */
export function writeOutputsFile(file: string, stackName: string, outputs: Record<string, string>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ [stackName]: outputs }, null, 2)}\n`);
}
