import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface ConsumerQueuesOptions {
  readonly fifo: boolean;
  readonly contentBasedDeduplication?: boolean;
  readonly highThroughputFifo?: boolean;
  readonly encryptionKey?: kms.IKey;
  readonly retentionPeriod: Duration;
  /** Retention of the created DLQ (ignored with `deadLetterQueue`). */
  readonly deadLetterRetentionPeriod: Duration;
  /** Use this queue as the DLQ instead of creating one. */
  readonly deadLetterQueue?: sqs.IQueue;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
}

/**
 * The source queue and its dead-letter queue (`Queue` and `DeadLetterQueue` under `scope`): same kind
 * (standard or FIFO), same encryption, both refusing non-TLS requests.
 */
export function createConsumerQueues(scope: Construct, o: ConsumerQueuesOptions): { queue: sqs.Queue; deadLetterQueue: sqs.IQueue } {
  const encryption = o.encryptionKey
    ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: o.encryptionKey }
    : { encryption: sqs.QueueEncryption.SQS_MANAGED };
  const kind: sqs.QueueProps = o.fifo ? { fifo: true } : {};
  const deadLetterQueue =
    o.deadLetterQueue ??
    new sqs.Queue(scope, 'DeadLetterQueue', {
      ...kind,
      ...encryption,
      enforceSSL: true,
      retentionPeriod: o.deadLetterRetentionPeriod,
    });
  const queue = new sqs.Queue(scope, 'Queue', {
    ...kind,
    ...(o.fifo && o.contentBasedDeduplication ? { contentBasedDeduplication: true } : {}),
    ...(o.fifo && o.highThroughputFifo
      ? { deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP, fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID }
      : {}),
    ...encryption,
    enforceSSL: true,
    retentionPeriod: o.retentionPeriod,
    visibilityTimeout: Duration.seconds(o.visibilityTimeoutSeconds),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: o.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}
