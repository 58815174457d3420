export * from './bounded-queue-consumer';
export * from './props';
