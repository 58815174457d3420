/**
 * The gateway's extension points. A service is one AWS API served on the single endpoint (SQS, S3 and
 * DynamoDB forward to an emulator or an external endpoint; Lambda and CloudFormation are answered by the
 * local stack). Adding one means a new file under services/ and one entry in services/index.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalDeployment } from '../core/deployment/deploy.js';
import type { CfnTemplate } from '../core/deployment/assembly.js';
import type { FunctionHost } from '../lambda-host/index.js';
import type { EventSourceRunner } from '../services/lambda/event-source-runner.js';
import type { AsyncInvoker } from '../services/lambda/async-invoke.js';
import type { LogStore } from '../services/logs/store.js';
import type { EventsRuntime, FireResult } from '../services/events/bus-runtime.js';
import type { AsyncInvokeConfigs } from '../services/lambda/async-invoke-config.js';
import type { FunctionConcurrency } from '../services/lambda/function-concurrency.js';
import type { DeliveryGate } from '../core/delivery-gate.js';

/** The SigV4 credential scope of a request (Authorization header, or X-Amz-Credential when presigned). */
export interface CredentialScope {
  readonly accessKeyId: string;
  /** yyyymmdd */
  readonly date: string;
  readonly region: string;
  /** The signing name: `sqs`, `s3`, `dynamodb`, `lambda`, `cloudformation`, ... */
  readonly service: string;
  /** True when the scope came from the query string (a presigned URL). */
  readonly presigned: boolean;
}

export interface GatewayRequest {
  readonly method: string;
  /** Path as sent (percent-encoded), without the query. */
  readonly path: string;
  /** Raw query string, without `?`. */
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  /** Header names lower-cased; repeated headers joined with `,`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Present when the request is SigV4-signed. */
  readonly scope?: CredentialScope;
  /** The service the request was routed to (its `name`). */
  readonly service: string;
  /** `X-Amz-Target` (JSON protocols), or `Action` (query protocol), when present. */
  readonly operation?: string;
  /** The whole body, read (once) on first call. Streaming services use `raw` instead when nothing read it. */
  body(): Promise<Buffer>;
  /** True once `body()` has been called: `raw` has then been consumed. */
  readonly bodyRead: boolean;
  readonly raw: IncomingMessage;
}

/** A refusal, rendered by the service in its own protocol (XML for S3/query, JSON for JSON protocols). */
export interface GatewayError {
  readonly status: number;
  /** AWS error code, e.g. `AccessDenied`, `EntityTooLarge`, `ResourceNotFoundException`. */
  readonly code: string;
  readonly message: string;
}

export interface GatewayService {
  /** Short name, e.g. `sqs`. */
  readonly name: string;
  /** SigV4 signing names routed here. */
  readonly signingNames: readonly string[];
  /**
   * Claims an UNSIGNED request (no credential scope), e.g. by `X-Amz-Target` prefix or `Action=`.
   * Services are asked in list order; S3 (path-style) is the fallback.
   */
  claims?(req: UnsignedRequest): boolean;
  handle(req: GatewayRequest, res: ServerResponse): Promise<void>;
  /** Writes `err` in this service's protocol. */
  error(req: GatewayRequest, res: ServerResponse, err: GatewayError): void;
  /**
   * For a route that is not an AWS API (the console, the health check): the service checks its callers
   * itself, INSTEAD of the gateway's authorizers (a browser cannot sign with SigV4). Undefined lets it through.
   */
  authorize?(req: GatewayRequest): GatewayError | undefined;
}

/** What fallback routing sees of an unsigned request. */
export interface UnsignedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
  /** `Action` from the query or from a form-encoded body. */
  readonly action?: string;
  /** `Version` from the query or from a form-encoded body (tells SQS's from CloudFormation's query API). */
  readonly version?: string;
}

/** Where the forwarding services send requests. Absent = that service is not served. */
export interface Upstreams {
  readonly sqs?: string;
  readonly s3?: string;
  readonly dynamodb?: string;
  /** @default the SQS upstream (fauxqs, and external endpoints such as moto, serve SNS on the same port) */
  readonly sns?: string;
}

/**
 * What the endpoint's own services (Lambda, CloudFormation) read of the local stack attached to the
 * gateway. `LocalStack` (stack.ts) is one; the gateway does not depend on how it is started.
 */
export interface AttachedStack {
  readonly stackName: string;
  readonly region: string;
  readonly template: CfnTemplate;
  readonly deployment: LocalDeployment;
  /** The stack's outputs as the local stack reports them (API URLs point at the local API front). */
  readonly outputs: Readonly<Record<string, string>>;
  /** The SQS pollers, by event source mapping logical id. */
  readonly runners: ReadonlyMap<string, EventSourceRunner>;
  /** The Lambda hosts, by function logical id. */
  readonly hosts: ReadonlyMap<string, FunctionHost>;
  /** Each function's asynchronous event queue (Invoke Event, SNS, S3), by function logical id. */
  readonly asyncInvokers?: ReadonlyMap<string, AsyncInvoker>;
  /** The functions' CloudWatch Logs (the Logs API answers from it). */
  readonly logStore?: LogStore;
  /** EventBridge: buses, rules and PutEvents (services/events/). */
  readonly events?: EventsRuntime;
  /** Scheduled rules and Scheduler schedules, fired on demand by name. */
  readonly schedules?: { fire(name: string): Promise<FireResult> | undefined };
  /** EventInvokeConfig and DeadLetterConfig of every function (Put/Get/Update/DeleteFunctionEventInvokeConfig). */
  readonly asyncConfigs?: AsyncInvokeConfigs;
  /** Each function's reserved concurrency (PutFunctionConcurrency changes it for every invoker). */
  readonly functionConcurrency?: ReadonlyMap<string, FunctionConcurrency>;
  /** Empties the stack and keeps it (`POST /_floodgate/reset`); answers what it did. */
  reset?(): Promise<unknown>;
}

export interface GatewayContext {
  readonly region: string;
  readonly upstreams: Upstreams;
  /** The gateway's own base URL (no trailing slash), e.g. `http://127.0.0.1:4566`. */
  url(): string;
  /** The local stack attached to this gateway (Lambda and CloudFormation APIs answer from it). */
  stack(): AttachedStack | undefined;
  /** The SigV4 signing names served now (`sqs`, `s3`, `lambda`, ...). */
  signingNames(): string[];
  /**
   * The resource policies' gate for service-to-service deliveries (SNS, S3 notifications); absent on a
   * gateway without a stack's policies (every delivery then goes through).
   */
  readonly deliveries?: DeliveryGate;
}

/** Builds a service for a gateway; returns undefined when the service does not apply (e.g. no upstream). */
export type GatewayServiceFactory = (ctx: GatewayContext) => GatewayService | undefined;

/**
 * Authentication / authorization hook, run for every request after routing and before the service.
 * Return a GatewayError to refuse the request (rendered in the service's protocol), undefined to let it
 * through. SigV4 verification and IAM evaluation plug in here.
 */
export type GatewayAuthorizer = (req: GatewayRequest, ctx: GatewayContext) => Promise<GatewayError | undefined> | GatewayError | undefined;
