export * from './types.js';
export { startGateway, type Gateway, type StartGatewayOptions } from './server.js';
export { credentialScope } from './route.js';
export { forward, upstreamCall, type ForwardOptions } from './forward.js';
export { SERVICES } from './services/index.js';
export { jsonError, queryError, xmlError } from './services/protocol-errors.js';
export { createS3Service, type S3ServiceOptions } from './services/s3.js';
export { rewriteQueueUrls } from './services/sqs.js';
