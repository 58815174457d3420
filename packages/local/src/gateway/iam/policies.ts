/**
 * The policies the local IAM evaluation uses, read from the deployed template: each execution role's
 * identity policies (inline `Policies`, `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` attached to it,
 * and the AWS-managed policies in managed-policies.ts), each function's role, and the resource policies
 * (`AWS::S3::BucketPolicy`, `AWS::SQS::QueuePolicy`, `AWS::SNS::TopicPolicy`, a function's
 * `AWS::Lambda::Permission`s, a table's `ResourcePolicy`). Documents are resolved
 * with the deployment's intrinsics, so their ARNs are the local physical ones.
 */
import type { CfnTemplate } from '../../core/deployment/assembly.js';
import { modelOf, type DeploymentModel } from '../../core/deployment/model.js';
import { awsManagedPolicy } from './managed-policies.js';

export interface IdentityPolicy {
  readonly name: string;
  readonly policy: unknown;
}

export interface PolicyIndex {
  /** Role logical id -> its identity policies. */
  readonly rolePolicies: ReadonlyMap<string, readonly IdentityPolicy[]>;
  /** Function logical id -> role logical id. */
  readonly functionRoles: ReadonlyMap<string, string>;
  /** Resource ARN (bucket, queue, table) -> its resource policy. */
  readonly resourcePolicies: ReadonlyMap<string, unknown>;
  /** What could not be used (an unknown managed policy, an unresolvable document): shown at start. */
  readonly warnings: readonly string[];
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** `{Ref: X}` or `{Fn::GetAtt: [X, ...]}` -> X. */
function referencedLogicalId(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.Ref === 'string') return o.Ref;
  const g = o['Fn::GetAtt'];
  if (Array.isArray(g) && typeof g[0] === 'string') return g[0];
  if (typeof g === 'string') return g.split('.')[0];
  return undefined;
}

/**
 * Builds the index. `resolve` is the deployment's intrinsic resolver; `physical` gives a deployed
 * resource's Ref and attributes (for bucket/queue ARNs of resource policies).
 */
