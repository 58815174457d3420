import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib/core';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { BoundedQueueConsumer } from '@floodgate/cdk';

export class OrdersAppStack extends cdk.Stack {
  readonly orders: BoundedQueueConsumer;
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props?: cdk.StackProps) {
    super(scope, id, props);

    this.table = new dynamodb.Table(this, 'Orders', {
      partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });

    // Queue, DLQ, function and event source, with the cap, reserved concurrency, visibility timeout and
    // redrive derived from these props.
    this.orders = new BoundedQueueConsumer(this, 'OrderConsumer', {
      entry: path.join(__dirname, '..', 'lambda', 'process-order.ts'),
      maxConcurrency: 2,
      batchSize: 5,
      timeout: cdk.Duration.seconds(30),
      environment: { ORDERS_TABLE: this.table.tableName },
    });
    this.table.grantWriteData(this.orders.function);

    new cdk.CfnOutput(this, 'OrderQueueUrl', { value: this.orders.queue.queueUrl });
    new cdk.CfnOutput(this, 'OrderDeadLetterQueueUrl', { value: this.orders.deadLetterQueue.queueUrl });
    new cdk.CfnOutput(this, 'OrdersTableName', { value: this.table.tableName });
  }
}
