/**
 * AWS::DynamoDB::Table and ::GlobalTable: created on-demand in the target (capacity means nothing
 * locally), TTL and streams enabled. A table of that name kept by the target (a data directory's) is
 * taken over with its items when its key schema is the template's; another key schema is refused (it
 * would need the table replaced, which loses its items). The reset deletes its items (empty-table.ts).
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type TableDescription,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
  type Projection,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import type { Provisioner } from '../../core/deployment/provisioner.js';
import { fromDdbLocal } from './stream-arn.js';
import { emptyTable } from './empty-table.js';

type Index = { IndexName?: unknown; KeySchema?: unknown; Projection?: unknown };
const indexes = (list: unknown) =>
  (list as Index[] | undefined)?.map((i) => ({ IndexName: String(i.IndexName), KeySchema: i.KeySchema as KeySchemaElement[], Projection: (i.Projection ?? { ProjectionType: 'ALL' }) as Projection }));

export const dynamodbTable: Provisioner = {
  handles: ['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'],
  kind: 'created',
  async provision({ resource, props, clients, arn, name, region, accountId }) {
    const TableName = name(props.TableName, { max: 255 });
    const gsis = indexes(props.GlobalSecondaryIndexes) as GlobalSecondaryIndex[] | undefined;
    const lsis = indexes(props.LocalSecondaryIndexes) as LocalSecondaryIndex[] | undefined;
    const streamViewType = (props.StreamSpecification as { StreamViewType?: StreamViewType } | undefined)?.StreamViewType;
    const create = new CreateTableCommand({
        TableName,
        KeySchema: props.KeySchema as KeySchemaElement[],
        AttributeDefinitions: props.AttributeDefinitions as AttributeDefinition[],
        BillingMode: 'PAY_PER_REQUEST',
        ...(gsis?.length ? { GlobalSecondaryIndexes: gsis } : {}),
        ...(lsis?.length ? { LocalSecondaryIndexes: lsis } : {}),
        ...(streamViewType ? { StreamSpecification: { StreamEnabled: true, StreamViewType: streamViewType } } : {}),
      });
    let description: TableDescription | undefined;
    let existed = false;
    try {
      description = (await clients.dynamodb.send(create)).TableDescription;
    } catch (err) {
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
      description = (await clients.dynamodb.send(new DescribeTableCommand({ TableName }))).Table;
      existed = true;
      const keys = (k: readonly KeySchemaElement[] | undefined): string => JSON.stringify((k ?? []).map((e) => [e.AttributeName, e.KeyType]));
      if (keys(description?.KeySchema) !== keys(props.KeySchema as KeySchemaElement[])) {
        throw new Error(`${TableName} (${resource.Type}) exists with key schema ${keys(description?.KeySchema)} and the template now says ${keys(props.KeySchema as KeySchemaElement[])}: replacing it would lose its items; delete the data directory (or name the table differently) to start afresh`);
      }
    }
    const out = { TableDescription: description };
    const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean | string } | undefined;
    const ttlOn = existed && (await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName }))).TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED';
    if (!ttlOn && ttl?.AttributeName && (ttl.Enabled === undefined || ttl.Enabled === true || ttl.Enabled === 'true')) {
      await clients.dynamodb.send(new UpdateTimeToLiveCommand({ TableName, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }));
    }
    // DynamoDB Local reports its own region (`ddblocal`) in TableArn; the stack's ARNs name the stack's region
    // (what the functions' policies and the IAM evaluation use).
    const reported = out.TableDescription?.TableArn;
    const tableArn = reported !== undefined && !reported.includes(':ddblocal:') ? reported : arn('dynamodb', `table/${TableName}`);
    // The stream's real ARN (its label is the creation time), mapped like TableArn: the endpoint maps it back.
    const latest = out.TableDescription?.LatestStreamArn;
    const streamArn = latest !== undefined ? fromDdbLocal(latest, region, accountId) : undefined;
    return {
      physical: { type: resource.Type, ref: TableName, attributes: { Arn: tableArn, ...(streamArn ? { StreamArn: streamArn } : {}), TableId: TableName } },
      destroy: async () => void (await clients.dynamodb.send(new DeleteTableCommand({ TableName }))),
      // The key names from the template (what the table was created with): no DescribeTable on each reset.
      empty: (c) => emptyTable(c.dynamodb, TableName, (props.KeySchema as KeySchemaElement[]).map((k) => k.AttributeName!)),
    };
  },
};
