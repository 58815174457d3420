import { join } from 'node:path';
import * as cdk from 'aws-cdk-lib/core';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { BoundedQueueConsumer } from '@floodgate/cdk';

export class OrdersStack extends cdk.Stack {
  readonly orders: BoundedQueueConsumer;
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props?: cdk.StackProps) {
    super(scope, id, props);
    this.table = new dynamodb.Table(this, 'Orders', {
      partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    this.orders = new BoundedQueueConsumer(this, 'OrderConsumer', {
      entry: join(import.meta.dirname, '..', 'lambda', 'process-order.ts'),
      maxConcurrency: 2,
      batchSize: 10,
      // A retryable failure comes back after its own delay (0..2 s, then 0..4 s: exponential backoff with
      // full jitter) instead of after the visibility timeout (6 x 30 s = 3 minutes).
      retryBackoff: { base: cdk.Duration.seconds(2), max: cdk.Duration.seconds(4) },
      environment: { ORDERS_TABLE: this.table.tableName },
    });
    this.table.grantWriteData(this.orders.function);
    new cdk.CfnOutput(this, 'OrderQueueUrl', { value: this.orders.queue.queueUrl });
    new cdk.CfnOutput(this, 'OrderDeadLetterQueueUrl', { value: this.orders.deadLetterQueue.queueUrl });
    new cdk.CfnOutput(this, 'OrdersTableName', { value: this.table.tableName });
  }
}
