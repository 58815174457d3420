/**
 * The Lambda API (REST-JSON) on the one endpoint, answered from the attached local stack:
 * ListFunctions, GetFunction, GetFunctionConfiguration, Invoke (RequestResponse, Event, DryRun),
 * ListEventSourceMappings, GetEventSourceMapping, UpdateEventSourceMapping, Put/Get/DeleteFunctionConcurrency.
 *
 * Changes apply to the running pollers at once (EventSourceRunner.update): Enabled, BatchSize,
 * MaximumBatchingWindowInSeconds, ScalingConfig.MaximumConcurrency, FilterCriteria, ProvisionedPollerConfig,
 * and reserved concurrency (to every mapping of the function). Routing and the response shapes are pure
 * functions (`routeLambda`, `functionConfiguration`, `mappingConfiguration`, `parseMappingUpdate`).
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { DeployedEventSourceMapping, DeployedFunction } from '../../core/deployment/deploy.js';
import { LOCAL_ACCOUNT_ID } from '../../core/identity.js';
import type { EventSourceRunner, MappingState, RunnerUpdate } from './event-source-runner.js';
import type { AttachedStack, GatewayContext, GatewayError, GatewayService } from '../../gateway/types.js';
import { jsonError } from '../../gateway/protocol-errors.js';
import { AsyncSettingsError, eventInvokeConfigView, parseEventInvokeConfig, type EventInvokeConfigInput } from './async-invoke-config.js';

export type LambdaOperation =
  | { readonly op: 'ListFunctions' }
  | {
      readonly op:
        | 'GetFunction'
        | 'GetFunctionConfiguration'
        | 'Invoke'
        | 'PutFunctionConcurrency'
        | 'DeleteFunctionConcurrency'
        | 'GetFunctionConcurrency'
        | 'PutFunctionEventInvokeConfig'
        | 'GetFunctionEventInvokeConfig'
        | 'UpdateFunctionEventInvokeConfig'
        | 'DeleteFunctionEventInvokeConfig';
      readonly functionName: string;
    }
  | { readonly op: 'ListEventSourceMappings' }
  | { readonly op: 'GetEventSourceMapping' | 'UpdateEventSourceMapping'; readonly uuid: string };

/** The operation a request line names (botocore's request URIs), or undefined. */
export function routeLambda(method: string, path: string): LambdaOperation | undefined {
  const m = /^\/(\d{4}-\d{2}-\d{2})\/(functions|event-source-mappings)\/?([^/]*)\/?([^/]*)\/?$/.exec(path);
  if (!m) return undefined;
  const [, version, kind, rawId = '', sub = ''] = m;
  const id = decodeURIComponent(rawId);
  if (kind === 'event-source-mappings') {
    if (!id) return method === 'GET' ? { op: 'ListEventSourceMappings' } : undefined;
    if (sub) return undefined;
    if (method === 'GET') return { op: 'GetEventSourceMapping', uuid: id };
    if (method === 'PUT') return { op: 'UpdateEventSourceMapping', uuid: id };
    return undefined;
  }
  if (!id) return method === 'GET' ? { op: 'ListFunctions' } : undefined;
  if (!sub && method === 'GET') return { op: 'GetFunction', functionName: id };
  if (sub === 'configuration' && method === 'GET') return { op: 'GetFunctionConfiguration', functionName: id };
  if (sub === 'invocations' && method === 'POST') return { op: 'Invoke', functionName: id };
  if (sub === 'event-invoke-config' && version === '2019-09-25') {
    const op = ({ PUT: 'PutFunctionEventInvokeConfig', GET: 'GetFunctionEventInvokeConfig', POST: 'UpdateFunctionEventInvokeConfig', DELETE: 'DeleteFunctionEventInvokeConfig' } as const)[method];
    return op ? { op, functionName: id } : undefined;
  }
  if (sub === 'concurrency') {
    if (method === 'PUT' && version === '2017-10-31') return { op: 'PutFunctionConcurrency', functionName: id };
    if (method === 'DELETE' && version === '2017-10-31') return { op: 'DeleteFunctionConcurrency', functionName: id };
    if (method === 'GET') return { op: 'GetFunctionConcurrency', functionName: id };
  }
  return undefined;
}

