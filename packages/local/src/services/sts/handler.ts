/**
 * STS on the one endpoint (query protocol, Version 2011-06-15): GetCallerIdentity and AssumeRole, what
 * the CDK CLI calls before deploying (it finds the account, then assumes the bootstrap roles).
 *
 * AssumeRole answers with the caller's own key pair and a session token: the local endpoint knows
 * one signed identity for tools, the admin, so the role's session acts as the admin. The bootstrap
 * roles' policies are recorded with their stack, not enforced on these sessions (IAM is enforced on
 * the functions' own calls, signed with their execution roles). Only the admin may call it.
 */
import type { ServerResponse } from 'node:http';
import { escapeXml, queryError } from '../../gateway/protocol-errors.js';
import type { GatewayContext, GatewayService } from '../../gateway/types.js';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS } from '../../core/identity.js';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const VERSION = '2011-06-15';

const tag = (name: string, value: string): string => `<${name}>${escapeXml(value)}</${name}>`;

function sendXml(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** The response of one STS action (pure). */
export function stsResponse(action: string, params: URLSearchParams, opts: { accountId: string; requestId: string; now: Date }): { ok: true; xml: string } | { ok: false; status: number; code: string; message: string } {
  const meta = `<ResponseMetadata>${tag('RequestId', opts.requestId)}</ResponseMetadata>`;
  if (action === 'GetCallerIdentity') {
    return { ok: true, xml: `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult>${tag('Arn', `arn:aws:iam::${opts.accountId}:root`)}${tag('UserId', opts.accountId)}${tag('Account', opts.accountId)}</GetCallerIdentityResult>${meta}</GetCallerIdentityResponse>` };
  }
  if (action === 'AssumeRole') {
    const roleArn = params.get('RoleArn') ?? '';
    const session = params.get('RoleSessionName') ?? '';
    const m = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
    if (!m) return { ok: false, status: 400, code: 'ValidationError', message: `RoleArn must be a role ARN (got "${roleArn}")` };
    if (!/^[\w+=,.@-]{2,64}$/.test(session)) return { ok: false, status: 400, code: 'ValidationError', message: `RoleSessionName must be 2-64 characters of \\w+=,.@- (got "${session}")` };
    const seconds = Number(params.get('DurationSeconds') ?? 3600);
    const expiration = new Date(opts.now.getTime() + (Number.isFinite(seconds) ? seconds : 3600) * 1000).toISOString();
    const token = Buffer.from(`floodgate-local:${roleArn}:${session}`).toString('base64');
    return {
      ok: true,
      xml:
        `<AssumeRoleResponse xmlns="${NS}"><AssumeRoleResult>` +
        `<Credentials>${tag('AccessKeyId', LOCAL_CREDENTIALS.accessKeyId)}${tag('SecretAccessKey', LOCAL_CREDENTIALS.secretAccessKey)}${tag('SessionToken', token)}${tag('Expiration', expiration)}</Credentials>` +
        `<AssumedRoleUser>${tag('AssumedRoleId', `AROA${m[1]}:${session}`)}${tag('Arn', `arn:aws:sts::${m[1]}:assumed-role/${m[2]}/${session}`)}</AssumedRoleUser>` +
        `</AssumeRoleResult>${meta}</AssumeRoleResponse>`,
    };
  }
  return { ok: false, status: 400, code: 'InvalidAction', message: `The local stack's STS serves GetCallerIdentity and AssumeRole (got ${action || 'no Action'})` };
}

export function stsService(_ctx: GatewayContext): GatewayService {
  return {
    name: 'sts',
    signingNames: ['sts'],
    claims: (r) => r.action !== undefined && r.version === VERSION,
    async handle(req, res) {
      const params = new URLSearchParams(req.rawQuery);
      if (req.method === 'POST') for (const [k, v] of new URLSearchParams((await req.body()).toString('utf8'))) params.set(k, v);
      // A function's role credentials must not turn into the admin's through AssumeRole.
      if (params.get('Action') === 'AssumeRole' && req.scope?.accessKeyId !== LOCAL_CREDENTIALS.accessKeyId) {
        return this.error(req, res, { status: 403, code: 'AccessDenied', message: `User ${req.scope?.accessKeyId ?? 'anonymous'} is not authorized to perform sts:AssumeRole: on the local endpoint only the admin (${LOCAL_CREDENTIALS.accessKeyId}) may assume a role` });
      }
      const r = stsResponse(params.get('Action') ?? '', params, { accountId: LOCAL_ACCOUNT_ID, requestId: crypto.randomUUID(), now: new Date() });
      if (!r.ok) return this.error(req, res, r);
      sendXml(res, r.xml);
    },
    error: (_req, res, err) => queryError(res, err),
  };
}
