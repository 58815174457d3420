/**
 * AWS::CloudFormation::CustomResource and Custom::*: run as CloudFormation runs them. The ServiceToken
 * must be a Lambda function of this stack; it is invoked on the local Lambda host with CloudFormation's
 * request (RequestType, ResponseURL, StackId, RequestId, ResourceType, LogicalResourceId,
 * PhysicalResourceId, ResourceProperties with ServiceToken, OldResourceProperties), and the handler
 * answers by PUTting its response to the ResponseURL: a SigV4-presigned URL of an object in a bucket of
 * ours on the local S3 (through the endpoint), which the deployment waits for and reads.
 *
 * Lifecycle:
 *  - Create at deploy, in dependency order; the response's Data are the resource's Fn::GetAtt attributes
 *    and its PhysicalResourceId its Ref.
 *  - The resource's state (physical id, properties, data) is kept next to the responses, keyed by stack
 *    name and name prefix. A later deployment of the same stack with the same prefix on the same
 *    emulators (whose resources stayed: shared emulators, stopped without destroy) finds it: same
 *    properties, nothing is sent (as CloudFormation); other properties, Update with
 *    OldResourceProperties; another PhysicalResourceId in the answer replaces it, and the old one gets
 *    its Delete.
 *  - Delete on teardown (the stack stopping with its emulators, or destroyed), in reverse creation
 *    order, while the functions still run; and on the rollback of a failed deployment, the failed
 *    resource first when its FAILED answer named a physical id.
 * A FAILED response fails the deployment with its Reason; a handler that ends without answering fails it
 * at once (CloudFormation would wait an hour).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import type { CfnResource, CfnTemplate } from '../../core/deployment/assembly.js';
import type { DeployedFunction, Provisioner, ProvisionContext, ProvisionLambda } from '../../core/deployment/provisioner.js';
import { LOCAL_CREDENTIALS } from '../../core/identity.js';
import { stackId } from './stack-id.js';

export const CUSTOM_RESOURCE_TYPE = 'AWS::CloudFormation::CustomResource';

/** The handler answered FAILED (or could not be run, or never answered): the deployment fails. */
export class CustomResourceError extends Error {
  override readonly name = 'CustomResourceError';
  /** A custom resource that fails fails the same way when retried with the same properties. */
  readonly retryable = false;
  constructor(
    readonly logicalId: string,
    readonly requestType: RequestType,
    readonly reason: string,
    /** The PhysicalResourceId of a FAILED response, if it named one. */
    readonly physicalResourceId?: string,
  ) {
    super(`Custom resource ${logicalId} failed to ${requestType.toLowerCase()}: ${reason}`);
  }
}

export type RequestType = 'Create' | 'Update' | 'Delete';

/** The response a handler PUTs to the ResponseURL (CloudFormation's shape). */
export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho?: boolean;
  readonly Data?: Record<string, unknown>;
}

/** A custom resource's properties as compared between deployments (its ServiceToken is compared apart). */
function withoutToken(props: Record<string, unknown>): Record<string, unknown> {
  const { ServiceToken: _token, ...rest } = props;
  return rest;
}

/** What is kept between deployments of the same stack on the same emulators. */
interface CustomResourceState {
  readonly physicalResourceId: string;
  readonly serviceToken: string;
  /**
   * The logical id of the ServiceToken's function. A function without a FunctionName gets a new generated
   * name on every local deployment, so "the same service token" is the same function of the stack.
   */
  readonly serviceTokenFunction?: string;
  readonly resourceType: string;
  readonly properties: Record<string, unknown>;
  readonly data: Record<string, string>;
}

/** CloudFormation refuses a response larger than this. */
const MAX_RESPONSE_BYTES = 4096;
/** How long after the handler returned its response may still be arriving. */
const SETTLE_MS = 2000;
const POLL_MS = 100;

export const stateBucket = (accountId: string): string => `floodgate-cloudformation-${accountId}`;

/** `arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]` -> name (or the bare name). */
function functionNameOf(token: string): string | undefined {
  const m = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(token);
  if (m) return m[1];
  return /^[\w-]+$/.test(token) ? token : undefined;
}

