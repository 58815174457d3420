import { Template } from 'aws-cdk-lib/assertions';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { TABLE_ATTRIBUTES } from '../src/table-attributes';
import { IdempotencyTable } from '../src/idempotency-table';
import { LockTable } from '../src/lock-table';
import { unbundledStack } from '../../../test/infra/support';

describe.each([
  ['IdempotencyTable', IdempotencyTable, TABLE_ATTRIBUTES.idempotency],
  ['LockTable', LockTable, TABLE_ATTRIBUTES.locks],
] as const)('%s', (_name, TableClass, keys) => {
  it('is an on-demand TableV2 with the partition key, TTL, PITR and encryption, retained by default', () => {
    const stack = unbundledStack();
    const table = new TableClass(stack, 'T');
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: keys.partitionKey, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: keys.partitionKey, AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: keys.ttl, Enabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
        Replicas: [{ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, Region: { Ref: 'AWS::Region' } }],
      },
    });
    expect(table.partitionKey).toBe(keys.partitionKey);
    expect(table.timeToLiveAttribute).toBe(keys.ttl);
  });

  it('grantReadWrite gives item actions on this table only', () => {
    const stack = unbundledStack();
    const table = new TableClass(stack, 'T', { removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    table.grantReadWrite(role);
    const template = Template.fromStack(stack);
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(1);
    const [policy] = Object.values(template.findResources('AWS::IAM::Policy'));
    const statements = policy?.Properties.PolicyDocument.Statement as Array<{ Action: string[]; Resource: unknown }>;
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']));
    expect(statements[0]?.Action).not.toContain('dynamodb:Scan');
    for (const action of statements[0]?.Action ?? []) expect(action).not.toContain('*');
    expect(JSON.stringify(statements[0]?.Resource)).toMatch(/^\{"Fn::GetAtt":\["TTable[0-9A-F]{8}","Arn"\]\}$/);
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
  });
});
