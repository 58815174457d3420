import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { ConsumerSettings } from '../consumer-settings/index';

/**
 * The SQS event source, ReportBatchItemFailures always on: capped by ScalingConfig.MaximumConcurrency in
 * standard mode, or by ProvisionedPollerConfig in provisioned mode (never both: Lambda refuses that).
 */
export function createConsumerEventSource(queue: sqs.IQueue, s: ConsumerSettings): SqsEventSource {
  const window = s.maxBatchingWindowSeconds;
  return new SqsEventSource(queue, {
    batchSize: s.batchSize,
    // FIFO event sources take no window at all, and 0 means none on standard queues.
    ...(!s.fifo && window !== 0 ? { maxBatchingWindow: Duration.seconds(window) } : {}),
    ...(s.provisionedPollers ? { provisionedPollerConfig: { ...s.provisionedPollers } } : { maxConcurrency: s.maxConcurrency }),
    reportBatchItemFailures: true,
  });
}