/** The template's logical id that a raw ServiceToken refers to ({Ref} or {Fn::GetAtt}), if any. */
function tokenTarget(token: unknown): string | undefined {
  if (typeof token !== 'object' || token === null) return undefined;
  const o = token as Record<string, unknown>;
  if (typeof o.Ref === 'string') return o.Ref;
  const g = o['Fn::GetAtt'];
  if (Array.isArray(g) && typeof g[0] === 'string') return g[0];
  if (typeof g === 'string') return g.split('.')[0];
  return undefined;
}

/** Why this custom resource cannot run locally, read from the raw template (before anything is created). */
export function checkCustomResource(resource: CfnResource, template: CfnTemplate): string | undefined {
  const token = resource.Properties?.ServiceToken;
  if (token === undefined) return 'it has no ServiceToken';
  const target = tokenTarget(token);
  const targetType = target !== undefined ? template.Resources[target]?.Type : undefined;
  if (targetType === 'AWS::SNS::Topic' || (typeof token === 'string' && /^arn:aws[\w-]*:sns:/.test(token))) {
    return 'its ServiceToken is an SNS topic; only Lambda-backed custom resources are run locally (an SNS-backed one would need the topic subscriber to answer CloudFormation)';
  }
  if (typeof token === 'string' && /^arn:aws[\w-]*:lambda:/.test(token)) {
    return `its ServiceToken ${token} is a function outside this stack; only this stack's functions run locally`;
  }
  if (target !== undefined && targetType !== 'AWS::Lambda::Function') {
    return `its ServiceToken refers to ${target} (${targetType ?? 'not in this template'}), not to a Lambda function of this stack`;
  }
  if (target !== undefined) {
    const runtime = template.Resources[target]!.Properties?.Runtime;
    if (typeof runtime === 'string' && !runtime.startsWith('nodejs')) {
      return `its handler ${target} runs on ${runtime}; the local Lambda host runs Node.js functions only`;
    }
    // cr.Provider with isComplete: the framework's onEvent starts a Step Functions waiter.
    const env = (template.Resources[target]!.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    if ('WAITER_STATE_MACHINE_ARN' in env) {
      return `its provider (${target}) has an isComplete handler, which CDK's provider framework polls with a Step Functions state machine; Step Functions is not emulated locally (use a provider without isComplete, whose onEvent completes the work)`;
    }
  }
  return undefined;
}

/** CloudFormation hands custom resources every scalar property as a string. */
function stringifyScalars(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stringifyScalars);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stringifyScalars(x)]));
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v;
}

