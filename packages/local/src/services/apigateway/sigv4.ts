/**
 * SigV4 for the local API front (API Gateway IAM authorization): the endpoint's one verifier
 * (gateway/auth/sigv4.ts) with API Gateway's error types. A signature dated more than 5 minutes from the
 * server clock is refused, as API Gateway refuses it.
 */
import { verifyRequest, type Credentials, type IncomingSignedRequest } from '../../gateway/auth/sigv4.js';

export type { Credentials, IncomingSignedRequest };

export type VerifyResult =
  | { readonly ok: true; readonly accessKeyId: string }
  | { readonly ok: false; readonly status: 403; readonly message: string; readonly errorType: SigV4ErrorType };

/** API Gateway's `x-amzn-errortype` for each kind of refusal. */
export type SigV4ErrorType = 'MissingAuthenticationTokenException' | 'AccessDeniedException' | 'InvalidSignatureException' | 'IncompleteSignatureException';

export async function verifySigV4(
  req: IncomingSignedRequest,
  expected: { credentials: Credentials; region: string; service: string },
  nowMs: number = Date.now(),
): Promise<VerifyResult> {
  if (req.headers.authorization === undefined) return { ok: false, status: 403, message: 'Missing Authentication Token', errorType: 'MissingAuthenticationTokenException' };
  const r = await verifyRequest(req, {
    lookup: (id) => (id === expected.credentials.accessKeyId ? expected.credentials : undefined),
    region: expected.region,
    services: [expected.service],
    nowMs,
  });
  if (r.ok) return { ok: true, accessKeyId: r.accessKeyId };
  const errorType: SigV4ErrorType =
    r.code === 'InvalidAccessKeyId' ? 'AccessDeniedException'
    : r.code === 'SignatureDoesNotMatch' || r.code === 'RequestTimeTooSkewed' || r.code === 'RequestExpired' ? 'InvalidSignatureException'
    : r.code === 'MissingAuthentication' ? 'MissingAuthenticationTokenException'
    : 'IncompleteSignatureException';
  const message = r.code === 'InvalidAccessKeyId' ? 'The security token included in the request is invalid.' : r.message;
  return { ok: false, status: 403, message, errorType };
}
