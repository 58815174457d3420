/**
 * The gateway authorizer that makes the local endpoint enforce what AWS enforces: every request is
 * authenticated (auth/: SigV4 header or presigned query, against the local admin and the per-function
 * credentials), then, unless IAM is off, authorized (iam/: the request's actions and resources, evaluated
 * against the caller's role policies and the resource's policy). A refusal is the service's own error.
 *
 * S3 answers a GET or HEAD of a missing key with 403 AccessDenied, not 404, when the caller lacks
 * s3:ListBucket on the bucket (services/s3/missing-key.ts).
 *
 * With IAM off (`floodgate-local up --no-iam`, `startLocalStack({ iam: false })`) signed callers are not
 * restricted; authentication still holds, and an unsigned request is still allowed only where a resource
 * policy makes the resource public.
 */
import { authenticate, refusalError, type CredentialStore } from './auth/index.js';
import { authorizationsFor, evaluateAll, UnmappedRequestError, type PolicyIndex, type ServiceName } from './iam/index.js';
import type { GatewayAuthorizer, GatewayError, GatewayRequest } from './types.js';
import { missingKeyNeedsListBucket, objectExists } from '../services/s3/missing-key.js';

export interface EnforcementOptions {
  readonly store: CredentialStore;
  readonly region: string;
  /**
   * The account in the resources' ARNs: the local one, or an external target's (moto says 123456789012),
   * known only once the stack is deployed, hence a function.
   */
  readonly accountId: string | (() => string);
  /** The stack's policies; undefined while it is being deployed (only the admin can act then). */
  readonly policies: () => PolicyIndex | undefined;
  /** Evaluate IAM for function (role) credentials. @default true */
  readonly iam?: boolean;
  /** Server clock (tests). */
  readonly now?: () => number;
  /** Every refusal, for logs and tests. */
  readonly onRefusal?: (r: { service: string; operation?: string; principal: string; error: GatewayError }) => void;
}

const IAM_SERVICES = new Set<string>(['s3', 'sqs', 'sns', 'dynamodb', 'lambda', 'logs', 'events']);

/**
 * Whether the signature can be checked without reading the body: S3 signs a declared payload hash (or
 * UNSIGNED-PAYLOAD in a presigned URL), so uploads keep streaming to the emulator. The IAM mapping of
 * DeleteObjects (POST ?delete) needs the key list, so that one body is read.
 */
function streamsBody(req: GatewayRequest): boolean {
  if (req.service !== 's3' || req.method === 'POST') return false;
  return req.headers['x-amz-content-sha256'] !== undefined || req.query.has('X-Amz-Signature');
}

export function createEnforcement(options: EnforcementOptions): GatewayAuthorizer {
  const iam = options.iam ?? true;
  const accountOf = (): string => (typeof options.accountId === 'function' ? options.accountId() : options.accountId);
  return async (req, ctx) => {
    const refuse = (principal: string, error: GatewayError): GatewayError => {
      options.onRefusal?.({ service: req.service, ...(req.operation ? { operation: req.operation } : {}), principal, error });
      return error;
    };
    const body = streamsBody(req) ? undefined : await req.body();
    // The signing name: S3 is signed `s3`, the others with their endpoint prefix (= our service name).
    const signingName = req.scope?.service ?? req.service;
    const auth = await authenticate(
      { method: req.method, path: req.path, query: req.rawQuery, headers: req.headers, ...(body !== undefined ? { body } : {}) },
      { store: options.store, region: options.region, service: signingName, ...(options.now ? { nowMs: options.now() } : {}) },
    );
    if (!auth.ok) return refuse(req.scope?.accessKeyId ?? 'anonymous', refusalError(req.service, auth));
    const caller = auth.principal;
    if (caller.kind === 'admin') return undefined;
    if (caller.kind === 'role' && !iam) return undefined;
    if (!IAM_SERVICES.has(req.service)) {
      return caller.kind === 'anonymous' ? refuse('anonymous', refusalError(req.service, { code: 'MissingAuthentication', message: '' })) : undefined;
    }
    const index = options.policies();
    const who = caller.kind === 'anonymous' ? 'anonymous' : caller.arn;
    if (index === undefined) return refuse(who, refusalError(req.service, { code: 'AccessDenied', message: `User: ${who} is not authorized: the stack is still being deployed` }));
    let authorizations;
    try {
      authorizations = authorizationsFor({ service: req.service as ServiceName, method: req.method, path: req.path, query: req.rawQuery, headers: req.headers, body: body ?? new Uint8Array() }, { region: options.region, accountId: accountOf() });
    } catch (err) {
      if (!(err instanceof UnmappedRequestError)) throw err;
      return refuse(who, refusalError(req.service, { code: 'AccessDenied', message: `User: ${who} is not authorized to perform this request: ${err.message}` }));
    }
    const decision = await evaluateAll(caller, authorizations, { index, accountId: accountOf(), service: req.service });
    if (decision.allowed) {
      // S3: a missing key is 404 only for a caller that may list the bucket; otherwise 403.
      const missing = req.service === 's3' && ctx.upstreams.s3 ? missingKeyNeedsListBucket(req.method.toUpperCase(), authorizations) : undefined;
      if (missing && !(await evaluateAll(caller, [missing.check], { index, accountId: accountOf(), service: 's3' })).allowed && !(await objectExists(ctx.upstreams.s3!, missing.bucket, missing.key))) {
        return refuse(who, refusalError('s3', { code: 'AccessDenied', message: 'Access Denied' }));
      }
      return undefined;
    }
    // S3 answers an anonymous denial with a bare "Access Denied".
    const message = caller.kind === 'anonymous' && req.service === 's3' ? 'Access Denied' : decision.message;
    return refuse(who, refusalError(req.service, { code: 'AccessDenied', message }));
  };
}