export function readPolicies(
  template: CfnTemplate | DeploymentModel,
  resolve: (v: unknown) => unknown,
  physical: (logicalId: string) => { readonly ref: string; readonly attributes: Readonly<Record<string, string>> } | undefined,
): PolicyIndex {
  // The deployment model: resources a Condition leaves out are not read (as the deployer does not create them).
  const model = modelOf(template);
  const rolePolicies = new Map<string, IdentityPolicy[]>();
  const functionRoles = new Map<string, string>();
  const resourcePolicies = new Map<string, unknown>();
  const warnings: string[] = [];
  const attach = (roleId: string, p: IdentityPolicy): void => {
    const l = rolePolicies.get(roleId) ?? [];
    l.push(p);
    rolePolicies.set(roleId, l);
  };
  const resolved = (what: string, v: unknown): unknown => {
    try {
      return resolve(v);
    } catch (err) {
      warnings.push(`${what}: not used locally (${(err as Error).message}); its grants are missing, so calls that need them are denied`);
      return undefined;
    }
  };
  const managed = (roleId: string, arnValue: unknown, where: string): void => {
    const arn = resolved(where, arnValue);
    if (typeof arn !== 'string') return;
    const customer = model.ofType('AWS::IAM::ManagedPolicy').find((m) => physical(m.logicalId)?.ref === arn);
    if (customer) return; // attached through the ManagedPolicy's own Roles below or by ARN: handled there
    const doc = awsManagedPolicy(arn);
    if (doc === undefined) warnings.push(`${where}: managed policy ${arn} is not known locally; it grants nothing here`);
    else attach(roleId, { name: arn, policy: doc });
  };

  // A Lambda::Permission's FunctionName: a Ref (name) or GetAtt Arn of a function here, or a name/ARN.
  const functionArnOf = (v: unknown, where: string): string | undefined => {
    const ref = referencedLogicalId(v);
    if (ref !== undefined && model.get(ref)?.type === 'AWS::Lambda::Function') return physical(ref)?.attributes.Arn;
    const name = resolved(`${where}.FunctionName`, v);
    if (typeof name !== 'string') return undefined;
    if (name.startsWith('arn:')) return name;
    const fn = model.ofType('AWS::Lambda::Function').find((m) => physical(m.logicalId)?.ref === name);
    return fn ? physical(fn.logicalId)?.attributes.Arn : undefined;
  };

  for (const { logicalId: id, type, properties: p } of model.resources) {
    switch (type) {
      case 'AWS::IAM::Role': {
        if (!rolePolicies.has(id)) rolePolicies.set(id, []);
        for (const [i, inline] of list(p.Policies).entries()) {
          const ip = inline as { PolicyName?: unknown; PolicyDocument?: unknown };
          const doc = resolved(`${id}.Policies[${i}]`, ip.PolicyDocument);
          if (doc !== undefined) attach(id, { name: `${id}/${String(ip.PolicyName ?? i)}`, policy: doc });
        }
        for (const [i, arn] of list(p.ManagedPolicyArns).entries()) {
          const ref = referencedLogicalId(arn);
          if (ref !== undefined && model.get(ref)?.type === 'AWS::IAM::ManagedPolicy') {
            const doc = resolved(`${ref}.PolicyDocument`, model.get(ref)!.properties.PolicyDocument);
            if (doc !== undefined) attach(id, { name: ref, policy: doc });
          } else managed(id, arn, `${id}.ManagedPolicyArns[${i}]`);
        }
        break;
      }
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy': {
        const doc = resolved(`${id}.PolicyDocument`, p.PolicyDocument);
        if (doc === undefined) break;
        for (const role of list(p.Roles)) {
          const roleId = referencedLogicalId(role);
          if (roleId !== undefined) attach(roleId, { name: id, policy: doc });
          else {
            // A role by name (imported or not in this stack): match the deployed role's name.
            const name = resolved(`${id}.Roles`, role);
            const match = model.ofType('AWS::IAM::Role').find((m) => physical(m.logicalId)?.ref === name)?.logicalId;
            if (match) attach(match, { name: id, policy: doc });
          }
        }
        break;
      }
      case 'AWS::Lambda::Function': {
        const roleId = referencedLogicalId(p.Role);
        if (roleId !== undefined) functionRoles.set(id, roleId);
        else warnings.push(`${id}: its Role is not a role of this stack; its calls are evaluated with no identity policy`);
        break;
      }
      case 'AWS::S3::BucketPolicy': {
        const bucketId = referencedLogicalId(p.Bucket);
        const bucketName = bucketId !== undefined ? physical(bucketId)?.ref : resolved(`${id}.Bucket`, p.Bucket);
        const doc = resolved(`${id}.PolicyDocument`, p.PolicyDocument);
        if (typeof bucketName === 'string' && doc !== undefined) resourcePolicies.set(`arn:aws:s3:::${bucketName}`, doc);
        break;
      }
      case 'AWS::SQS::QueuePolicy': {
        const doc = resolved(`${id}.PolicyDocument`, p.PolicyDocument);
        if (doc === undefined) break;
        for (const q of list(p.Queues)) {
          const qid = referencedLogicalId(q);
          const arn = qid !== undefined ? physical(qid)?.attributes.Arn : undefined;
          if (arn !== undefined) resourcePolicies.set(arn, doc);
        }
        break;
      }
      case 'AWS::SNS::TopicPolicy': {
        const doc = resolved(`${id}.PolicyDocument`, p.PolicyDocument);
        if (doc === undefined) break;
        for (const t of list(p.Topics)) {
          const tid = referencedLogicalId(t);
          const arn = tid !== undefined ? physical(tid)?.ref : resolved(`${id}.Topics`, t);
          if (typeof arn === 'string') resourcePolicies.set(arn, doc);
        }
        break;
      }
      case 'AWS::Lambda::Permission': {
        // Each permission is one statement of the function's resource policy, as Lambda's GetPolicy shows it.
        const fnArn = functionArnOf(p.FunctionName, id);
        const principal = resolved(`${id}.Principal`, p.Principal);
        if (fnArn === undefined || typeof principal !== 'string') break;
        const statement = lambdaPermissionStatement(id, fnArn, principal, {
          action: resolved(`${id}.Action`, p.Action),
          sourceArn: p.SourceArn === undefined ? undefined : resolved(`${id}.SourceArn`, p.SourceArn),
          sourceAccount: p.SourceAccount === undefined ? undefined : resolved(`${id}.SourceAccount`, p.SourceAccount),
        });
        const existing = resourcePolicies.get(fnArn) as { Statement: unknown[] } | undefined;
        if (existing) existing.Statement.push(statement);
        else resourcePolicies.set(fnArn, { Version: '2012-10-17', Id: 'default', Statement: [statement] });
        break;
      }
      case 'AWS::DynamoDB::Table': {
        const rp = (p.ResourcePolicy as { PolicyDocument?: unknown } | undefined)?.PolicyDocument;
        const arn = physical(id)?.attributes.Arn;
        if (rp !== undefined && arn !== undefined) {
          const doc = resolved(`${id}.ResourcePolicy`, rp);
          if (doc !== undefined) resourcePolicies.set(arn, doc);
        }
        break;
      }
      default:
        break;
    }
  }
  return { rolePolicies, functionRoles, resourcePolicies, warnings };
}

/**
 * The statement AWS::Lambda::Permission adds to the function's policy: the principal (a service, an
 * account, an ARN or `*`), the action, and SourceArn / SourceAccount as ArnLike / StringEquals conditions.
 */
export function lambdaPermissionStatement(sid: string, functionArn: string, principal: string, o: { action: unknown; sourceArn?: unknown; sourceAccount?: unknown }): Record<string, unknown> {
  const Principal =
    principal === '*' ? '*'
    : /\.amazonaws\.com(\.cn)?$/.test(principal) ? { Service: principal }
    : /^\d{12}$/.test(principal) ? { AWS: `arn:aws:iam::${principal}:root` }
    : { AWS: principal };
  const Condition: Record<string, Record<string, string>> = {};
  if (typeof o.sourceArn === 'string') Condition.ArnLike = { 'aws:SourceArn': o.sourceArn };
  if (typeof o.sourceAccount === 'string') Condition.StringEquals = { 'aws:SourceAccount': o.sourceAccount };
  return { Sid: sid, Effect: 'Allow', Principal, Action: typeof o.action === 'string' ? o.action : 'lambda:InvokeFunction', Resource: functionArn, ...(Object.keys(Condition).length ? { Condition } : {}) };
}

/** The resource policy that governs `resource`: a bucket's for its objects, a table's for its indexes. */
export function resourcePolicyFor(index: PolicyIndex, resource: string): unknown {
  const direct = index.resourcePolicies.get(resource);
  if (direct !== undefined) return direct;
  const s3 = /^(arn:aws:s3:::[^/]+)\//.exec(resource);
  if (s3) return index.resourcePolicies.get(s3[1]!);
  const ddb = /^(arn:aws:dynamodb:[^:]*:[^:]*:table\/[^/]+)\//.exec(resource);
  if (ddb) return index.resourcePolicies.get(ddb[1]!);
  return undefined;
}
