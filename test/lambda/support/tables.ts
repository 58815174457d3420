/** Uniquely named tables of the stack's shapes in DynamoDB Local, so test files can run in parallel. */
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { TABLE_ATTRIBUTES } from '../../../lambda/shared/contract';

export async function createTable(client: DynamoDBClient, kind: keyof typeof TABLE_ATTRIBUTES): Promise<string> {
  const name = `${kind}-${randomUUID().slice(0, 8)}`;
  const pk = TABLE_ATTRIBUTES[kind].partitionKey;
  await client.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: pk, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: pk, KeyType: 'HASH' }],
  }));
  return name;
}
