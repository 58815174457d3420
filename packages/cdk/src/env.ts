/**
 * The environment contract between this library (which sets it on every consumer function) and
 * @floodgate/runtime (which reads it). The runtime keeps an identical copy (packages/runtime/src/env.ts);
 * test/env-contract.test.ts checks that they agree.
 */
/** Environment the BoundedQueueConsumer construct sets on every consumer function. */
export const CONSUMER_ENV = {
  /** Size of the I/O lane (S3, DynamoDB, SQS calls in flight per invocation). */
  ioConcurrency: 'FLOODGATE_IO_CONCURRENCY',
  /** Size of the CPU lane (sharp pipelines in flight per invocation). */
  cpuConcurrency: 'FLOODGATE_CPU_CONCURRENCY',
  /** Stop starting records when less than this many ms remain. */
  softMarginMs: 'FLOODGATE_SOFT_MARGIN_MS',
  /** Abort in-flight I/O when less than this many ms remain. */
  hardMarginMs: 'FLOODGATE_HARD_MARGIN_MS',
  /** URL of the dead-letter queue; permanent failures are sent there by the handler itself. */
  deadLetterQueueUrl: 'FLOODGATE_DLQ_URL',
  /** The source queue's maxReceiveCount (the handler reports it in DLQ attributes). */
  maxReceiveCount: 'FLOODGATE_MAX_RECEIVE_COUNT',
} as const;
