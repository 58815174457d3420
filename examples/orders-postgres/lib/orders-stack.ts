import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BoundedQueueConsumer, type DownstreamBudget } from '@floodgate/cdk';
import type { Construct } from 'constructs';
import { ORDERS_ENV } from '../src/handler.js';

/** What the database can take: 100 connections in all, 2 per execution (the handler's pool size). */
export const ORDERS_DOWNSTREAM_BUDGET: DownstreamBudget = { maxConnections: 100, connectionsPerExecution: 2 };

/** CloudFormation outputs of the stack. */
export const ORDERS_OUTPUTS = { queueUrl: 'OrdersQueueUrl', deadLetterQueueUrl: 'OrdersDeadLetterQueueUrl' } as const;

export interface OrdersStackProps extends StackProps {
  /** Connection string the handler uses (`ORDERS_DATABASE_URL`). In production: an RDS Proxy endpoint. */
  readonly databaseUrl: string;
  /**
   * Instruction set of the function.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * The database's connection budget; the event-source cap is floor(maxConnections / connectionsPerExecution).
   * @default ORDERS_DOWNSTREAM_BUDGET
   */
  readonly downstreamBudget?: DownstreamBudget;
}

/** Orders into PostgreSQL: a queue whose consumer can never open more connections than the database has. */
export class OrdersStack extends Stack {
  readonly consumer: BoundedQueueConsumer;

  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, props);
    this.consumer = new BoundedQueueConsumer(this, 'Orders', {
      entry: fileURLToPath(new URL('../src/lambda.ts', import.meta.url)),
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      downstreamBudget: props.downstreamBudget ?? ORDERS_DOWNSTREAM_BUDGET,
      batchSize: 10,
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: { [ORDERS_ENV.databaseUrl]: props.databaseUrl },
    });
    new CfnOutput(this, ORDERS_OUTPUTS.queueUrl, { value: this.consumer.queue.queueUrl });
    new CfnOutput(this, ORDERS_OUTPUTS.deadLetterQueueUrl, { value: this.consumer.deadLetterQueue.queueUrl });
  }
}
