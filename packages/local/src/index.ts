/**
 * @floodgate/local: a Docker-free local AWS stack for any CDK app. `startLocalStack` deploys a synthesized
 * stack onto real-protocol emulators and runs its functions and SQS event source mappings.
 */
export * from './emulators.js';
export * from './clients.js';
export * from './prerequisites.js';
export * from './errors.js';
export * from './request-body.js';
export * from './gateway/index.js';
export * from './assembly.js';
export * from './deploy.js';
export * from './synth.js';
export * from './stack.js';
export * from './intrinsics.js';
export * from './batch-response.js';
export * from './event-source-runner.js';
export * from './event-source-scaling.js';
export * from './event-source-filter.js';
export * from './event-source-fifo.js';
export * from './event-source-gate.js';
export * from './lambda-host/index.js';
export * from './api/index.js';
export * from './api/sigv4.js';
export * from './api/template.js';
export * from './api/throttle.js';
export * from './provisioners/index.js';
export { summarize, type LocalStackSummary } from './cli/summary.js';
