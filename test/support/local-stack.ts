/**
 * Integration-test helpers: a private deployment of the real stack on the shared emulators (a unique
 * name prefix, as for any shared endpoint), producer shortcuts, structured-log capture, and waiting for jobs to settle.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '@floodgate/local';
import { synthesize } from '@floodgate/local';
import { GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { getJob, pipelineClients, queueDepth, submitDirect, type PipelineClients } from '../../local/producer';
import { STACK_OUTPUTS } from '../../lambda/shared/contract';
import type { LogEntry } from '@floodgate/local';
import type { JobRecord } from '../../lambda/shared/job-record';
import { localEndpoints } from './local-env';

export interface IntegrationStack {
  readonly stack: LocalStack;
  readonly clients: PipelineClients;
  /** Structured (JSON) log lines of every execution environment so far. */
  readonly logs: Array<Record<string, unknown>>;
  submit(fileName: string, bytes: Uint8Array, opts?: { jobId?: string; copies?: number }): Promise<string>;
  job(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Shortens the job queue's visibility timeout (and raises maxReceiveCount) so redeliveries happen in
   * seconds, not the stack's 6 x function timeout: the tests then see them within their time budget.
   */
  fastRedelivery(visibilitySeconds: number, maxReceiveCount?: number): Promise<void>;
  /** Waits until the job queue is empty (nothing visible or in flight) and no invocation is running. */
  drained(timeoutMs?: number): Promise<void>;
  /** Waits until every job is completed or failed; returns their records. */
  settle(jobIds: readonly string[], timeoutMs?: number): Promise<JobRecord[]>;
  stop(): Promise<void>;
}

export async function assemblyDir(): Promise<string> {
  const provided = inject('assemblyDir');
  if (provided) return provided;
  return (await synthesize()).assemblyDir;
}

export async function deployIntegrationStack(options: Omit<LocalStackOptions, 'emulators' | 'assemblyDir'> = {}): Promise<IntegrationStack> {
  const logs: Array<Record<string, unknown>> = [];
  const stack = await startLocalStack({
    assemblyDir: await assemblyDir(),
    emulators: localEndpoints(),
    prefix: `it${randomBytes(3).toString('hex')}`,
    waitTimeSeconds: 1,
    log: () => undefined,
    ...options,
    onLog: (e: LogEntry) => {
      if (e.json) logs.push(e.json);
      options.onLog?.(e);
    },
  });
  const clients = pipelineClients(stack.endpoints);
  const job = (jobId: string) => getJob(clients, stack.outputs, jobId);
  return {
    stack,
    clients,
    logs,
    async submit(fileName, bytes, opts = {}) {
      const { jobId } = await submitDirect({ clients, outputs: stack.outputs, fileName, bytes, ...opts });
      return jobId;
    },
    job,
    async fastRedelivery(visibilitySeconds, maxReceiveCount) {
      const QueueUrl = stack.outputs[STACK_OUTPUTS.jobQueueUrl]!;
      const Attributes: Record<string, string> = { VisibilityTimeout: String(visibilitySeconds) };
      if (maxReceiveCount !== undefined) {
        const cur = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['RedrivePolicy'] }));
        const policy = JSON.parse(cur.Attributes?.RedrivePolicy ?? '{}') as Record<string, unknown>;
        Attributes.RedrivePolicy = JSON.stringify({ ...policy, maxReceiveCount });
      }
      await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes }));
    },
    async drained(timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const d = await queueDepth(clients, stack.outputs[STACK_OUTPUTS.jobQueueUrl]!);
        const running = [...stack.runners.values()].reduce((n, r) => n + r.stats().inFlight, 0);
        if (d.visible + d.notVisible === 0 && running === 0) return;
        if (Date.now() > end) throw new Error(`job queue not drained after ${timeoutMs} ms (${d.visible} visible, ${d.notVisible} in flight)`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async settle(jobIds, timeoutMs = 90_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const records = await Promise.all(jobIds.map(job));
        if (records.every((r) => r?.status === 'completed' || r?.status === 'failed')) return records as JobRecord[];
        if (Date.now() > end) {
          throw new Error(`jobs not settled after ${timeoutMs} ms: ${records.map((r, i) => `${jobIds[i]}=${r?.status ?? 'missing'}`).join(', ')}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      clients.destroy();
      await stack.stop({ destroy: true });
    },
  };
}

export { sampleImage } from '../../local/samples';
