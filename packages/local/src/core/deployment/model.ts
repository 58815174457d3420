/**
 * The one deployment model: a stack's template read once, with one set of defaults (parameter Defaults,
 * Conditions evaluated against them, DependsOn as a list), and the resources that are part of this
 * deployment (those whose Condition holds) in template order. The deployer, the provisioners' refusal
 * checks, the IAM policy index (gateway/iam/policies.ts) and the API front (services/apigateway) all read
 * this, so a resource left out by a Condition is left out everywhere.
 */
import type { CfnResource, CfnTemplate } from './assembly.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../identity.js';
import { evaluateCondition, type ResolveContext } from './intrinsics.js';

export interface ModelResource {
  readonly logicalId: string;
  readonly type: string;
  /** Properties as written (intrinsics unresolved): resolve them with the deployment's resolver. */
  readonly properties: Readonly<Record<string, unknown>>;
  readonly dependsOn: readonly string[];
  readonly resource: CfnResource;
}

export interface DeploymentModel {
  readonly template: CfnTemplate;
  readonly stackName: string;
  /** Template parameters with their Default (what the local deployment uses). */
  readonly parameters: Readonly<Record<string, string | string[]>>;
  /** The resources of this deployment (Condition true or absent), in template order. */
  readonly resources: readonly ModelResource[];
  /** Resources the template declares but a Condition leaves out. */
  readonly excluded: readonly string[];
  get(logicalId: string): ModelResource | undefined;
  ofType(type: string): readonly ModelResource[];
  /** Whether a template Condition holds (Outputs use it). */
  condition(name: string): boolean;
}

const MODELS = new WeakMap<CfnTemplate, Map<string, DeploymentModel>>();

/** Reads `template` once per (template, stack name); later calls return the same model. */
export function deploymentModel(
  template: CfnTemplate,
  opts: {
    readonly stackName: string;
    readonly region: string;
    readonly accountId: string;
    /** Parameter values given with the deployment (a CloudFormation changeset's Parameters); the rest take their Default. */
    readonly parameters?: Readonly<Record<string, string>>;
  },
): DeploymentModel {
  let byStack = MODELS.get(template);
  const key = `${opts.stackName}|${opts.region}|${opts.accountId}|${JSON.stringify(opts.parameters ?? {})}`;
  const cached = byStack?.get(key);
  if (cached) return cached;
  const parameters: Record<string, string | string[]> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    const given = opts.parameters?.[name];
    const value = given ?? p.Default;
    if (value === undefined) continue;
    // A List<...> or CommaDelimitedList parameter is a list whether given as a string or written as one.
    parameters[name] = Array.isArray(value) ? value.map(String) : /^(List<|CommaDelimitedList)/.test(p.Type) ? String(value).split(',').filter((x, i, a) => x !== '' || a.length > 1) : String(value);
  }
  // Conditions may only reference parameters and pseudo parameters: no resource is needed to evaluate them.
  const ctx: ResolveContext = { stackName: opts.stackName, region: opts.region, accountId: opts.accountId, resources: new Map(), parameters, conditions: template.Conditions ?? {} };
  const conditions = new Map<string, boolean>();
  const condition = (name: string): boolean => {
    let v = conditions.get(name);
    if (v === undefined) conditions.set(name, (v = evaluateCondition(name, ctx)));
    return v;
  };
  const resources: ModelResource[] = [];
  const excluded: string[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources ?? {})) {
    if (r.Condition !== undefined && !condition(r.Condition)) {
      excluded.push(logicalId);
      continue;
    }
    resources.push({ logicalId, type: r.Type, properties: r.Properties ?? {}, dependsOn: [r.DependsOn ?? []].flat(), resource: r });
  }
  const byId = new Map(resources.map((r) => [r.logicalId, r]));
  const model: DeploymentModel = {
    template,
    stackName: opts.stackName,
    parameters,
    resources,
    excluded,
    get: (id) => byId.get(id),
    ofType: (type) => resources.filter((r) => r.type === type),
    condition,
  };
  if (!byStack) MODELS.set(template, (byStack = new Map()));
  byStack.set(key, model);
  return model;
}

/** A model for a bare template (tools and tests that read one without deploying it). */
export function modelOf(template: CfnTemplate | DeploymentModel): DeploymentModel {
  return 'resources' in template && Array.isArray(template.resources) ? (template as DeploymentModel) : deploymentModel(template as CfnTemplate, { stackName: 'Stack', region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID });
}