export class LambdaApiError extends Error implements GatewayError {
  override readonly name = 'LambdaApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
const notFound = (what: string): LambdaApiError => new LambdaApiError(404, 'ResourceNotFoundException', what);
const invalid = (what: string): LambdaApiError => new LambdaApiError(400, 'InvalidParameterValueException', what);

export const functionArn = (region: string, functionName: string): string => `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${functionName}`;

/** A stable UUID-shaped id for a mapping (Lambda's UUID), derived from its physical name. */
export function mappingUuid(physicalId: string): string {
  const h = createHash('sha256').update(physicalId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** FunctionConfiguration as Lambda returns it. */
export function functionConfiguration(fn: DeployedFunction, region: string): Record<string, unknown> {
  return {
    FunctionName: fn.functionName,
    FunctionArn: functionArn(region, fn.functionName),
    Runtime: fn.runtime,
    Role: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${fn.functionName}-role`,
    Handler: fn.handler,
    CodeSize: 0,
    Description: '',
    Timeout: fn.timeoutSeconds,
    MemorySize: fn.memoryMb,
    LastModified: '1970-01-01T00:00:00.000+0000',
    CodeSha256: '',
    Version: '$LATEST',
    Environment: { Variables: fn.environment },
    TracingConfig: { Mode: 'PassThrough' },
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: fn.architectures,
  };
}

export interface MappingView {
  readonly mapping: DeployedEventSourceMapping;
  readonly uuid: string;
  readonly arn: string;
  readonly functionName: string;
  readonly runner?: EventSourceRunner;
}

/** EventSourceMappingConfiguration, with the running poller's current settings and state. */
export function mappingConfiguration(v: MappingView, region: string, lastModified: number): Record<string, unknown> {
  const s = v.runner?.settings();
  const state: MappingState = v.runner?.state() ?? (v.mapping.enabled ? 'Enabled' : 'Disabled');
  const maxConc = s ? s.maximumConcurrency : v.mapping.maximumConcurrency;
  const provisioned = s ? s.provisionedPollerConfig : v.mapping.provisionedPollerConfig;
  const filters = s ? s.filterCriteria : v.mapping.filterCriteria;
  return {
    UUID: v.uuid,
    EventSourceMappingArn: v.arn,
    EventSourceArn: v.mapping.queueArn,
    FunctionArn: functionArn(region, v.functionName),
    BatchSize: s?.batchSize ?? v.mapping.batchSize,
    MaximumBatchingWindowInSeconds: s?.maximumBatchingWindowSeconds ?? v.mapping.maximumBatchingWindowSeconds,
    State: state,
    StateTransitionReason: 'USER_INITIATED',
    LastModified: lastModified,
    FunctionResponseTypes: v.mapping.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [],
    ...(maxConc !== undefined ? { ScalingConfig: { MaximumConcurrency: maxConc } } : {}),
    ...(provisioned ? { ProvisionedPollerConfig: { MinimumPollers: provisioned.minimumPollers ?? 2, MaximumPollers: provisioned.maximumPollers ?? 200 } } : {}),
    ...(filters?.Filters?.length ? { FilterCriteria: filters } : {}),
  };
}

/** UpdateEventSourceMapping's body as a runner change (what Lambda accepts for SQS; the rest is refused). */
export function parseMappingUpdate(body: unknown): RunnerUpdate {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The request body must be a JSON object');
  const b = body as Record<string, unknown>;
  const known = new Set(['FunctionName', 'Enabled', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'ScalingConfig', 'FilterCriteria', 'ProvisionedPollerConfig', 'FunctionResponseTypes']);
  for (const k of Object.keys(b)) if (!known.has(k)) throw invalid(`${k} is not supported for an SQS event source mapping by the local stack`);
  if (b.FunctionResponseTypes !== undefined) throw invalid('FunctionResponseTypes cannot be changed on the local stack: redeploy the template');
  const out: { -readonly [K in keyof RunnerUpdate]: RunnerUpdate[K] } = {};
  const int = (k: string): number => {
    const v = b[k];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${k} must be an integer (got ${JSON.stringify(v)})`);
    return v;
  };
  if (b.Enabled !== undefined) {
    if (typeof b.Enabled !== 'boolean') throw invalid('Enabled must be true or false');
    out.enabled = b.Enabled;
  }
  if (b.BatchSize !== undefined) out.batchSize = int('BatchSize');
  if (b.MaximumBatchingWindowInSeconds !== undefined) out.maximumBatchingWindowSeconds = int('MaximumBatchingWindowInSeconds');
  if (b.ScalingConfig !== undefined) {
    const sc = b.ScalingConfig as { MaximumConcurrency?: unknown } | null;
    // An empty ScalingConfig removes the cap, as in Lambda.
    if (sc === null || sc.MaximumConcurrency === undefined) out.maximumConcurrency = null;
    else if (typeof sc.MaximumConcurrency !== 'number') throw invalid('ScalingConfig.MaximumConcurrency must be a number');
    else out.maximumConcurrency = sc.MaximumConcurrency;
  }
  if (b.ProvisionedPollerConfig !== undefined) {
    const p = b.ProvisionedPollerConfig as { MinimumPollers?: unknown; MaximumPollers?: unknown } | null;
    if (p === null || (p.MinimumPollers === undefined && p.MaximumPollers === undefined)) out.provisionedPollerConfig = null;
    else {
      out.provisionedPollerConfig = {
        ...(typeof p.MinimumPollers === 'number' ? { minimumPollers: p.MinimumPollers } : {}),
        ...(typeof p.MaximumPollers === 'number' ? { maximumPollers: p.MaximumPollers } : {}),
      };
    }
  }
  if (b.FilterCriteria !== undefined) {
    const f = b.FilterCriteria as { Filters?: Array<{ Pattern?: string }> } | null;
    out.filterCriteria = f === null || !f.Filters?.length ? null : { Filters: f.Filters };
  }
  return out;
}

interface StackState {
  readonly reserved: Map<string, number | undefined>;
  readonly lastModified: Map<string, number>;
}
const stackState = new WeakMap<AttachedStack, StackState>();
function stateOf(stack: AttachedStack): StackState {
  let s = stackState.get(stack);
  if (!s) {
    s = { reserved: new Map(stack.deployment.functions.map((f) => [f.logicalId, f.reservedConcurrency])), lastModified: new Map() };
    stackState.set(stack, s);
  }
  return s;
}

/** A function by name, ARN (qualifier ignored) or logical id. */
export function findFunction(stack: AttachedStack, ref: string): DeployedFunction {
  const name = ref.startsWith('arn:') ? (ref.split(':')[6] ?? '') : ref;
  const fn = stack.deployment.functions.find((f) => f.functionName === name || f.logicalId === name);
  if (!fn) throw notFound(`Function not found: ${functionArn(stack.region, name)}`);
  return fn;
}

function mappingViews(stack: AttachedStack): MappingView[] {
  return stack.deployment.eventSourceMappings.map((m) => {
    const physical = stack.deployment.resources.get(m.logicalId);
    const fn = stack.deployment.functions.find((f) => f.logicalId === m.functionLogicalId)!;
    const runner = stack.runners.get(m.logicalId);
    return {
      mapping: m,
      uuid: mappingUuid(physical?.ref ?? m.logicalId),
      arn: String(physical?.attributes.EventSourceMappingArn ?? ''),
      functionName: fn.functionName,
      ...(runner ? { runner } : {}),
    };
  });
}

function findMapping(stack: AttachedStack, uuid: string): MappingView {
  const v = mappingViews(stack).find((x) => x.uuid === uuid || x.arn === uuid || x.mapping.logicalId === uuid);
  if (!v) throw notFound(`The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: local) event source mapping ${uuid}`);
  return v;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'x-amzn-requestid': crypto.randomUUID(), ...headers });
  res.end(text);
}

