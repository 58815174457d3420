export * from './bounded-stream-consumer';
export * from './props';
export {
  deriveStreamSettings,
  DEFAULT_EXPECTED_SHARDS,
  DEFAULT_MAX_RECORD_AGE_SECONDS,
  DEFAULT_STREAM_BATCH_SIZE,
  DYNAMODB_STREAM_RETENTION_SECONDS,
  MAX_PARALLELIZATION_FACTOR,
  MAX_RECORD_AGE_SECONDS,
  MAX_STREAM_BATCH_SIZE,
  MAX_STREAM_RETRY_ATTEMPTS,
  MIN_RECORD_AGE_SECONDS,
  type StreamSettings,
  type StreamSettingsInput,
  type StreamSourceKind,
} from './stream-settings';
