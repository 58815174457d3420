export * from './consumer-settings';
export * from './bounded-queue-consumer';
export * from './keyed-ttl-table';
export * from './idempotency-table';
export * from './lock-table';
export * from './image-pipeline-stack';
export * from './job-api';
export * from './job-api';
