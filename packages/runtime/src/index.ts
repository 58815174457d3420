/**
 * @floodgate/runtime: what an SQS consumer's handler imports. `createConsumerHandler` is the one call;
 * the pieces it is made of (lanes, deadline, classification, dead-lettering, partial batch responses, FIFO
 * group planning, SDK clients) are exported too. Idempotency and locks are the `/idempotency` and `/lock`
 * subpaths.
 *
 * @packageDocumentation
 */
export {
  createConsumerHandler,
  type BodyOf,
  type ConsumerHandler,
  type ConsumerHandlerOptions,
  type ConsumerInvocation,
  type ConsumerRecordContext,
  type HookContext,
  type LambdaContextLike,
  type RecordFields,
} from './consumer-handler.js';
export type { ConsumerIdempotencyOptions, RecordIdempotency } from './consumer-idempotency.js';
export type { HandlerBaseOptions } from './handler-options.js';
export { BatchMetrics } from './batch-metrics.js';
export { validateBody, formatIssuePath, type StandardSchemaV1 } from './standard-schema.js';
export { createGroupPlanner, isFifoBatch, messageGroupOf, type GroupPlanner } from './fifo-groups.js';
export { inOrderScheduler, type RecordScheduler, type SettleVerdict } from './scheduler.js';
export { FloodgateError, PermanentError, RetryableError, type ClassifiedFailure, type ErrorClass, type FailureKind, type PermanentErrorClass, type RetryableErrorClass, type RuntimePermanentClass, type RuntimeRetryableClass } from './errors.js';
export { runBatch, type BatchReport, type FifoOptions, type RecordContext, type RecordOutcome, type RunBatchOptions, type OutcomeStatus } from './batch.js';
export { createLanes, defaultMemoryLaneSize, Lane, type Lanes } from './lanes.js';
export { planDeadline, canStart, msUntilHard, type DeadlinePlan } from './deadline.js';
export { classify, classifyAccessDenied, classifyAwsError } from './classify.js';
export { readRuntimeConfig, type RuntimeConfig, DEFAULT_IO_CONCURRENCY, DEFAULT_SOFT_MARGIN_MS, DEFAULT_HARD_MARGIN_MS } from './config.js';
export { CONSUMER_ENV } from './env.js';
export { deadLetterMessage, sendToDeadLetterQueue, receiveCount, redrivenFrom, isFifoQueue, DLQ_ATTRIBUTES, MAX_MESSAGE_ATTRIBUTES, MAX_EXTRA_DLQ_ATTRIBUTES, type DeadLetterInput, type DeadLetterOptions } from './dead-letter.js';
export { createHandlerClients, addRequestCounter, countRequestsDuring, RequestCounter, DEFAULT_MAX_ATTEMPTS, type HandlerClients } from './aws-clients.js';
export { needsPathStyle } from './s3-addressing.js';
export { S, N, str, num, conditionFailedItem, type Item } from './ddb-attrs.js';
// Named, not `export *`: a re-export star in the CommonJS build is not seen by every ESM interop (vitest's).
export { FAULTS_ENV, CRASH_EXIT_CODE, parseFaultConfig, seededRandom, resetFaults, faultsEnabled, faultPoint, injectedAwsError, addFaultMiddleware, type FaultConfig, type MiddlewareStackLike } from './faults.js';
export {
  createStreamHandler,
  type StreamBatchReport,
  type StreamBatchResponse,
  type StreamHandler,
  type StreamHandlerOptions,
  type StreamInvocation,
  type StreamRecordContext,
} from './stream-handler.js';
export { createStreamPlanner, checkpointResponse, type StreamPlanner, type CheckpointStatus } from './stream-planner.js';
export { compareSequenceNumbers, isDynamoDBRecord, isKinesisRecord, kinesisData, partitionKeyOf, sequenceNumberOf, streamSourceOf, type StreamRecord, type StreamSource } from './stream-records.js';
export { streamFailureMessage, sendStreamFailure, STREAM_FAILURE_ATTRIBUTES, MAX_STREAM_FAILURE_BODY_BYTES, type StreamFailureInput } from './stream-dead-letter.js';
export { decideBackoff, planBatchBackoff, retentionShareSeconds, validateRetryBackoff, MAX_VISIBILITY_TIMEOUT_SECONDS, DEFAULT_HELD_SECONDS, type BackoffCap, type BackoffDecision, type BackoffEntry, type BackoffInput, type BackoffQueue, type BackoffRecord, type RetryBackoff, type RetryBackoffOptions } from './retry-backoff.js';
export { backOffRetries, changeVisibilities, createRetryBackoffStep, queueUrlFromArn, MAX_VISIBILITY_BATCH_ENTRIES, type RetryBackoffReport, type RetryBackoffRun, type RetryBackoffStep, type VisibilityChange, type VisibilityChangeFailure, type VisibilityChangeResult } from './retry-backoff-sqs.js';
