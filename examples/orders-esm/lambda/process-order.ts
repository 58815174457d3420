import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createConsumerHandler, PermanentError, RetryableError } from '@floodgate/runtime';
import { z } from 'zod';

// A body that fails the schema is a permanent error (class InvalidMessage) whose reason names the field.
const Order = z.object({
  orderId: z.string().min(1),
  quantity: z.number().int().positive(),
});

const dynamodb = new DynamoDBClient({});

export const handler = createConsumerHandler({
  schema: Order,
  async processRecord(_record, ctx) {
    const order = ctx.body;
    if (order.quantity > 100) {
      throw new PermanentError('OverOrderLimit', `order ${order.orderId}: ${order.quantity} items is above the limit of 100`);
    }
    // A warehouse that is busy on the first try: SQS delivers the order again after the retry backoff.
    if (order.orderId.startsWith('flaky') && ctx.receiveCount === 1) {
      throw new RetryableError('WarehouseBusy', `order ${order.orderId}: the warehouse is busy, try again`);
    }
    await ctx.io(() =>
      dynamodb.send(
        new PutItemCommand({
          TableName: process.env.ORDERS_TABLE,
          Item: { orderId: { S: order.orderId }, quantity: { N: String(order.quantity) } },
        }),
        { abortSignal: ctx.signal },
      ),
    );
  },
});
