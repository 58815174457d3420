/**
 * Settling one invocation of Lambda's SQS poller: from the function's result to what is deleted (the
 * ReportBatchItemFailures contract, batch-response.ts) and the record of the invocation. Nothing is
 * deleted before the handler returns; what is not deleted comes back after the visibility timeout.
 */
import type { Message } from '@aws-sdk/client-sqs';
import type { InvokeResult } from '../../lambda-host/index.js';
import { settleBatch } from './batch-response.js';
import type { InvocationRecord } from './event-source-telemetry.js';
import type { MappingQueue } from './event-source-polling.js';

export interface SettleInput {
  readonly batch: readonly Message[];
  readonly result: InvokeResult;
  readonly reportBatchItemFailures: boolean;
  /** ms since the runner started. */
  readonly t: number;
  /** FIFO: the message groups of the batch. */
  readonly groups?: readonly string[];
}

/** Deletes the records the result says succeeded and describes the invocation. */
export async function settleInvocation(queue: MappingQueue, input: SettleInput): Promise<InvocationRecord> {
  const { batch, result, reportBatchItemFailures } = input;
  const settlement = settleBatch(
    batch.map((m) => m.MessageId ?? ''),
    result.ok ? { ok: true, value: result.value } : { ok: false, error: result.error },
    reportBatchItemFailures,
  );
  const okIds = new Set(settlement.succeeded);
  const deleted = await queue.delete(batch.filter((m) => okIds.has(m.MessageId ?? '')));
  return {
    t: input.t,
    requestId: result.requestId,
    batchSize: batch.length,
    deleted,
    failed: settlement.failed.length,
    durationMs: result.durationMs,
    ...(result.initDurationMs !== undefined ? { initDurationMs: result.initDurationMs } : {}),
    outcome: settlement.wholeBatchFailed ? 'failed' : settlement.failed.length > 0 ? 'partial' : 'success',
    ...(settlement.wholeBatchFailed ? { failureKind: result.ok ? 'malformed' : result.error.kind } : {}),
    ...(settlement.reason ? { reason: settlement.reason } : {}),
    maxReceiveCount: Math.max(...batch.map((m) => Number(m.Attributes?.ApproximateReceiveCount ?? 1))),
    ...(input.groups ? { groups: input.groups } : {}),
  };
}
