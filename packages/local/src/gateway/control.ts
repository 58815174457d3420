/**
 * The local stack's own control routes on the endpoint (not an AWS API), under `/_floodgate/`:
 *   POST /_floodgate/reset: empties the attached stack and keeps it (LocalStack.reset()); answers the
 *   ResetReport as JSON.
 * Signed like any request to the endpoint (SigV4, signing name `floodgate`), by the local admin only
 * (test/test): a function's credentials could otherwise wipe the stack it runs in. E.g.
 *   curl -X POST --aws-sigv4 aws:amz:us-east-1:floodgate --user test:test "$AWS_ENDPOINT_URL/_floodgate/reset"
 */
import type { ServerResponse } from 'node:http';
import { LOCAL_CREDENTIALS } from '../core/identity.js';
import type { GatewayError, GatewayService, GatewayServiceFactory } from './types.js';

export const CONTROL_SIGNING_NAME = 'floodgate';
export const RESET_PATH = '/_floodgate/reset';

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export const controlService: GatewayServiceFactory = (ctx) => {
  const service: GatewayService = {
    name: 'floodgate',
    signingNames: [CONTROL_SIGNING_NAME],
    // Unsigned requests reach it by path (and are then refused by authentication, saying how to sign).
    claims: (r) => r.path === RESET_PATH || r.path === `${RESET_PATH}/`,
    async handle(req, res) {
      const path = req.path.replace(/\/$/, '');
      if (path !== RESET_PATH) return service.error(req, res, { status: 404, code: 'NotFound', message: `No control route ${req.method} ${req.path} (the local stack serves POST ${RESET_PATH})` });
      if (req.method !== 'POST') return service.error(req, res, { status: 405, code: 'MethodNotAllowed', message: `POST ${RESET_PATH} resets the stack` });
      if (req.scope?.accessKeyId !== LOCAL_CREDENTIALS.accessKeyId) {
        return service.error(req, res, { status: 403, code: 'AccessDenied', message: `Only the local admin (${LOCAL_CREDENTIALS.accessKeyId}) may reset the stack` });
      }
      const stack = ctx.stack();
      if (!stack?.reset) return service.error(req, res, { status: 503, code: 'ServiceUnavailable', message: 'No local stack is attached to this endpoint yet' });
      await req.body();
      try {
        sendJson(res, 200, await stack.reset());
      } catch (err) {
        service.error(req, res, { status: 500, code: 'ResetFailed', message: `The reset failed: ${(err as Error).message}` });
      }
    },
    error: (_req, res, err: GatewayError) => {
      const hint = err.code === 'MissingAuthentication' || err.code.startsWith('Missing') ? ` Sign the request (signing name "${CONTROL_SIGNING_NAME}") with the local admin's credentials, e.g. curl -X POST --aws-sigv4 aws:amz:${ctx.region}:${CONTROL_SIGNING_NAME} --user ${LOCAL_CREDENTIALS.accessKeyId}:${LOCAL_CREDENTIALS.secretAccessKey} ${ctx.url()}${RESET_PATH}` : '';
      const message = hint && !/[.!?]$/.test(err.message) ? `${err.message}.${hint}` : `${err.message}${hint}`;
      sendJson(res, err.status, { code: err.code, message }, { 'x-amzn-errortype': err.code });
    },
  };
  return service;
};
