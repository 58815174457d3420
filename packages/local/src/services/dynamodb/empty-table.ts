/**
 * Empties a table and keeps it (the reset): a parallel Scan of the keys only, and BatchWriteItem deletes
 * of 25 keys, as many batches at once as there are scan segments. DynamoDB has no truncate; deleting the
 * table and creating it again would give it a new stream (a new LatestStreamArn that the stack's mappings
 * and the functions' settings do not know). Unprocessed keys are sent again.
 */
import { BatchWriteItemCommand, DescribeTableCommand, ScanCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';

/** Scan segments (and so concurrent delete streams) per table. */
const SEGMENTS = 4;

export async function emptyTable(dynamodb: DynamoDBClient, TableName: string): Promise<number> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName }));
  const keyNames = (Table?.KeySchema ?? []).map((k) => k.AttributeName!);
  if (keyNames.length === 0) throw new Error(`DescribeTable ${TableName} gave no key schema`);
  // An empty table answers one Scan; a small one is read in one segment.
  const segments = (Table?.ItemCount ?? 0) > 100 ? SEGMENTS : 1;
  const names = Object.fromEntries(keyNames.map((k, i) => [`#k${i}`, k]));
  const counts = await Promise.all(
    Array.from({ length: segments }, async (_, Segment) => {
      let deleted = 0;
      let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await dynamodb.send(
          new ScanCommand({ TableName, ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names, ...(segments > 1 ? { Segment, TotalSegments: segments } : {}), ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }),
        );
        const keys = page.Items ?? [];
        for (let i = 0; i < keys.length; i += 25) {
          let requests: WriteRequest[] = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
          for (let attempt = 0; requests.length > 0; attempt++) {
            if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(500, 10 * 2 ** attempt)));
            const out = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [TableName]: requests } }));
            requests = out.UnprocessedItems?.[TableName] ?? [];
          }
          deleted += Math.min(25, keys.length - i);
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      return deleted;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