/** A presigned PUT URL (SigV4 query authentication, path-style) for `bucket/key` at `endpoint`. */
export async function presignPut(endpoint: string, region: string, bucket: string, key: string, expiresIn = 7200): Promise<string> {
  const url = new URL(endpoint);
  const path = `${url.pathname.replace(/\/$/, '')}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  // The body is not signed (UNSIGNED-PAYLOAD, hoisted into the query as X-Amz-Content-Sha256), as S3's presigner does.
  const signer = new SignatureV4({ credentials: LOCAL_CREDENTIALS, region, service: 's3', sha256: Sha256, uriEscapePath: false });
  const signed = await signer.presign(
    { method: 'PUT', protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path, query: {}, headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { expiresIn },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${url.protocol}//${url.host}${path}?${query}`;
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body!.transformToString('utf8');
  } catch (err) {
    if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks a response against its request, as CloudFormation does; returns the reason it is invalid. */
export function invalidResponse(raw: string, request: { RequestId: string; StackId: string; LogicalResourceId: string }): string | undefined {
  if (Buffer.byteLength(raw) > MAX_RESPONSE_BYTES) return `Response object is too long (${Buffer.byteLength(raw)} bytes; CloudFormation accepts ${MAX_RESPONSE_BYTES})`;
  let r: Partial<CustomResourceResponse>;
  try {
    r = JSON.parse(raw) as Partial<CustomResourceResponse>;
  } catch {
    return `Response is not JSON: ${raw.slice(0, 200)}`;
  }
  if (r.Status !== 'SUCCESS' && r.Status !== 'FAILED') return `Response Status must be SUCCESS or FAILED (got ${JSON.stringify(r.Status)})`;
  if (typeof r.PhysicalResourceId !== 'string' || r.PhysicalResourceId === '') return 'Invalid PhysicalResourceId: the response has none';
  for (const k of ['RequestId', 'StackId', 'LogicalResourceId'] as const) {
    if (r[k] !== request[k]) return `Response ${k} ${JSON.stringify(r[k])} does not match the request's ${JSON.stringify(request[k])}`;
  }
  if (r.Data !== undefined && (typeof r.Data !== 'object' || r.Data === null || Array.isArray(r.Data))) return 'Response Data must be an object';
  return undefined;
}

interface Runner {
  readonly logicalId: string;
  readonly resourceType: string;
  readonly fn: DeployedFunction;
  readonly lambda: ProvisionLambda;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly region: string;
  readonly stackId: string;
  readonly log: (line: string) => void;
}

/** Sends one request to the handler and waits for its response. Throws CustomResourceError. */
async function send(
  run: Runner,
  requestType: RequestType,
  serviceToken: string,
  properties: Record<string, unknown>,
  extra: { PhysicalResourceId?: string; OldResourceProperties?: Record<string, unknown> },
): Promise<CustomResourceResponse> {
  const requestId = randomUUID();
  const key = `responses/${run.logicalId}/${requestId}`;
  const request = {
    RequestType: requestType,
    ServiceToken: serviceToken,
    ResponseURL: await presignPut(run.lambda.endpoint, run.region, run.bucket, key),
    StackId: run.stackId,
    RequestId: requestId,
    ResourceType: run.resourceType,
    LogicalResourceId: run.logicalId,
    ...(extra.PhysicalResourceId !== undefined ? { PhysicalResourceId: extra.PhysicalResourceId } : {}),
    ResourceProperties: stringifyScalars(properties),
    ...(extra.OldResourceProperties !== undefined ? { OldResourceProperties: stringifyScalars(extra.OldResourceProperties) } : {}),
  };
  const fail = (reason: string, physicalResourceId?: string) => new CustomResourceError(run.logicalId, requestType, reason, physicalResourceId);
  let outcome: Awaited<ReturnType<ProvisionLambda['invoke']>> | undefined;
  let invokeError: unknown;
  void run.lambda.invoke(run.fn, request).then(
    (o) => (outcome = o),
    (err: unknown) => (invokeError = err ?? new Error('invoke failed')),
  );
  // The Lambda host ends an invocation at the function's timeout; the margin covers a slow start.
  const deadline = Date.now() + (run.fn.timeoutSeconds + 30) * 1000;
  let settledAt: number | undefined;
  for (;;) {
    const raw = await readObject(run.s3, run.bucket, key);
    if (raw !== undefined) {
      await run.s3.send(new DeleteObjectCommand({ Bucket: run.bucket, Key: key })).catch(() => undefined);
      const invalid = invalidResponse(raw, request);
      if (invalid) throw fail(invalid);
      const response = JSON.parse(raw) as CustomResourceResponse;
      if (response.Status === 'FAILED') throw fail(response.Reason ?? 'the handler answered FAILED without a Reason', response.PhysicalResourceId);
      return response;
    }
    if (settledAt === undefined && (outcome !== undefined || invokeError !== undefined)) settledAt = Date.now();
    if (settledAt !== undefined && Date.now() - settledAt > SETTLE_MS) {
      const how = invokeError !== undefined ? `could not be invoked (${(invokeError as Error).message})` : outcome!.ok ? 'returned' : `failed with ${outcome!.errorType}: ${outcome!.errorMessage}`;
      throw fail(`its handler ${run.fn.functionName} ${how} without sending a response to the ResponseURL (CloudFormation would wait up to 1 hour for one)`);
    }
    if (Date.now() > deadline) {
      throw fail(`no response from ${run.fn.functionName} within its timeout (${run.fn.timeoutSeconds} s) plus 30 s`);
    }
    await sleep(POLL_MS);
  }
}

const attributes = (data: Record<string, unknown> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));

function functionFor(ctx: ProvisionContext, token: string): DeployedFunction {
  const name = functionNameOf(token);
  const fn = ctx.functions.find((f) => f.functionName === name || ctx.resources.get(f.logicalId)?.attributes.Arn === token);
  if (!fn) throw new CustomResourceError(ctx.logicalId, 'Create', `its ServiceToken ${token} is not a function of this stack`);
  return fn;
}

