import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createConsumerHandler, PermanentError } from '@floodgate/runtime';

interface Order {
  orderId: string;
  quantity: number;
}

// An SDK client holds no per-invocation state, so one per execution environment is safe; the local
// stack sets AWS_ENDPOINT_URL, so this default client reaches it unchanged.
const dynamodb = new DynamoDBClient({});

export const handler = createConsumerHandler({
  async processRecord(record, ctx) {
    const order = JSON.parse(record.body) as Order;
    if (!Number.isInteger(order.quantity) || order.quantity <= 0) {
      // Retrying cannot fix this order: straight to the DLQ, with this class and reason.
      throw new PermanentError('OrderRejected', `order ${order.orderId}: quantity must be a positive integer, got ${order.quantity}`);
    }
    const startedAt = Date.now();
    // Stands in for a slow downstream call (a payment API), so that invocations overlap.
    await ctx.io(() => sleep(250, undefined, { signal: ctx.signal }));
    await ctx.io(() =>
      dynamodb.send(
        new PutItemCommand({
          TableName: process.env.ORDERS_TABLE,
          Item: {
            orderId: { S: order.orderId },
            quantity: { N: String(order.quantity) },
            requestId: { S: ctx.lambdaContext.awsRequestId ?? 'unknown' },
            startedAt: { N: String(startedAt) },
            finishedAt: { N: String(Date.now()) },
          },
        }),
        { abortSignal: ctx.signal },
      ),
    );
  },
});
