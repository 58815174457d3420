/** The JSON description of a running local stack (`floodgate-local up --json`, and the testing entry). */
import type { LocalStack } from '../stack.js';
import type { LocalStackSummary } from '../summary-type.js';

export type { LocalStackSummary } from '../summary-type.js';

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
    ...(stack.dataDir !== undefined ? { dataDir: stack.dataDir, restored: stack.restored } : {}),
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
    deliveryFailures: stack.deliveryFailures(),
    pid: process.pid,
  };
}

/**
 * What `up` says when it stops about deliveries between services that did not happen: the count a
 * resource policy refused, with the latest refusals, and SNS's NumberOfNotificationsFailed per topic
 * (EventBridge's FailedInvocations are in the rules' line). Nothing when there were none.
 */
export function deliveryFailureLines(stack: Pick<LocalStack, 'deliveryFailures'>): string[] {
  const f = stack.deliveryFailures();
  const lines: string[] = [];
  if (f.deniedDeliveries > 0) {
    lines.push(`deliveries: ${f.deniedDeliveries} denied by the destination's resource policy (queue policy, topic policy or Lambda permission; --no-iam turns this off)`);
    for (const d of f.denied.slice(-5)) lines.push(`  denied: ${d.service} ${d.action} on ${d.resource} from ${d.sourceArn}`);
  }
  for (const t of f.sns) lines.push(`sns: ${t.topicArn}: NumberOfNotificationsFailed=${t.NumberOfNotificationsFailed} NumberOfNotificationsRedrivenToDlq=${t.NumberOfNotificationsRedrivenToDlq}`);
  return lines;
}
