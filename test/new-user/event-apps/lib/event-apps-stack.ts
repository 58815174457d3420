import { App, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { handlerFunction } from './handlers';

export class EventAppsStack extends Stack {
  constructor(scope: App, id: string, props?: StackProps) {
    super(scope, id, props);
    const queue = (qid: string, p: sqs.QueueProps = {}): sqs.Queue => new sqs.Queue(this, qid, { retentionPeriod: Duration.hours(1), ...p });
    const out = (key: string, value: string): CfnOutput => new CfnOutput(this, key, { value });

    // One function records what SNS, S3 and EventBridge hand it (one JSON log line per event).
    const recorder = handlerFunction(this, 'Recorder', 'recorder.handler', { functionName: 'ea-recorder' });

    // SNS → SQS raw (attribute filter) and enveloped (body filter); SNS → Lambda (attribute filter).
    const orders = new sns.Topic(this, 'Orders', { topicName: 'ea-orders' });
    const redQ = queue('RedOrders', { queueName: 'ea-red-orders' });
    const envelopedQ = queue('EnvelopedOrders', { queueName: 'ea-enveloped-orders' });
    orders.addSubscription(new subs.SqsSubscription(redQ, { rawMessageDelivery: true, filterPolicy: { color: sns.SubscriptionFilter.stringFilter({ allowlist: ['red'] }) } }));
    orders.addSubscription(
      new subs.SqsSubscription(envelopedQ, {
        filterPolicyWithMessageBody: { kind: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ allowlist: ['order'] })), total: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.numericFilter({ greaterThan: 10 })) },
      }),
    );
    orders.addSubscription(new subs.LambdaSubscription(recorder, { filterPolicy: { color: sns.SubscriptionFilter.stringFilter({ allowlist: ['blue'] }) } }));

    // A FIFO topic → a FIFO queue.
    const sequence = new sns.Topic(this, 'Sequence', { topicName: 'ea-sequence', fifo: true, contentBasedDeduplication: true });
    const sequenceQ = queue('SequenceQueue', { queueName: 'ea-sequence.fifo', fifo: true });
    sequence.addSubscription(new subs.SqsSubscription(sequenceQ, { rawMessageDelivery: true }));

    // S3 → SQS (prefix in/, created and removed), → SNS (suffix .csv) → SQS, → Lambda (prefix lambda/).
    const bucket = new s3.Bucket(this, 'Uploads', { bucketName: 'ea-uploads', removalPolicy: RemovalPolicy.DESTROY });
    const s3Q = queue('UploadEvents', { queueName: 'ea-upload-events' });
    const csvTopic = new sns.Topic(this, 'CsvUploads', { topicName: 'ea-csv-uploads' });
    const csvQ = queue('CsvEvents', { queueName: 'ea-csv-events' });
    csvTopic.addSubscription(new subs.SqsSubscription(csvQ, { rawMessageDelivery: true }));
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(s3Q), { prefix: 'in/' });
    bucket.addEventNotification(s3.EventType.OBJECT_REMOVED, new s3n.SqsDestination(s3Q), { prefix: 'in/' });
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SnsDestination(csvTopic), { suffix: '.csv' });
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(recorder), { prefix: 'lambda/' });

    // EventBridge: a custom bus; a numeric + anything-but rule → SQS; an InputTransformer → Lambda.
    const bus = new events.EventBus(this, 'Shop', { eventBusName: 'ea-shop' });
    const bigQ = queue('BigOrders', { queueName: 'ea-big-orders' });
    new events.Rule(this, 'BigOrdersRule', {
      eventBus: bus,
      eventPattern: { source: ['shop'], detailType: ['order'], detail: { total: [{ numeric: ['>', 100] }], status: [{ 'anything-but': ['cancelled', 'test'] }] } },
      targets: [new targets.SqsQueue(bigQ)],
    });
    new events.Rule(this, 'ShippedRule', {
      eventBus: bus,
      eventPattern: { source: ['shop'], detailType: ['shipped'] },
      targets: [
        new targets.LambdaFunction(recorder, {
          event: events.RuleTargetInput.fromObject({
            order: events.EventField.fromPath('$.detail.id'),
            line: `order ${events.EventField.fromPath('$.detail.id')} shipped to ${events.EventField.fromPath('$.detail.city')}`,
          }),
        }),
      ],
    });

    // A table's stream → a function: bisect, 2 retries, ReportBatchItemFailures, an on-failure queue.
    const table = new dynamodb.Table(this, 'Items', { tableName: 'ea-items', partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, removalPolicy: RemovalPolicy.DESTROY });
    const streamFailures = queue('StreamFailures', { queueName: 'ea-stream-failures' });
    const streamReader = handlerFunction(this, 'StreamReader', 'streams.handler', { functionName: 'ea-stream-reader' });
    streamReader.addEventSource(
      new DynamoEventSource(table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        retryAttempts: 2,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(streamFailures),
      }),
    );

    // Asynchronous invocation: two retries (the default), OnSuccess and OnFailure queues.
    const succeeded = queue('Succeeded', { queueName: 'ea-succeeded' });
    const failed = queue('Failed', { queueName: 'ea-failed' });
    const worker = handlerFunction(this, 'Worker', 'worker.handler', {
      functionName: 'ea-worker',
      onSuccess: new destinations.SqsDestination(succeeded),
      onFailure: new destinations.SqsDestination(failed),
    });

    out('OrdersTopicArn', orders.topicArn);
    out('SequenceTopicArn', sequence.topicArn);
    out('CsvTopicArn', csvTopic.topicArn);
    out('BucketName', bucket.bucketName);
    out('BusName', bus.eventBusName);
    out('TableName', table.tableName);
    out('StreamArn', table.tableStreamArn!);
    out('StreamReaderArn', streamReader.functionArn);
    out('WorkerArn', worker.functionArn);
    out('RecorderName', recorder.functionName);
  }
}
