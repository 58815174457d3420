/**
 * The local stack as the chaos and burst runs need it: a thin layer over `startLocalStack`
 * (local/stack.ts: deployer, child-process Lambda hosts, SQS runner, API front) that changes what these
 * runs need changed, and nothing else:
 *  - extra worker environment (FLOODGATE_FAULTS),
 *  - a shorter worker timeout (+ the deadline margins the construct derives for it) and a shorter job-queue
 *    visibility timeout, so a killed invocation is redelivered in seconds rather than 6 x 60 s.
 * Every override is reported in `overrides` so the runs can print what they changed.
 */
import { GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CONSUMER_ENV, STACK_OUTPUTS } from '../lambda/shared/contract';
import { deriveDeadlineMargins } from '@floodgate/cdk';
import type { DeployedFunction } from '@floodgate/local';
import { LOCAL_CREDENTIALS, type LocalEndpoints } from '@floodgate/local';
import type { LogEntry } from '@floodgate/local';
import { startLocalStack, type LocalStack } from '@floodgate/local';
import { synthesize } from '@floodgate/local';

export interface HarnessOptions {
  /** Use these emulators (tests pass the shared ones); otherwise they are started and stopped here. */
  readonly endpoints?: LocalEndpoints;
  /** A synthesized assembly; otherwise `synthesize({ outDir: synthOutDir })` (cached by input hash). */
  readonly assemblyDir?: string;
  /** @default '.floodgate/cdk.out' */
  readonly synthOutDir?: string;
  /** Extra environment for the queue consumer function (FLOODGATE_FAULTS). */
  readonly workerEnv?: Record<string, string>;
  /** Override the consumer's Timeout (seconds); the deadline margins are re-derived for it. */
  readonly workerTimeoutSeconds?: number;
  /** Override the job queue's VisibilityTimeout (seconds). */
  readonly queueVisibilitySeconds?: number;
  /** Start the API front when the template has an HTTP API. @default true */
  readonly api?: boolean;
  /** Long-poll wait of the runner's pollers. @default 2 (short: runs stop quickly) */
  readonly pollWaitSeconds?: number;
  /** Every log line of every function. */
  readonly onLog?: (entry: LogEntry) => void;
  readonly log?: (line: string) => void;
}

export interface Harness {
  readonly stack: LocalStack;
  readonly endpoints: LocalEndpoints;
  readonly outputs: Readonly<Record<string, string>>;
  /** Logical id of the queue consumer (the function behind the event source mapping). */
  readonly workerLogicalId: string;
  /** Base URL of the local API front, when the template has an HTTP API. */
  readonly apiUrl?: string;
  /** What differs from the synthesized template, for the run's report. */
  readonly overrides: Record<string, string>;
  /** min(MaximumConcurrency, ReservedConcurrentExecutions) of the consumer's mapping. */
  readonly reservedConcurrency: number;
  stop(): Promise<void>;
}

export function requiredOutput(outputs: Readonly<Record<string, string>>, key: string): string {
  const v = outputs[key];
  if (v === undefined) throw new Error(`the stack has no ${key} output (outputs: ${Object.keys(outputs).join(', ')})`);
  return v;
}

/** The BoundedQueueConsumer sets the deadline margins on its function: that is how a consumer is recognised. */
function isConsumer(fn: DeployedFunction): boolean {
  return fn.environment[CONSUMER_ENV.softMarginMs] !== undefined;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const log = options.log ?? (() => undefined);
  const assemblyDir = options.assemblyDir ?? (await synthesize({ ...(options.synthOutDir ? { outDir: options.synthOutDir } : {}), log })).assemblyDir;
  const overrides: Record<string, string> = {};
  const timeout = options.workerTimeoutSeconds;
  const stack = await startLocalStack({
    assemblyDir,
    ...(options.endpoints ? { emulators: options.endpoints } : {}),
    api: options.api ?? true,
    waitTimeSeconds: options.pollWaitSeconds ?? 2,
    log,
    ...(options.onLog ? { onLog: options.onLog } : {}),
    functionOverrides: (fn) => {
      if (!isConsumer(fn) || timeout === undefined || timeout === fn.timeoutSeconds) return {};
      overrides[`${fn.logicalId}.timeoutSeconds`] = `${fn.timeoutSeconds} -> ${timeout}`;
      return { timeoutSeconds: timeout };
    },
    functionEnv: (fn) => {
      if (!isConsumer(fn)) return {};
      const env: Record<string, string> = { ...options.workerEnv };
      for (const [k, v] of Object.entries(env)) overrides[`${fn.logicalId}.env.${k}`] = v;
      if (timeout !== undefined) {
        // The margins the construct would derive for the shorter timeout (it derived them for the real one).
        const m = deriveDeadlineMargins(timeout * 1000);
        env[CONSUMER_ENV.softMarginMs] = String(m.softMs);
        env[CONSUMER_ENV.hardMarginMs] = String(m.hardMs);
        overrides[`${fn.logicalId}.deadlineMarginsMs`] = `soft ${fn.environment[CONSUMER_ENV.softMarginMs]} -> ${m.softMs}, hard ${fn.environment[CONSUMER_ENV.hardMarginMs]} -> ${m.hardMs}`;
      }
      return env;
    },
  });
  try {
    const mapping = stack.deployment.eventSourceMappings.find((m) => m.enabled);
    if (mapping === undefined) throw new Error('the stack has no enabled SQS event source mapping');
    if (options.queueVisibilitySeconds !== undefined) {
      const sqs = new SQSClient({ region: stack.endpoints.region, credentials: LOCAL_CREDENTIALS, endpoint: stack.endpoints.sqs });
      try {
        const before = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: mapping.queueUrl, AttributeNames: ['VisibilityTimeout'] }))).Attributes?.VisibilityTimeout;
        await sqs.send(new SetQueueAttributesCommand({ QueueUrl: mapping.queueUrl, Attributes: { VisibilityTimeout: String(options.queueVisibilitySeconds) } }));
        overrides['jobQueue.visibilityTimeoutSeconds'] = `${before ?? '?'} -> ${options.queueVisibilitySeconds}`;
      } finally {
        sqs.destroy();
      }
    }
    requiredOutput(stack.outputs, STACK_OUTPUTS.jobQueueUrl);
    requiredOutput(stack.outputs, STACK_OUTPUTS.deadLetterQueueUrl);
    const runner = stack.runners.get(mapping.logicalId);
    return {
      stack,
      endpoints: stack.endpoints,
      outputs: stack.outputs,
      workerLogicalId: mapping.functionLogicalId,
      ...(stack.api ? { apiUrl: stack.api.url } : {}),
      overrides,
      reservedConcurrency: runner?.concurrencyCap ?? 0,
      stop: () => stack.stop({ destroy: true }),
    };
  } catch (err) {
    await stack.stop({ destroy: true });
    throw err;
  }
}
