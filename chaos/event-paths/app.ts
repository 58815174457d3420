#!/usr/bin/env node
/**
 * The app of the event-path chaos run (issue 23 part 4), built only from our packages and aws-cdk-lib, as
 * a user's would be: one SNS topic feeding two bounded queue consumers (raw delivery and the SNS
 * envelope, split by a filter policy), an EventBridge rule on a custom bus, an S3 bucket's ObjectCreated
 * notifications and a DynamoDB stream, each into its own bounded consumer (BoundedQueueConsumer /
 * BoundedStreamConsumer) with a small cap, so that a burst of events keeps every consumer at its cap.
 * Every consumer takes effect once per event through the fenced idempotency of @floodgate/runtime (one
 * IdempotencyTable) and writes its effect, fenced, to the Effects table. Two more paths are deliberately
 * left without their grant: a raw SNS subscription and an EventBridge rule target to a queue with no
 * queue policy (every delivery on them must be denied and counted). Synthesized by run.ts.
 */
import { fileURLToPath } from 'node:url';
import { App, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { BoundedQueueConsumer, BoundedStreamConsumer, IdempotencyTable } from '@floodgate/cdk';
import { EVENT_PATHS_OUTPUTS as OUT, NO_POLICY, QUEUE_PATHS, type QueuePath } from './paths';

const app = new App();
const stack = new Stack(app, 'FloodgateEventPathsChaos');
const idempotency = new IdempotencyTable(stack, 'Idempotency', { removalPolicy: RemovalPolicy.DESTROY });
const effects = new dynamodb.TableV2(stack, 'Effects', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, removalPolicy: RemovalPolicy.DESTROY });
const environment = { IDEMPOTENCY_TABLE: idempotency.tableName, EFFECTS_TABLE: effects.tableName };
// A short timeout (the constructs derive the deadline margins from it): a killed or held invocation
// costs seconds (the run also overrides the queues' visibility timeout locally, as the image-pipeline
// chaos run does). 10 s was too short on a loaded 2-core machine: most batches of 10 ran into their
// deadline (measured: 2,061 Timeout record failures in 352 invocations at load average 25).
const timing = { timeout: Duration.seconds(20) };

const consumers = {} as Record<QueuePath, BoundedQueueConsumer>;
for (const path of QUEUE_PATHS) {
  const c = new BoundedQueueConsumer(stack, `${path[0]!.toUpperCase()}${path.slice(1)}Consumer`, {
    entry: fileURLToPath(new URL('./queue-consumer.ts', import.meta.url)),
    ...timing,
    memorySize: 256,
    batchSize: 10,
    maxConcurrency: 2,
    maxReceiveCount: 5,
    environment: { ...environment, EVENT_PATH: path },
  });
  idempotency.grantReadWrite(c.function);
  effects.grantReadWriteData(c.function);
  consumers[path] = c;
}

const topic = new sns.Topic(stack, 'Events');
topic.addSubscription(new subs.SqsSubscription(consumers['sns-raw'].queue, { rawMessageDelivery: true, filterPolicy: { delivery: sns.SubscriptionFilter.stringFilter({ allowlist: ['raw'] }) } }));
topic.addSubscription(new subs.SqsSubscription(consumers['sns-envelope'].queue, { filterPolicy: { delivery: sns.SubscriptionFilter.stringFilter({ allowlist: ['envelope'] }) } }));

const bus = new events.EventBus(stack, 'Bus');
new events.Rule(stack, 'ChaosRule', { eventBus: bus, eventPattern: { source: ['floodgate.chaos'] }, targets: [new targets.SqsQueue(consumers.eventbridge.queue)] });

// The policy-less paths: no QueuePolicy names this queue (SqsSubscription and targets.SqsQueue would add
// one; a raw CfnSubscription and a bare rule target do not), so SNS and EventBridge may not send to it.
const noPolicyQueue = new sqs.Queue(stack, 'NoPolicyQueue', { removalPolicy: RemovalPolicy.DESTROY });
new sns.CfnSubscription(stack, 'NoPolicySubscription', {
  topicArn: topic.topicArn,
  protocol: 'sqs',
  endpoint: noPolicyQueue.queueArn,
  rawMessageDelivery: true,
  filterPolicy: { delivery: [NO_POLICY.snsDelivery] },
});
const noPolicyRule = new events.Rule(stack, 'NoPolicyRule', {
  eventBus: bus,
  eventPattern: { source: [NO_POLICY.eventSource] },
  targets: [{ bind: () => ({ arn: noPolicyQueue.queueArn }) }],
});

const bucket = new s3.Bucket(stack, 'Uploads', { removalPolicy: RemovalPolicy.DESTROY });
bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(consumers.s3.queue), { prefix: 'events/' });

const source = new dynamodb.Table(stack, 'Source', {
  partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  stream: dynamodb.StreamViewType.NEW_IMAGE,
  removalPolicy: RemovalPolicy.DESTROY,
});
const streamConsumer = new BoundedStreamConsumer(stack, 'StreamConsumer', {
  table: source,
  entry: fileURLToPath(new URL('./stream-consumer.ts', import.meta.url)),
  ...timing,
  memorySize: 256,
  expectedShards: 1,
  parallelizationFactor: 2,
  batchSize: 10,
  retryAttempts: 10,
  environment: { ...environment, EVENT_PATH: 'dynamodb-stream' },
});
idempotency.grantReadWrite(streamConsumer.function);
effects.grantReadWriteData(streamConsumer.function);

new CfnOutput(stack, OUT.topicArn, { value: topic.topicArn });
new CfnOutput(stack, OUT.busName, { value: bus.eventBusName });
new CfnOutput(stack, OUT.bucket, { value: bucket.bucketName });
new CfnOutput(stack, OUT.sourceTable, { value: source.tableName });
new CfnOutput(stack, OUT.idempotencyTable, { value: idempotency.tableName });
new CfnOutput(stack, OUT.effectsTable, { value: effects.tableName });
new CfnOutput(stack, OUT.noPolicyQueueUrl, { value: noPolicyQueue.queueUrl });
new CfnOutput(stack, OUT.noPolicyRuleArn, { value: noPolicyRule.ruleArn });
new CfnOutput(stack, OUT.onFailureQueueUrl, { value: streamConsumer.onFailureQueue.queueUrl });
for (const path of QUEUE_PATHS) {
  new CfnOutput(stack, OUT.queueUrl(path), { value: consumers[path].queue.queueUrl });
  new CfnOutput(stack, OUT.deadLetterQueueUrl(path), { value: consumers[path].deadLetterQueue.queueUrl });
}
app.synth();
