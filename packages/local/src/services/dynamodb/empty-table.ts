/**
 * Empties a table and keeps it (the reset): a Scan of the keys only, page by page, and BatchWriteItem
 * deletes of 25 keys, a page's batches at once. DynamoDB has no truncate; deleting the table and
 * creating it again would give it a new stream (a new LatestStreamArn that the stack's mappings and the
 * functions' settings do not know). Unprocessed keys are sent again.
 */
import { BatchWriteItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';

/** Deletes every item of `TableName`, whose key attributes are `keyNames`; resolves with how many. */
export async function emptyTable(dynamodb: DynamoDBClient, TableName: string, keyNames: readonly string[]): Promise<number> {
  if (keyNames.length === 0) throw new Error(`emptyTable ${TableName}: no key attribute names`);
  const names = Object.fromEntries(keyNames.map((k, i) => [`#k${i}`, k]));
  let deleted = 0;
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName, ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names, ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }));
    const keys = page.Items ?? [];
    const batches: Array<Promise<void>> = [];
    for (let i = 0; i < keys.length; i += 25) {
      batches.push(
        (async () => {
          let requests: WriteRequest[] = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
          for (let attempt = 0; requests.length > 0; attempt++) {
            if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(500, 10 * 2 ** attempt)));
            const out = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [TableName]: requests } }));
            requests = out.UnprocessedItems?.[TableName] ?? [];
          }
        })(),
      );
    }
    await Promise.all(batches);
    deleted += keys.length;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return deleted;
}
