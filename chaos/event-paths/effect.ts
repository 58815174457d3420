/**
 * The effect every consumer of the event-path chaos run has, fenced: one item per event in the Effects
 * table, written with the fence of the idempotency claim its writer holds. A write from an older owner
 * than the one that wrote the item is refused (the condition); a retry of one's own write (a dropped
 * response) is not. The verdict compares the item's fence with the idempotency record's.
 */
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { conditionFailedItem, RetryableError } from '@floodgate/runtime';
import { effectKey } from './paths';

export interface EffectInput {
  readonly table: string;
  readonly id: string;
  readonly path: string;
  readonly fence: number;
  readonly signal: AbortSignal;
}

/** Writes the effect; a newer owner's effect already there is a refused stale write (RetryableError). */
export async function writeEffect(dynamodb: DynamoDBClient, e: EffectInput): Promise<void> {
  try {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: e.table,
        Key: { pk: { S: effectKey(e.id) } },
        ConditionExpression: 'attribute_not_exists(pk) OR #f <= :f',
        UpdateExpression: 'SET #f = :f, #p = :p, #t = :t',
        ExpressionAttributeNames: { '#f': 'fence', '#p': 'eventPath', '#t': 'writtenAt' },
        ExpressionAttributeValues: { ':f': { N: String(e.fence) }, ':p': { S: e.path }, ':t': { N: String(Date.now()) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
      { abortSignal: e.signal },
    );
  } catch (err) {
    const cf = conditionFailedItem(err);
    if (!cf.failed) throw err;
    const stored = Number(cf.item?.fence?.N ?? NaN);
    // Structured like the runtime's own line for a refused completion, so the run counts both alike.
    console.log(JSON.stringify({ level: 'WARN', event: 'stale-fenced-write-rejected', write: 'effect', eventId: e.id, fence: e.fence, storedFence: stored }));
    throw new RetryableError('InProgressElsewhere', `effect of ${e.id}: refused, a newer owner (fence ${stored}) wrote it (ours was fence ${e.fence})`);
  }
}
