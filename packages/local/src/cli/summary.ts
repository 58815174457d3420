/** The JSON description of a running local stack (`floodgate-local up --json`, and the testing entry). */
import type { LocalStack } from '../stack.js';

export interface LocalStackSummary {
  /** The one endpoint: the value for AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly stack: string;
  /** Where the resources are: the embedded emulators, or the external endpoint (`upstream`). */
  readonly target: 'emulators' | 'external';
  readonly upstream?: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly outputsFile?: string;
  /** The local HTTP API front, when the stack has an HTTP API. */
  readonly apiUrl?: string;
  readonly functions: ReadonlyArray<{ logicalId: string; functionName: string; handler: string; timeoutSeconds: number; memoryMb: number; reservedConcurrency?: number }>;
  readonly mappings: ReadonlyArray<{ logicalId: string; functionName: string; queueUrl: string; queueArn: string; batchSize: number; maximumBatchingWindowSeconds: number; maximumConcurrency?: number; enabled: boolean }>;
  /** PID of the process serving the stack (the CLI). */
  readonly pid: number;
}

export function summarize(stack: LocalStack, extra: { outputsFile?: string; upstream?: string } = {}): LocalStackSummary {
  const fnName = new Map(stack.deployment.functions.map((f) => [f.logicalId, f.functionName]));
  return {
    endpoint: stack.endpoint,
    region: stack.region,
    // Copied field by field: the SDK decorates credential objects it was given ($source).
    credentials: { accessKeyId: stack.credentials.accessKeyId, secretAccessKey: stack.credentials.secretAccessKey },
    stack: stack.stackName,
    target: stack.target,
    ...(extra.upstream ? { upstream: extra.upstream } : {}),
    outputs: stack.outputs,
    ...(extra.outputsFile ? { outputsFile: extra.outputsFile } : {}),
    ...(stack.api ? { apiUrl: stack.api.url } : {}),
    functions: stack.deployment.functions.map((f) => ({
      logicalId: f.logicalId,
      functionName: f.functionName,
      handler: f.handler,
      timeoutSeconds: f.timeoutSeconds,
      memoryMb: f.memoryMb,
      ...(f.reservedConcurrency !== undefined ? { reservedConcurrency: f.reservedConcurrency } : {}),
    })),
    mappings: stack.deployment.eventSourceMappings.map((m) => ({
      logicalId: m.logicalId,
      functionName: fnName.get(m.functionLogicalId) ?? m.functionLogicalId,
      queueUrl: m.queueUrl,
      queueArn: m.queueArn,
      batchSize: m.batchSize,
      maximumBatchingWindowSeconds: m.maximumBatchingWindowSeconds,
      ...(m.maximumConcurrency !== undefined ? { maximumConcurrency: m.maximumConcurrency } : {}),
      enabled: m.enabled,
    })),
    pid: process.pid,
  };
}
