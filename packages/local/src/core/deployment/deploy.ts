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
import { PROVISIONERS, provisionerFor, type DeployedEventSourceMapping, type DeployedStreamEventSourceMapping, type DeployedFunction, type Provisioner, type RecordedResource } from '../../services/provisioners.js';

export { UnsupportedResourceError } from './errors.js';
export { NOT_EMULATED, PROVISIONERS, physicalName, provisionerFor } from '../../services/provisioners.js';
export type { DeployedEventSourceMapping, DeployedStreamEventSourceMapping, DeployedFunction, Provisioner, ProvisionContext, ProvisionKind, ProvisionResult, RecordedResource } from '../../services/provisioners.js';

import { LOCAL_ACCOUNT_ID } from '../identity.js';
export { LOCAL_ACCOUNT_ID };

export interface LocalDeployment {
  readonly stackName: string;
  readonly prefix: string;
  readonly template: CfnTemplate;
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  readonly functions: readonly DeployedFunction[];
  readonly eventSourceMappings: readonly DeployedEventSourceMapping[];
  /** DynamoDB Streams mappings (run by services/lambda/stream-poller.ts). */
  readonly streamEventSourceMappings: readonly DeployedStreamEventSourceMapping[];
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
  if (unknown.length > 0) {
    throw new UnsupportedResourceError(
      `The local deployer does not know ${unknown.map(([id, r]) => `${r.Type} (${id})`).join(', ')}. ` +
        `Add a provisioner for it in packages/local/src/services/<service>/ (one file, listed in services/provisioners.ts), ` +
        `or add it to NOT_EMULATED in services/not-emulated.ts if it does not affect how messages flow.`,
    );
  }
  const kindOf = (r: CfnResource) => provisionerFor(r.Type, provisioners)!.kind;
  const notEmulated = [...new Set(Object.values(all).filter((r) => kindOf(r) === 'not-emulated').map((r) => r.Type))].sort();
  const apiResources = Object.entries(all).filter(([, r]) => kindOf(r) === 'served-by-api-front').map(([id]) => id);
  const recordedTypes = [...new Set(Object.values(all).filter((r) => kindOf(r) === 'recorded').map((r) => r.Type))].sort();
  log(`local deploy: not emulated (no effect on message flow): ${notEmulated.length ? notEmulated.join(', ') : 'none'}` + (recordedTypes.length ? `; recorded, not enforced: ${recordedTypes.join(', ')}` : ''));

  const functions: DeployedFunction[] = [];
  const mappings: DeployedEventSourceMapping[] = [];
  const streamMappings: DeployedStreamEventSourceMapping[] = [];
  const recorded: RecordedResource[] = [];
  const undo: Array<() => Promise<void>> = [];
  for (const id of dependencyOrder(all)) {
    const r = all[id]!;
    if (r.Condition !== undefined && !evaluateCondition(r.Condition, ctx)) continue;
    const props = (resolve(r.Properties ?? {}) ?? {}) as Record<string, unknown>;
    const result = await provisionerFor(r.Type, provisioners)!.provision({ logicalId: id, resource: r, props, prefix, region, accountId, assemblyDir, clients, resources, log, arn });
    resources.set(id, result.physical);
    if (result.function) functions.push(result.function);
    if (result.eventSourceMapping) mappings.push(result.eventSourceMapping);
    if (result.streamEventSourceMapping) streamMappings.push(result.streamEventSourceMapping);
    if (result.recorded) recorded.push(result.recorded);
    if (result.destroy) undo.push(result.destroy);
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
    streamEventSourceMappings: streamMappings,
    recorded,
    outputs,
    notEmulated,
    apiResources,
    resolve,
    async destroy() {
      // Reverse creation order: buckets are emptied, then tables and queues go (best effort).
      for (const d of undo.reverse()) await d().catch(() => undefined);
      clients.destroy();
    },
  };
}

/** Writes `{ [stackName]: outputs }`: the `cdk deploy --outputs-file` format. */
export function writeOutputsFile(file: string, stackName: string, outputs: Record<string, string>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ [stackName]: outputs }, null, 2)}\n`);
}
