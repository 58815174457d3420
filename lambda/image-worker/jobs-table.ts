/**
 * Fenced writes to the jobs table (partition key `jobId`). Every write carries the writer's fence and is
 * accepted only if no newer fence has written and the status moves forward (lock/fence.ts is the pure
 * rule). A refused write returns the verdict from the old item (ReturnValuesOnConditionCheckFailure), so
 * no extra read is needed; every rejection of a stale writer is logged as 'stale-fenced-write-rejected'.
 */
import { TransactWriteItemsCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { ErrorClass } from '@floodgate/runtime';
import type { JobStatus, RenditionRecord } from '../shared/job-record';
import { judgeFencedWrite, type FenceVerdict } from '../shared/fence';
import { conditionFailedItem, N, num, S, str, type Item } from '@floodgate/runtime';

export interface FencedWriteResult {
  readonly verdict: FenceVerdict;
  /** The record's status and fence before the write (when refused, or when the write saw an old item). */
  readonly previous?: { readonly status?: JobStatus; readonly fence?: number; readonly error?: { class: string; reason: string } };
}

export interface CompletionResult extends FencedWriteResult {
  /** The other item of the transaction (the idempotency claim) was refused: our claim was taken over and
   *  nothing was written. */
  readonly claimLost: boolean;
}

export type FenceEventSink = (event: 'stale-fenced-write-rejected' | 'stale-fenced-write-accepted', fields: Record<string, unknown>) => void;

const CONDITION = '(attribute_not_exists(fence) OR fence <= :f) AND (attribute_not_exists(#s) OR #s IN (:queued, :processing))';

const COMPLETE_UPDATE = 'SET #s = :to, fence = :f, updatedAt = :now, renditions = :r REMOVE #e ADD completions :one';

function renditionList(renditions: readonly RenditionRecord[]): AttributeValue {
  return { L: renditions.map((r) => ({ M: { name: S(r.name), key: S(r.key), width: N(r.width), height: N(r.height), bytes: N(r.bytes), format: S(r.format) } })) };
}

export class JobsTable {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly onFenceEvent: FenceEventSink = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** queued -> processing under `fence` (creates a minimal record if the producer wrote none). */
  markProcessing(jobId: string, sourceKey: string, fence: number, signal?: AbortSignal): Promise<FencedWriteResult> {
    return this.write(jobId, fence, 'processing', 'SET #s = :to, fence = :f, updatedAt = :now, sourceKey = if_not_exists(sourceKey, :src), createdAt = if_not_exists(createdAt, :now)', { ':src': S(sourceKey) }, signal);
  }

  /**
   * -> completed AND the idempotency claim closed, atomically in ONE request (TransactWriteItems): the job
   * can never be completed with its claim left in progress, and the happy path costs 3 DynamoDB requests
   * per record (claim, processing, this) instead of 4.
   */
  async completeWithClaim(jobId: string, fence: number, renditions: readonly RenditionRecord[], claimItem: TransactWriteItem, signal?: AbortSignal): Promise<CompletionResult> {
    const job = this.completionUpdate(jobId, fence, renditions);
    try {
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: { ...job, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } }, claimItem] }), { abortSignal: signal });
      return { verdict: 'accept', claimLost: false };
    } catch (err) {
      const reasons = (err as { name?: string; CancellationReasons?: { Code?: string; Item?: Item }[] }).name === 'TransactionCanceledException'
        ? (err as { CancellationReasons?: { Code?: string; Item?: Item }[] }).CancellationReasons
        : undefined;
      if (!reasons) throw err;
      const jobReason = reasons[0];
      const claimLost = reasons[1]?.Code === 'ConditionalCheckFailed';
      if (jobReason?.Code === 'ConditionalCheckFailed') return { ...this.refused(jobId, fence, 'completed', jobReason.Item), claimLost };
      // The job write was acceptable but, the claim not being ours any more, the transaction wrote nothing.
      if (claimLost) return { verdict: 'not-forward', claimLost: true };
      // Cancelled for another reason (TransactionConflict, throttling): let classification retry it.
      throw err;
    }
  }

  /** -> completed with the renditions; `ADD completions 1` lets the chaos run detect double effects. */
  complete(jobId: string, fence: number, renditions: readonly RenditionRecord[], signal?: AbortSignal): Promise<FencedWriteResult> {
    return this.write(jobId, fence, 'completed', COMPLETE_UPDATE, { ':r': renditionList(renditions), ':one': N(1) }, signal, true);
  }

  /** -> failed with the classified reason. */
  fail(jobId: string, fence: number, error: { class: ErrorClass; reason: string }, signal?: AbortSignal): Promise<FencedWriteResult> {
    const e: AttributeValue = { M: { class: S(error.class), reason: S(error.reason.slice(0, 1000)) } };
    return this.write(jobId, fence, 'failed', 'SET #s = :to, fence = :f, updatedAt = :now, #e = :e', { ':e': e }, signal, true);
  }

  private completionUpdate(jobId: string, fence: number, renditions: readonly RenditionRecord[]) {
    return {
      TableName: this.tableName,
      Key: { jobId: S(jobId) },
      ConditionExpression: CONDITION,
      UpdateExpression: COMPLETE_UPDATE,
      ExpressionAttributeNames: { '#s': 'status', '#e': 'error' },
      ExpressionAttributeValues: {
        ':r': renditionList(renditions),
        ':one': N(1),
        ':to': S('completed'),
        ':f': N(fence),
        ':now': S(new Date(this.now()).toISOString()),
        ':queued': S('queued'),
        ':processing': S('processing'),
      },
    };
  }

  private refused(jobId: string, fence: number, to: JobStatus, item: Item | undefined): FencedWriteResult {
    const status = str(item, 'status') as JobStatus | undefined;
    const oldFence = num(item, 'fence');
    const errM = item?.['error'];
    const error = errM && 'M' in errM && errM.M ? { class: str(errM.M, 'class') ?? 'Unknown', reason: str(errM.M, 'reason') ?? '' } : undefined;
    const previous = { ...(status ? { status } : {}), ...(oldFence !== undefined ? { fence: oldFence } : {}), ...(error ? { error } : {}) };
    const verdict = judgeFencedWrite(previous, fence, to);
    if (verdict === 'stale') this.onFenceEvent('stale-fenced-write-rejected', { jobId, fence, newerFence: oldFence, to });
    // 'accept' here would mean the model and the condition disagree; report it as not-forward (refused).
    return { verdict: verdict === 'accept' ? 'not-forward' : verdict, previous };
  }

  private async write(jobId: string, fence: number, to: JobStatus, update: string, values: Item, signal: AbortSignal | undefined, usesError = false): Promise<FencedWriteResult> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { jobId: S(jobId) },
          ConditionExpression: CONDITION,
          UpdateExpression: update,
          ExpressionAttributeNames: { '#s': 'status', ...(usesError ? { '#e': 'error' } : {}) },
          ExpressionAttributeValues: {
            ...values,
            ':to': S(to),
            ':f': N(fence),
            ':now': S(new Date(this.now()).toISOString()),
            ':queued': S('queued'),
            ':processing': S('processing'),
          },
          ReturnValues: 'UPDATED_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      );
      const oldFence = num(out.Attributes, 'fence');
      if (oldFence !== undefined && oldFence > fence) {
        // The condition makes this impossible; if it ever shows up, the chaos run must see it.
        this.onFenceEvent('stale-fenced-write-accepted', { jobId, fence, newerFence: oldFence, to });
      }
      return { verdict: 'accept', previous: { ...(oldFence !== undefined ? { fence: oldFence } : {}) } };
    } catch (err) {
      const cf = conditionFailedItem(err);
      if (!cf.failed) throw err;
      return this.refused(jobId, fence, to, cf.item);
    }
  }
}
