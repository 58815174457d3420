/** IAM on the local endpoint: request -> action + resource (actions.ts), policies from the template (policies.ts), decision (evaluate.ts). */
export * from './actions.js';
export * from './policies.js';
export * from './evaluate.js';
export { AWS_MANAGED_POLICIES, awsManagedPolicy } from './managed-policies.js';