export const customResource: Provisioner = {
  handles: (type) => type === CUSTOM_RESOURCE_TYPE || type.startsWith('Custom::'),
  kind: 'run',
  refuse: (_logicalId, resource, template) => {
    const why = checkCustomResource(resource, template);
    return why === undefined ? undefined : { consequence: why, placeholder: true };
  },
  async provision(ctx) {
    const { logicalId, resource, props, clients, accountId, region, prefix, stackName, log } = ctx;
    const token = props.ServiceToken;
    if (typeof token !== 'string') throw new CustomResourceError(logicalId, 'Create', 'its ServiceToken is not a string');
    if (!ctx.lambda) throw new CustomResourceError(logicalId, 'Create', 'the deployer was given no Lambda host to run its handler on (deployTemplate({ lambda }))');
    const fn = functionFor(ctx, token);
    const bucket = stateBucket(accountId);
    await ensureBucket(clients.s3, bucket);
    const run: Runner = { logicalId, resourceType: resource.Type, fn, lambda: ctx.lambda, s3: clients.s3, bucket, region, stackId: stackId(region, stackName, prefix), log };
    const stateKey = `custom-resources/${stackName}/${prefix}/${logicalId}.json`;
    const saveState = (s: CustomResourceState) => clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: stateKey, Body: JSON.stringify(s), ContentType: 'application/json' }));
    const stored = await readObject(clients.s3, bucket, stateKey);
    const previous = stored !== undefined ? (JSON.parse(stored) as CustomResourceState) : undefined;

    let state: CustomResourceState;
    if (!previous) {
      const r = await send(run, 'Create', token, props, {}).catch(async (err: unknown) => {
        // CloudFormation's rollback sends Delete to a resource whose Create failed, with the physical
        // id of its FAILED answer (CDK's handlers answer with a marker id and ignore that Delete).
        const id = err instanceof CustomResourceError ? err.physicalResourceId : undefined;
        if (id !== undefined) {
          await send(run, 'Delete', token, props, { PhysicalResourceId: id }).catch((e: unknown) => log(`custom resource ${logicalId}: rollback Delete failed: ${(e as Error).message}`));
        }
        throw err;
      });
      state = { physicalResourceId: r.PhysicalResourceId, serviceToken: token, serviceTokenFunction: fn.logicalId, resourceType: resource.Type, properties: props, data: attributes(r.Data) };
      log(`custom resource ${logicalId}: created ${r.PhysicalResourceId}`);
    } else if (previous.serviceTokenFunction !== undefined ? previous.serviceTokenFunction !== fn.logicalId : previous.serviceToken !== token) {
      throw new CustomResourceError(logicalId, 'Update', `Modifying service token is not allowed (was ${previous.serviceToken}, now ${token})`);
    } else if (isDeepStrictEqual(withoutToken(previous.properties), withoutToken(props))) {
      state = { ...previous, serviceToken: token, properties: props }; // unchanged: CloudFormation sends nothing
    } else {
      const r = await send(run, 'Update', token, props, { PhysicalResourceId: previous.physicalResourceId, OldResourceProperties: previous.properties });
      state = { ...previous, physicalResourceId: r.PhysicalResourceId, serviceToken: token, properties: props, data: attributes(r.Data) };
      log(`custom resource ${logicalId}: updated ${r.PhysicalResourceId}`);
      if (r.PhysicalResourceId !== previous.physicalResourceId) {
        // A new physical id is a replacement: CloudFormation deletes the old one in its cleanup.
        await send(run, 'Delete', token, previous.properties, { PhysicalResourceId: previous.physicalResourceId });
      }
    }
    await saveState(state);
    return {
      physical: { type: resource.Type, ref: state.physicalResourceId, attributes: state.data },
      async teardown() {
        await send(run, 'Delete', token, state.properties, { PhysicalResourceId: state.physicalResourceId });
        await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: stateKey }));
        log(`custom resource ${logicalId}: deleted ${state.physicalResourceId}`);
      },
    };
  },
};
