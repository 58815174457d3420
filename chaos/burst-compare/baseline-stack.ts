/**
 * The two comparison consumers, in plain aws-cdk-lib as the seed's article configures them: a queue with
 * a visibility timeout of 60 s and a DLQ after 5 receives, a 30 s function running seed-handler.ts, an SQS
 * event source with batch size 10 and no ReportBatchItemFailures.
 * - `seedSnippet`: reserved concurrency 50 and MaximumConcurrency 50 (the article's caps);
 * - `unbounded`: neither (Lambda scales the mapping as it likes).
 */
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { createFloodgateFunction } from '@floodgate/cdk';
import type { Construct } from 'constructs';
import { ORDERS_OUTPUTS } from '../../examples/orders-postgres/lib/orders-stack';

export interface BaselineStackProps extends StackProps {
  readonly databaseUrl: string;
  readonly architecture: lambda.Architecture;
  /** The article's caps (reserved 50, MaximumConcurrency 50); none when undefined. */
  readonly caps?: { readonly reservedConcurrency: number; readonly maxConcurrency: number };
}

/** The seed's settings, named once. */
export const SEED_SNIPPET = { visibilityTimeoutSeconds: 60, timeoutSeconds: 30, reservedConcurrency: 50, maxConcurrency: 50, batchSize: 10, maxReceiveCount: 5 } as const;

export class BaselineStack extends Stack {
  constructor(scope: Construct, id: string, props: BaselineStackProps) {
    super(scope, id, props);
    const dlq = new sqs.Queue(this, 'DeadLetterQueue', { retentionPeriod: Duration.days(14) });
    const queue = new sqs.Queue(this, 'Queue', {
      visibilityTimeout: Duration.seconds(SEED_SNIPPET.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: dlq, maxReceiveCount: SEED_SNIPPET.maxReceiveCount },
    });
    const { fn } = createFloodgateFunction(this, {
      entry: fileURLToPath(new URL('./seed-handler.ts', import.meta.url)),
      architecture: props.architecture,
      timeout: Duration.seconds(SEED_SNIPPET.timeoutSeconds),
      memorySize: 256,
      environment: { ORDERS_DATABASE_URL: props.databaseUrl },
      ...(props.caps ? { reservedConcurrentExecutions: props.caps.reservedConcurrency } : {}),
      logRetention: logs.RetentionDays.ONE_WEEK,
      roleDescription: 'comparison consumer (seed snippet)',
    });
    queue.grantConsumeMessages(fn);
    fn.addEventSource(new SqsEventSource(queue, { batchSize: SEED_SNIPPET.batchSize, ...(props.caps ? { maxConcurrency: props.caps.maxConcurrency } : {}) }));
    new CfnOutput(this, ORDERS_OUTPUTS.queueUrl, { value: queue.queueUrl });
    new CfnOutput(this, ORDERS_OUTPUTS.deadLetterQueueUrl, { value: dlq.queueUrl });
  }
}
