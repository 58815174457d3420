/** The reusable batch runtime for SQS consumers: lanes, deadline, classification, DLQ, SDK clients. */
export { runBatch, type BatchReport, type RecordContext, type RecordOutcome, type RunBatchOptions, type OutcomeStatus } from './batch';
export { createLanes, defaultMemoryLaneSize, Lane, type Lanes } from './lanes';
export { planDeadline, canStart, msUntilHard, type DeadlinePlan } from './deadline';
export { classify, classifyAwsError } from './classify';
export { readRuntimeConfig, type RuntimeConfig, DEFAULT_IO_CONCURRENCY, DEFAULT_SOFT_MARGIN_MS, DEFAULT_HARD_MARGIN_MS } from './config';
export { deadLetterMessage, sendToDeadLetterQueue, DLQ_ATTRIBUTES } from './dead-letter';
export { createHandlerClients, addRequestCounter, RequestCounter, needsPathStyle, DEFAULT_MAX_ATTEMPTS, type HandlerClients } from './aws-clients';
