/**
 * The IAM decision for one request to the local endpoint, as AWS's evaluation logic makes it (explicit
 * deny, then allow, else implicit deny; same-account identity OR resource policy), computed by
 * @cloud-copilot/iam-simulate. The local admin is not restricted; an unsigned request is the anonymous
 * principal, allowed only what a resource policy grants to `*`.
 *
 * aws:SecureTransport: the endpoint is plain HTTP on loopback; it is evaluated as `true` (the
 * connection never leaves the machine), so CDK's `enforceSSL` deny statements do not deny local calls.
 */
import type { Simulation } from '@cloud-copilot/iam-simulate';
import type { LocalPrincipal } from '../auth/credentials.js';
import type { Authorization } from './actions.js';
import { resourcePolicyFor, type PolicyIndex } from './policies.js';

/**
 * @cloud-copilot/iam-simulate is an OPTIONAL peer dependency (it is AGPL-3.0-or-later, which many companies
 * do not allow in a dependency tree): loaded on first use, only when the user installed it.
 */
type IamSimulate = typeof import('@cloud-copilot/iam-simulate');
let simulator: Promise<IamSimulate | undefined> | undefined;
const IAM_SIMULATE = '@cloud-copilot/iam-simulate';

/** The simulator module, or undefined when it is not installed. */
export function loadIamSimulator(): Promise<IamSimulate | undefined> {
  simulator ??= (import(IAM_SIMULATE) as Promise<IamSimulate>).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  });
  return simulator;
}

/** What `up` says, once, when IAM is not enforced because the simulator is not installed. */
export const IAM_NOT_INSTALLED_MESSAGE =
  'iam: NOT enforced: @cloud-copilot/iam-simulate is not installed, so function calls are not checked against their roles. ' +
  'To enforce IAM: npm i -D @cloud-copilot/iam-simulate';

/**
 * An AWS service delivering on a resource's behalf (SNS to a queue, S3 to a topic, EventBridge to a
 * function): allowed only by the destination's resource policy, with the source's ARN and account as the
 * conditions AWS evaluates (aws:SourceArn, aws:SourceAccount; aws:SourceOwner, which older SNS
 * policies use).
 */
export interface ServiceCaller {
  readonly kind: 'service';
  /** The service principal, e.g. `sns.amazonaws.com`. */
  readonly service: string;
  readonly sourceArn?: string;
  readonly sourceAccount?: string;
}

export type Caller = LocalPrincipal | { readonly kind: 'anonymous' } | ServiceCaller;

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly authorization: Authorization; readonly reason: DenialReason; readonly message: string };

export type DenialReason = 'implicit' | 'explicit-identity' | 'explicit-resource' | 'invalid';

export interface EvaluateOptions {
  readonly index: PolicyIndex;
  readonly accountId: string;
  /** The service whose message form to use (SQS lower-cases the action in its messages). */
  readonly service: string;
  readonly now?: Date;
}

function contextFor(caller: Caller, a: Authorization, accountId: string, now: Date): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = {
    'aws:SecureTransport': 'true',
    'aws:CurrentTime': now.toISOString(),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    'aws:SourceIp': '127.0.0.1',
    ...a.context,
  };
  if (caller.kind === 'service') {
    ctx['aws:PrincipalServiceName'] = caller.service;
    if (caller.sourceArn !== undefined) ctx['aws:SourceArn'] = caller.sourceArn;
    if (caller.sourceAccount !== undefined) {
      ctx['aws:SourceAccount'] = caller.sourceAccount;
      ctx['aws:SourceOwner'] = caller.sourceAccount;
    }
  }
  if (caller.kind === 'role') {
    ctx['aws:PrincipalArn'] = caller.roleArn;
    ctx['aws:PrincipalAccount'] = accountId;
    ctx['aws:PrincipalType'] = 'AssumedRole';
    ctx['aws:userid'] = `${caller.accessKeyId}:${caller.functionName}`;
  }
  return ctx;
}

/** AWS's AccessDenied message: who, which action, which resource, and why. */
export function denialMessage(caller: Caller, a: Authorization, reason: DenialReason, service: string): string {
  const who = caller.kind === 'anonymous' ? 'anonymous' : caller.kind === 'service' ? caller.service : caller.arn;
  const action = service === 'sqs' ? a.action.toLowerCase() : a.action;
  const resource = service === 's3' ? `"${a.resource}"` : a.resource;
  const why =
    reason === 'explicit-identity' ? 'with an explicit deny in an identity-based policy'
    : reason === 'explicit-resource' ? 'with an explicit deny in a resource-based policy'
    : caller.kind === 'anonymous' || caller.kind === 'service' ? `because no resource-based policy allows the ${action} action`
    : `because no identity-based policy allows the ${action} action`;
  return `User: ${who} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

/** Evaluates one authorization. */
export async function evaluate(caller: Caller, a: Authorization, options: EvaluateOptions): Promise<Decision> {
  if (caller.kind === 'admin') return { allowed: true };
  const iam = await loadIamSimulator();
  // Enforcement is only switched on when the simulator loaded (stack.ts); deny rather than pass if it vanished.
  if (iam === undefined) return { allowed: false, authorization: a, reason: 'invalid', message: `${denialMessage(caller, a, 'implicit', options.service)} (${IAM_NOT_INSTALLED_MESSAGE})` };
  const { anonymousPrincipal, runSimulation } = iam;
  const now = options.now ?? new Date();
  const resourcePolicy = resourcePolicyFor(options.index, a.resource);
  const identityPolicies = caller.kind === 'role' ? (options.index.rolePolicies.get(caller.roleLogicalId) ?? []).map((p) => ({ name: p.name, policy: p.policy })) : [];
  const simulation: Simulation = {
    request: {
      principal: caller.kind === 'anonymous' ? anonymousPrincipal : caller.kind === 'service' ? caller.service : caller.arn,
      action: a.action,
      resource: { resource: a.resource, accountId: options.accountId },
      contextVariables: contextFor(caller, a, options.accountId, now),
    },
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy !== undefined ? { resourcePolicy } : {}),
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    // A request the simulator cannot evaluate (an action or ARN it does not know) is denied, not let through.
    return { allowed: false, authorization: a, reason: 'invalid', message: `${denialMessage(caller, a, 'implicit', options.service)} (local IAM could not evaluate: ${JSON.stringify(result.errors).slice(0, 300)})` };
  }
  if (result.overallResult === 'Allowed') return { allowed: true };
  let reason: DenialReason = 'implicit';
  if (result.overallResult === 'ExplicitlyDenied') {
    const analysis = result.resultType === 'single' ? result.result.analysis : undefined;
    const identityDeny = (analysis?.identityAnalysis?.denyStatements?.length ?? 0) > 0;
    reason = identityDeny ? 'explicit-identity' : 'explicit-resource';
  }
  return { allowed: false, authorization: a, reason, message: denialMessage(caller, a, reason, options.service) };
}

/** Evaluates every authorization a request needs; the first denial decides. */
export async function evaluateAll(caller: Caller, authorizations: readonly Authorization[], options: EvaluateOptions): Promise<Decision> {
  for (const a of authorizations) {
    const d = await evaluate(caller, a, options);
    if (!d.allowed) return d;
  }
  return { allowed: true };
}
