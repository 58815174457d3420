/**
 * SSM Parameter Store on the one endpoint (JSON 1.1, X-Amz-Target AmazonSSM.<Operation>): GetParameter,
 * GetParameters, GetParametersByPath, PutParameter, DeleteParameter. The CDK CLI reads the bootstrap
 * version (/cdk-bootstrap/hnb659fds/version) with GetParameter.
 */
import type { ServerResponse } from 'node:http';
import { jsonError } from '../../gateway/protocol-errors.js';
import type { GatewayContext, GatewayService, GatewayServiceFactory } from '../../gateway/types.js';
import { LOCAL_ACCOUNT_ID } from '../../core/identity.js';
import { SsmApiError, type Parameter, type ParameterStore, type ParameterType } from './store.js';

const TARGET_PREFIX = 'AmazonSSM.';

function view(p: Parameter, region: string): Record<string, unknown> {
  return {
    Name: p.name,
    Type: p.type,
    Value: p.value,
    Version: p.version,
    LastModifiedDate: p.lastModified.getTime() / 1000,
    ARN: `arn:aws:ssm:${region}:${LOCAL_ACCOUNT_ID}:parameter${p.name.startsWith('/') ? '' : '/'}${p.name}`,
    DataType: 'text',
  };
}

type Body = Record<string, unknown>;

/** One operation on the store: pure of I/O (unit-tested through the endpoint). */
export function ssmOperation(store: ParameterStore, op: string, body: Body, region: string): Record<string, unknown> {
  const name = (k = 'Name'): string => {
    const v = body[k];
    if (typeof v !== 'string' || v === '') throw new SsmApiError(400, 'ValidationException', `${k} is required`);
    return v;
  };
  const notFound = (n: string) => new SsmApiError(400, 'ParameterNotFound', `Parameter ${n} not found`);
  switch (op) {
    case 'GetParameter': {
      const n = name();
      const p = store.get(n);
      if (!p) throw notFound(n);
      return { Parameter: view(p, region) };
    }
    case 'GetParameters': {
      const names = Array.isArray(body.Names) ? body.Names.map(String) : [];
      const found = names.map((n) => store.get(n)).filter((p): p is Parameter => p !== undefined);
      return { Parameters: found.map((p) => view(p, region)), InvalidParameters: names.filter((n) => !store.get(n)) };
    }
    case 'GetParametersByPath':
      return { Parameters: store.byPath(name('Path'), body.Recursive === true).map((p) => view(p, region)) };
    case 'PutParameter': {
      const type = body.Type === undefined ? undefined : String(body.Type);
      if (type !== undefined && type !== 'String' && type !== 'StringList' && type !== 'SecureString') throw new SsmApiError(400, 'ValidationException', `Type must be String, StringList or SecureString (got ${type})`);
      const p = store.put({ name: name(), value: String(body.Value ?? ''), ...(type ? { type: type as ParameterType } : {}), overwrite: body.Overwrite === true, ...(typeof body.Description === 'string' ? { description: body.Description } : {}) });
      return { Version: p.version, Tier: 'Standard' };
    }
    case 'DeleteParameter': {
      const n = name();
      if (!store.delete(n)) throw notFound(n);
      return {};
    }
    default:
      throw new SsmApiError(400, 'InvalidAction', `${op} is not served by the local stack's SSM (GetParameter, GetParameters, GetParametersByPath, PutParameter and DeleteParameter are)`);
  }
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(Buffer.byteLength(text)), 'x-amzn-requestid': crypto.randomUUID() });
  res.end(text);
}

/** The SSM service over `store` (one store per endpoint, given by the composition root). */
export function ssmService(store: ParameterStore): GatewayServiceFactory {
  return (ctx: GatewayContext): GatewayService => ({
    name: 'ssm',
    signingNames: ['ssm'],
    claims: (r) => (r.headers['x-amz-target'] ?? '').startsWith(TARGET_PREFIX),
    async handle(req, res) {
      try {
        const target = req.headers['x-amz-target'] ?? '';
        if (!target.startsWith(TARGET_PREFIX)) throw new SsmApiError(400, 'InvalidAction', `Expected X-Amz-Target ${TARGET_PREFIX}<Operation> (got "${target}")`);
        const raw = await req.body();
        let body: unknown = {};
        try {
          if (raw.length > 0) body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new SsmApiError(400, 'SerializationException', 'The request body is not valid JSON');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SsmApiError(400, 'SerializationException', 'The request body must be a JSON object');
        sendJson(res, ssmOperation(store, target.slice(TARGET_PREFIX.length), body as Body, ctx.region));
      } catch (err) {
        if (err instanceof SsmApiError) return this.error(req, res, { status: err.status, code: err.code, message: err.message });
        throw err;
      }
    },
    error(_req, res, err) {
      jsonError(res, err, 'com.amazonaws.ssm');
    },
  });
}