function parseJsonBody(buf: Buffer, code = 'InvalidRequestContentException'): unknown {
  if (buf.length === 0) return {};
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new LambdaApiError(400, code, `Could not parse request body into json: ${(err as Error).message}`);
  }
}

export function lambdaService(ctx: GatewayContext): GatewayService {
  return {
    name: 'lambda',
    signingNames: ['lambda'],
    claims: (r) => /^\/\d{4}-\d{2}-\d{2}\/(functions|event-source-mappings)(\/|$)/.test(r.path),
    async handle(req, res) {
      const stack = ctx.stack();
      try {
        const route = routeLambda(req.method, req.path);
        if (!route) throw new LambdaApiError(400, 'UnknownOperationException', `Unknown Lambda operation: ${req.method} ${req.path}`);
        if (!stack) throw new LambdaApiError(503, 'ServiceException', 'No local stack is attached to this endpoint: start one (floodgate-local up) to use the Lambda API');
        const region = stack.region;
        const st = stateOf(stack);
        switch (route.op) {
          case 'ListFunctions':
            return sendJson(res, 200, { Functions: stack.deployment.functions.map((f) => functionConfiguration(f, region)) });
          case 'GetFunction': {
            const fn = findFunction(stack, route.functionName);
            const reserved = st.reserved.get(fn.logicalId);
            return sendJson(res, 200, {
              Configuration: functionConfiguration(fn, region),
              Code: { RepositoryType: 'Local', Location: `file://${fn.assetDir}` },
              ...(reserved !== undefined ? { Concurrency: { ReservedConcurrentExecutions: reserved } } : {}),
              Tags: {},
            });
          }
          case 'GetFunctionConfiguration':
            return sendJson(res, 200, functionConfiguration(findFunction(stack, route.functionName), region));
          case 'GetFunctionConcurrency': {
            const reserved = st.reserved.get(findFunction(stack, route.functionName).logicalId);
            return sendJson(res, 200, reserved !== undefined ? { ReservedConcurrentExecutions: reserved } : {});
          }
          case 'PutFunctionConcurrency':
          case 'DeleteFunctionConcurrency': {
            const fn = findFunction(stack, route.functionName);
            let reserved: number | null = null;
            if (route.op === 'PutFunctionConcurrency') {
              const body = parseJsonBody(await req.body()) as { ReservedConcurrentExecutions?: unknown };
              const n = body.ReservedConcurrentExecutions;
              if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalid(`ReservedConcurrentExecutions must be an integer >= 0 (got ${JSON.stringify(n)})`);
              reserved = n;
            }
            const runners = mappingViews(stack).filter((v) => v.mapping.functionLogicalId === fn.logicalId && v.runner);
            for (const v of runners) v.runner!.update({ reservedConcurrency: reserved });
            // The one shared limit: every mapping, the asynchronous event queue and Invoke.
            stack.functionConcurrency?.get(fn.logicalId)?.setReserved(reserved ?? undefined);
            st.reserved.set(fn.logicalId, reserved ?? undefined);
            return reserved === null ? sendJson(res, 204, undefined) : sendJson(res, 200, { ReservedConcurrentExecutions: reserved });
          }
          case 'PutFunctionEventInvokeConfig':
          case 'UpdateFunctionEventInvokeConfig': {
            const fn = findFunction(stack, route.functionName);
            const configs = stack.asyncConfigs;
            if (!configs) throw new LambdaApiError(503, 'ServiceException', 'asynchronous invocation is not configured on this stack');
            const body = parseJsonBody(await req.body()) as EventInvokeConfigInput;
            const current = configs.get(fn.logicalId);
            if (route.op === 'UpdateFunctionEventInvokeConfig' && !current) throw notFound(`The function ${functionArn(region, fn.functionName)} doesn't have an EventInvokeConfig`);
            try {
              const next = parseEventInvokeConfig(body, 'EventInvokeConfig', route.op === 'UpdateFunctionEventInvokeConfig' ? current : undefined);
              configs.put(fn.logicalId, next, 'EventInvokeConfig');
              return sendJson(res, 200, eventInvokeConfigView(next, functionArn(region, fn.functionName)));
            } catch (err) {
              if (err instanceof AsyncSettingsError) throw invalid(err.message);
              throw err;
            }
          }
          case 'GetFunctionEventInvokeConfig':
          case 'DeleteFunctionEventInvokeConfig': {
            const fn = findFunction(stack, route.functionName);
            const current = stack.asyncConfigs?.get(fn.logicalId);
            if (!current) throw notFound(`The function ${functionArn(region, fn.functionName)} doesn't have an EventInvokeConfig`);
            if (route.op === 'GetFunctionEventInvokeConfig') return sendJson(res, 200, eventInvokeConfigView(current, functionArn(region, fn.functionName)));
            stack.asyncConfigs!.delete(fn.logicalId);
            return sendJson(res, 204, undefined);
          }
          case 'ListEventSourceMappings': {
            const fnRef = req.query.get('FunctionName');
            const source = req.query.get('EventSourceArn');
            const fn = fnRef ? findFunction(stack, fnRef) : undefined;
            const list = mappingViews(stack).filter((v) => (!fn || v.mapping.functionLogicalId === fn.logicalId) && (!source || v.mapping.queueArn === source));
            return sendJson(res, 200, { EventSourceMappings: list.map((v) => mappingConfiguration(v, region, st.lastModified.get(v.uuid) ?? 0)) });
          }
          case 'GetEventSourceMapping': {
            const v = findMapping(stack, route.uuid);
            return sendJson(res, 200, mappingConfiguration(v, region, st.lastModified.get(v.uuid) ?? 0));
          }
          case 'UpdateEventSourceMapping': {
            const v = findMapping(stack, route.uuid);
            const change = parseMappingUpdate(parseJsonBody(await req.body()));
            if (!v.runner) throw new LambdaApiError(400, 'InvalidParameterValueException', `mapping ${v.uuid} has no poller on this stack`);
            try {
              v.runner.update(change);
            } catch (err) {
              throw invalid((err as Error).message);
            }
            st.lastModified.set(v.uuid, Math.floor(Date.now() / 1000));
            return sendJson(res, 202, mappingConfiguration(v, region, st.lastModified.get(v.uuid)!));
          }
          case 'Invoke': {
            const fn = findFunction(stack, route.functionName);
            const host = stack.hosts.get(fn.logicalId);
            if (!host) throw notFound(`Function not found: ${functionArn(region, fn.functionName)}`);
            const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
            const payload = parseJsonBody(await req.body(), 'InvalidRequestContentException');
            if (type === 'DryRun') return sendJson(res, 204, undefined);
            if (type === 'Event') {
              // Lambda queues the event in the function's own event queue and answers 202 at once.
              const invoker = stack.asyncInvokers?.get(fn.logicalId);
              if (!invoker) throw new LambdaApiError(503, 'ServiceException', `no asynchronous event queue for ${fn.functionName} on this stack`);
              const requestId = invoker.enqueue(payload);
              return sendJson(res, 202, undefined, { 'x-amzn-requestid': requestId });
            }
            if (type !== 'RequestResponse') throw invalid(`InvocationType must be RequestResponse, Event or DryRun (got ${type})`);
            // A synchronous call over the function's reserved concurrency is throttled, as Lambda does (429).
            const slots = stack.functionConcurrency?.get(fn.logicalId);
            if (slots && !slots.tryAcquire()) throw new LambdaApiError(429, 'TooManyRequestsException', 'Rate Exceeded.');
            let result;
            try {
              result = await host.invoke(payload);
            } finally {
              slots?.release();
            }
            const common = { 'x-amz-executed-version': '$LATEST' };
            if (result.ok) return sendJson(res, 200, result.value === undefined ? null : result.value, common);
            // Lambda's error document: errorType, errorMessage and (when the runtime reported one) trace.
            const doc = { errorType: result.error.errorType, errorMessage: result.error.errorMessage, ...(result.error.trace ? { trace: result.error.trace } : {}) };
            return sendJson(res, 200, doc, { ...common, 'x-amz-function-error': 'Unhandled' });
          }
        }
      } catch (err) {
        if (err instanceof LambdaApiError) return this.error(req, res, err);
        throw err;
      }
    },
    error(_req, res, err) {
      jsonError(res, err, 'com.amazonaws.lambda');
    },
  };
}
