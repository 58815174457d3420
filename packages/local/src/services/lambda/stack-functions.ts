/**
 * The Lambda API on the main endpoint for the functions of stacks deployed through the CloudFormation
 * API: UpdateFunctionCode (what `cdk deploy --hotswap` and `cdk watch` call) swaps a function's code;
 * every other call for such a function is forwarded to its stack's own gateway, which runs it. Calls for
 * the stack `up` deployed from its assembly go to the built-in Lambda service as before.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { forward } from '../../gateway/forward.js';
import { jsonError } from '../../gateway/protocol-errors.js';
import type { GatewayContext, GatewayService, GatewayServiceFactory } from '../../gateway/types.js';
import { CloudFormationApiError, type CloudFormationStacks } from '../cloudformation/stacks.js';
import { CodeAssetError, unpackZip } from './code-asset.js';
import { functionConfiguration, lambdaService } from './handler.js';

const FUNCTION_PATH = /^\/(\d{4}-\d{2}-\d{2})\/functions\/([^/]+)(?:\/([^/]+))?\/?$/;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'x-amzn-requestid': crypto.randomUUID() });
  res.end(text);
}

export interface StackFunctionsOptions {
  readonly stacks: CloudFormationStacks;
  /** Reads an S3 object of the endpoint (UpdateFunctionCode's S3Bucket/S3Key). */
  readonly readObject: (bucket: string, key: string, version?: string) => Promise<Uint8Array>;
  readonly log?: (line: string) => void;
}

export function stackFunctionsService(options: StackFunctionsOptions): GatewayServiceFactory {
  return (ctx: GatewayContext): GatewayService => {
    const builtIn = lambdaService(ctx);
    return {
      name: 'lambda',
      signingNames: ['lambda'],
      ...(builtIn.claims ? { claims: builtIn.claims } : {}),
      async handle(req, res) {
        const m = FUNCTION_PATH.exec(req.path);
        const name = m ? decodeURIComponent(m[2]!) : undefined;
        const owner = name !== undefined ? options.stacks.stackOfFunction(name) : undefined;
        if (!owner) return builtIn.handle(req, res);
        if (m![3] === 'code' && req.method === 'PUT') {
          try {
            let body: { ZipFile?: string; S3Bucket?: string; S3Key?: string; S3ObjectVersion?: string; DryRun?: boolean; ImageUri?: string };
            try {
              body = JSON.parse((await req.body()).toString('utf8') || '{}') as typeof body;
            } catch {
              throw new CloudFormationApiError('InvalidRequestContentException', 'Could not parse request body into json', 400);
            }
            let zip: Uint8Array;
            if (typeof body.ZipFile === 'string') zip = Buffer.from(body.ZipFile, 'base64');
            else if (typeof body.S3Bucket === 'string' && typeof body.S3Key === 'string') {
              try {
                zip = await options.readObject(body.S3Bucket, body.S3Key, body.S3ObjectVersion);
              } catch (err) {
                throw new CloudFormationApiError('InvalidParameterValueException', `Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: ${(err as Error).message}`, 400);
              }
            } else throw new CloudFormationApiError('InvalidParameterValueException', body.ImageUri ? 'container images (ImageUri) are not run by the local Lambda host' : 'Please provide ZipFile or S3Bucket and S3Key', 400);
            const sha = createHash('sha256').update(zip).digest('base64');
            const dir = unpackZip(zip);
            if (body.DryRun !== true) {
              await options.stacks.updateFunctionCode(name!, dir);
              options.log?.(`lambda: ${name}: new code (${zip.length} bytes), running from the next invocation`);
            }
            const fn = options.stacks.stackOfFunction(name!)?.stack.runtime?.deployment.functions.find((f) => f.functionName === name);
            return sendJson(res, 200, { ...functionConfiguration(fn!, ctx.region), CodeSha256: sha, CodeSize: zip.length, LastModified: new Date().toISOString().replace('Z', '+0000') });
          } catch (err) {
            if (err instanceof CloudFormationApiError) return this.error(req, res, { status: err.status, code: err.code, message: err.message });
            if (err instanceof CodeAssetError) return this.error(req, res, { status: 400, code: 'InvalidZipFileException', message: err.message });
            throw err;
          }
        }
        const runtime = owner.stack.runtime;
        if (!runtime) return this.error(req, res, { status: 409, code: 'ResourceConflictException', message: `The function's stack ${owner.stack.name} is ${owner.stack.status}` });
        await forward(req, res, runtime.endpoint);
      },
      error(_req, res, err) {
        jsonError(res, err, 'com.amazonaws.lambda');
      },
    };
  };
}
