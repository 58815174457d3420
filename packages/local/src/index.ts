/**
 * @floodgate/local: a Docker-free local AWS stack for any CDK app. `startLocalStack` deploys a synthesized
 * stack onto real-protocol emulators and runs its functions and SQS event source mappings.
 */
export * from './emulators.js';
export * from './core/clients.js';
export * from './prerequisites.js';
export * from './core/deployment/errors.js';
export { DataDirError, DataDirInUseError, readDeploymentState, type DeploymentState } from './core/deployment/state.js';
export { CONTROL_SIGNING_NAME, RESET_PATH } from './gateway/control.js';
export * from './core/request-body.js';
export * from './gateway/index.js';
export * from './core/deployment/assembly.js';
export * from './core/deployment/deploy.js';
export * from './synth.js';
export * from './stack.js';
export type { HotReload, ReloadEvent } from './watch/hot-reload.js';
export { BundleError } from './watch/bundles.js';
export * from './core/deployment/intrinsics.js';
export * from './services/lambda/batch-response.js';
export * from './services/lambda/event-source-runner.js';
export type { StreamPoller, StreamPollerStats, StreamInvocationRecord } from './services/lambda/stream-poller.js';
export * from './services/lambda/event-source-scaling.js';
export * from './services/lambda/event-source-filter.js';
export * from './services/lambda/event-source-fifo.js';
export * from './services/lambda/event-source-gate.js';
export * from './lambda-host/index.js';
export * from './lambda-host/provided-sdk.js';
export { LogStore, RingBuffer, compileFilterPattern, FilterPatternError, type LogEvent, type LogGroupInfo, type LogStreamInfo, type LogStoreOptions } from './services/logs/store.js';
export { logsOperation, logsService, LogsApiError } from './services/logs/handler.js';
export * from './services/apigateway/front.js';
export * from './services/apigateway/sigv4.js';
export * from './services/apigateway/template.js';
export * from './services/apigateway/throttle.js';
export * from './services/provisioners.js';
export { summarize, type LocalStackSummary } from './cli/summary.js';
export { compileEventPattern, EventPatternError, type Dialect } from './core/event-pattern.js';
export type { EventsRuntime, FireResult, PutEventsResult, RuleStats, RuleTarget } from './services/events/bus-runtime.js';
export type { PutEventsEntry, EventEnvelope } from './services/events/event.js';
export type { DeliveryOutcome } from './services/events/target-dispatch.js';
export type { ScheduleStats } from './services/scheduler/runtime.js';
export type { DeliveryFailures, DeniedDelivery } from './core/delivery-gate.js';
export { parseScheduleExpression, ScheduleExpressionError, type Schedule } from './services/events/schedule-expression.js';
