/**
 * @floodgate/runtime: what an SQS consumer's handler imports. The batch machinery (lanes, deadline,
 * classification, dead-lettering, partial batch responses) and the SDK clients; idempotency and locks are
 * the `/idempotency` and `/lock` subpaths.
 */
export { FloodgateError, PermanentError, RetryableError, type ClassifiedFailure, type ErrorClass, type FailureKind, type PermanentErrorClass, type RetryableErrorClass, type RuntimePermanentClass, type RuntimeRetryableClass } from './errors.js';
export { runBatch, type BatchReport, type RecordContext, type RecordOutcome, type RunBatchOptions, type OutcomeStatus } from './batch.js';
export { createLanes, defaultMemoryLaneSize, Lane, type Lanes } from './lanes.js';
export { planDeadline, canStart, msUntilHard, type DeadlinePlan } from './deadline.js';
export { classify, classifyAwsError } from './classify.js';
export { readRuntimeConfig, type RuntimeConfig, DEFAULT_IO_CONCURRENCY, DEFAULT_SOFT_MARGIN_MS, DEFAULT_HARD_MARGIN_MS } from './config.js';
export { CONSUMER_ENV } from './env.js';
export { deadLetterMessage, sendToDeadLetterQueue, receiveCount, sniffJobId, DLQ_ATTRIBUTES, MAX_MESSAGE_ATTRIBUTES } from './dead-letter.js';
export { createHandlerClients, addRequestCounter, RequestCounter, DEFAULT_MAX_ATTEMPTS, type HandlerClients } from './aws-clients.js';
export { needsPathStyle } from './s3-addressing.js';
export { S, N, str, num, conditionFailedItem, type Item } from './ddb-attrs.js';
export * from './faults.js';
