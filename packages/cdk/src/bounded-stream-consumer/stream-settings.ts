/**
 * The numbers a bounded stream consumer is sized by, derived in one place and pure (no CDK): shards x
 * ParallelizationFactor executions, reserved concurrency from a downstream budget, the mapping's retry
 * settings, the lanes, the deadline margins and the iterator-age alarm. Every violation throws a
 * FloodgateValidationError (unscoped; the construct attaches its path) saying what to change.
 */
import { budgetExecutions, cpuLaneSize, deriveDeadlineMargins, validateTimeoutSeconds, type DeadlineMargins, type DownstreamBudget } from '../consumer-settings/index';
import { DEFAULT_IO_CONCURRENCY, MAX_BATCHING_WINDOW_SECONDS, NO_TOKENS, fail, requireInteger, type IsToken } from '../consumer-settings/limits';

/** Kinesis and DynamoDB Streams event sources: BatchSize 1..10,000 (default 100). */
export const MAX_STREAM_BATCH_SIZE = 10_000;
export const DEFAULT_STREAM_BATCH_SIZE = 100;
/** ParallelizationFactor: concurrent batches per shard, 1..10. */
export const MAX_PARALLELIZATION_FACTOR = 10;
/** MaximumRetryAttempts: -1 (infinite) or 0..10,000. */
export const MAX_STREAM_RETRY_ATTEMPTS = 10_000;
/** MaximumRecordAgeInSeconds: -1 (infinite) or 60..604,800. */
export const MIN_RECORD_AGE_SECONDS = 60;
export const MAX_RECORD_AGE_SECONDS = 604_800;
/** DynamoDB Streams keeps records for 24 hours. */
export const DYNAMODB_STREAM_RETENTION_SECONDS = 86_400;
/**
 * Shards assumed when the count cannot be read at synth (a DynamoDB table's stream, an on-demand or
 * imported Kinesis stream): 4, what a new on-demand table or on-demand Kinesis stream starts with.
 */
export const DEFAULT_EXPECTED_SHARDS = 4;
/** Default MaximumRecordAge: 1 hour, leaving 23 hours to read a discarded range back from DynamoDB Streams. */
export const DEFAULT_MAX_RECORD_AGE_SECONDS = 3_600;

export type StreamSourceKind = 'dynamodb' | 'kinesis';

export interface StreamSettingsInput {
  readonly source: StreamSourceKind;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly batchSize?: number;
  readonly maxBatchingWindowSeconds?: number;
  readonly parallelizationFactor?: number;
  /** Shards read from the source at synth (a provisioned Kinesis stream of this app), if any. */
  readonly knownShards?: number;
  readonly expectedShards?: number;
  readonly downstreamBudget?: DownstreamBudget;
  readonly reservedConcurrency?: number;
  /** -1 for infinite. */
  readonly retryAttempts?: number;
  /** -1 for infinite. */
  readonly maxRecordAgeSeconds?: number;
  readonly ioConcurrency?: number;
  readonly cpuConcurrency?: number;
  readonly softMarginMs?: number;
  readonly hardMarginMs?: number;
  readonly iteratorAgeThresholdSeconds?: number;
  readonly isToken?: IsToken;
}

export interface StreamSettings {
  readonly source: StreamSourceKind;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Shards the sizing assumes, and whether they were read from the source or assumed (`expectedShards`). */
  readonly shards: number;
  readonly shardsKnown: boolean;
  readonly parallelizationFactor: number;
  /** shards x parallelizationFactor: the executions the mapping runs at once. */
  readonly executions: number;
  readonly reservedConcurrency: number;
  readonly retryAttempts: number;
  readonly maxRecordAgeSeconds: number;
  readonly ioConcurrency: number;
  readonly cpuConcurrency: number;
  readonly margins: DeadlineMargins;
  readonly iteratorAgeThresholdSeconds: number;
}

function deriveShards(input: StreamSettingsInput, isToken: IsToken): { shards: number; known: boolean } {
  const { knownShards, expectedShards } = input;
  if (expectedShards !== undefined) requireInteger('expectedShards', expectedShards, 1, 100_000, isToken);
  if (knownShards !== undefined) {
    if (expectedShards !== undefined && !isToken(knownShards) && !isToken(expectedShards) && expectedShards !== knownShards) {
      fail(
        'ExpectedShardsDiffer',
        `expectedShards (${expectedShards}) differs from the stream's shardCount (${knownShards}); remove expectedShards, the stream's count is used.`,
      );
    }
    return { shards: knownShards, known: true };
  }
  return { shards: expectedShards ?? DEFAULT_EXPECTED_SHARDS, known: false };
}

/**
 * ParallelizationFactor and reserved concurrency. With a downstream budget of E executions
 * (floor(maxConnections / connectionsPerExecution)), shards x parallelizationFactor must fit in E; the
 * factor defaults to the largest that does (at most 10). Reserved concurrency defaults to shards x factor:
 * the most the mapping runs, so the budget holds even if the table gains shards (their batches then wait,
 * and the throttles alarm says so).
 */
function deriveConcurrency(input: StreamSettingsInput, shards: number, shardsKnown: boolean, isToken: IsToken) {
  const pfGiven = input.parallelizationFactor;
  if (pfGiven !== undefined) requireInteger('parallelizationFactor', pfGiven, 1, MAX_PARALLELIZATION_FACTOR, isToken);
  const shardsWord = shardsKnown ? `the stream's ${shards} shard(s)` : `expectedShards (${shards}${input.expectedShards === undefined ? ', the default' : ''})`;
  let pf = pfGiven ?? 1;
  let budgetExec: number | undefined;
  if (input.downstreamBudget !== undefined) {
    budgetExec = budgetExecutions(input.downstreamBudget, isToken);
    if (isToken(shards) || (pfGiven !== undefined && isToken(pfGiven))) {
      fail('BudgetWithTokens', 'downstreamBudget is checked against shards x parallelizationFactor at synth, so neither may be a token.');
    }
    const b = input.downstreamBudget;
    if (pfGiven === undefined) {
      pf = Math.min(MAX_PARALLELIZATION_FACTOR, Math.floor(budgetExec / shards));
      if (pf < 1) {
        fail(
          'BudgetTooSmallForShards',
          `downstreamBudget allows ${budgetExec} concurrent execution(s) (floor(${b.maxConnections} / ${b.connectionsPerExecution})), ` +
            `but a stream mapping runs at least one per shard and ${shardsWord} need ${shards}. Raise maxConnections, lower ` +
            'connectionsPerExecution (a smaller I/O lane), or, if the table really has fewer shards, set expectedShards.',
        );
      }
    } else if (shards * pfGiven > budgetExec) {
      fail(
        'BudgetTooSmallForShards',
        `${shardsWord} x parallelizationFactor ${pfGiven} = ${shards * pfGiven} concurrent executions, but downstreamBudget allows ` +
          `${budgetExec} (floor(${b.maxConnections} / ${b.connectionsPerExecution})). Lower parallelizationFactor to ` +
          `${Math.floor(budgetExec / shards) || 1}${Math.floor(budgetExec / shards) >= 1 ? '' : ' and raise the budget'}, or omit it to derive it from the budget.`,
      );
    }
  }
  const executions = isToken(shards) || isToken(pf) ? undefined : shards * pf;
  const reserved = input.reservedConcurrency;
  if (reserved === undefined) {
    if (executions === undefined) {
      fail('ReservedConcurrencyRequired', 'shards or parallelizationFactor is a token, so reserved concurrency (shards x factor) cannot be computed at synth. Set reservedConcurrency.');
    }
    return { parallelizationFactor: pf, executions, reservedConcurrency: executions };
  }
  requireInteger('reservedConcurrency', reserved, 1, 100_000, isToken);
  if (!isToken(reserved) && executions !== undefined && reserved < executions) {
    fail(
      'ReservedConcurrencyBelowShards',
      `reservedConcurrency ${reserved} is below ${shardsWord} x parallelizationFactor ${pf} = ${executions}: batches of some shards ` +
        'would be throttled and fall behind. Raise reservedConcurrency, or lower parallelizationFactor.',
    );
  }
  if (!isToken(reserved) && budgetExec !== undefined && reserved > budgetExec) {
    fail(
      'ReservedConcurrencyAboveBudget',
      `reservedConcurrency ${reserved} exceeds the ${budgetExec} executions downstreamBudget allows; the downstream could get more ` +
        'connections than it takes. Remove reservedConcurrency (it is derived) or lower it.',
    );
  }
  return { parallelizationFactor: pf, executions: executions ?? reserved, reservedConcurrency: reserved };
}

function validateRetries(input: StreamSettingsInput, isToken: IsToken): { retryAttempts: number; maxRecordAgeSeconds: number } {
  const retryAttempts = input.retryAttempts ?? -1;
  if (!isToken(retryAttempts) && !(retryAttempts === -1 || (Number.isInteger(retryAttempts) && retryAttempts >= 0 && retryAttempts <= MAX_STREAM_RETRY_ATTEMPTS))) {
    fail('RetryAttemptsOutOfRange', `retryAttempts must be -1 (retry until maxRecordAge) or an integer from 0 to ${MAX_STREAM_RETRY_ATTEMPTS}, got ${retryAttempts}.`);
  }
  const age = input.maxRecordAgeSeconds ?? DEFAULT_MAX_RECORD_AGE_SECONDS;
  if (!isToken(age) && !(age === -1 || (Number.isInteger(age) && age >= MIN_RECORD_AGE_SECONDS && age <= MAX_RECORD_AGE_SECONDS))) {
    fail('MaxRecordAgeOutOfRange', `maxRecordAge must be 'infinite' or from ${MIN_RECORD_AGE_SECONDS} s to ${MAX_RECORD_AGE_SECONDS} s (7 days), got ${age} s.`);
  }
  if (input.source === 'dynamodb' && !isToken(age) && age > DYNAMODB_STREAM_RETENTION_SECONDS) {
    fail(
      'MaxRecordAgeBeyondRetention',
      `maxRecordAge ${age} s is longer than DynamoDB Streams keeps records (${DYNAMODB_STREAM_RETENTION_SECONDS} s): records expire ` +
        'before it applies. Set it to at most 24 hours (or \'infinite\' to retry until they expire).',
    );
  }
  return { retryAttempts, maxRecordAgeSeconds: age };
}

/** Iterator age alarm: default max(5 min, 2 x timeout), below half of maxRecordAge; never at or above maxRecordAge. */
function deriveIteratorAgeThreshold(input: StreamSettingsInput, maxRecordAgeSeconds: number, isToken: IsToken): number {
  const explicit = input.iteratorAgeThresholdSeconds;
  const ageKnown = maxRecordAgeSeconds !== -1 && !isToken(maxRecordAgeSeconds);
  if (explicit !== undefined) {
    requireInteger('iteratorAgeAlarmThreshold (seconds)', explicit, 1, MAX_RECORD_AGE_SECONDS, isToken);
    if (ageKnown && !isToken(explicit) && explicit >= maxRecordAgeSeconds) {
      fail(
        'IteratorAgeThresholdTooHigh',
        `iteratorAgeAlarmThreshold ${explicit} s is not below maxRecordAge ${maxRecordAgeSeconds} s: records would be discarded ` +
          'before the alarm fires. Lower the threshold (e.g. half of maxRecordAge).',
      );
    }
    return explicit;
  }
  if (isToken(input.timeoutSeconds)) fail('IteratorAgeThresholdRequired', 'timeout is a token: set iteratorAgeAlarmThreshold explicitly.');
  const base = Math.max(300, 2 * input.timeoutSeconds);
  return ageKnown ? Math.min(base, Math.floor(maxRecordAgeSeconds / 2)) : base;
}

export function deriveStreamSettings(input: StreamSettingsInput): StreamSettings {
  const isToken = input.isToken ?? NO_TOKENS;
  validateTimeoutSeconds(input.timeoutSeconds, isToken);
  const batchSize = input.batchSize ?? DEFAULT_STREAM_BATCH_SIZE;
  requireInteger('batchSize', batchSize, 1, MAX_STREAM_BATCH_SIZE, isToken);
  const maxBatchingWindowSeconds = input.maxBatchingWindowSeconds ?? 0;
  requireInteger('maxBatchingWindow (seconds)', maxBatchingWindowSeconds, 0, MAX_BATCHING_WINDOW_SECONDS, isToken);
  const { shards, known } = deriveShards(input, isToken);
  const concurrency = deriveConcurrency(input, shards, known, isToken);
  const retries = validateRetries(input, isToken);
  const ioConcurrency = input.ioConcurrency ?? DEFAULT_IO_CONCURRENCY;
  requireInteger('ioConcurrency', ioConcurrency, 1, 1024, isToken);
  let cpuConcurrency = input.cpuConcurrency;
  if (cpuConcurrency === undefined) {
    if (isToken(input.memorySizeMb)) fail('CpuConcurrencyRequired', 'memorySize is a token, so the CPU lane cannot be computed at synth. Set cpuConcurrency explicitly.');
    cpuConcurrency = cpuLaneSize(input.memorySizeMb);
  }
  requireInteger('cpuConcurrency', cpuConcurrency, 1, 64, isToken);
  const timeoutMs = isToken(input.timeoutSeconds) ? input.timeoutSeconds : input.timeoutSeconds * 1000;
  const margins = deriveDeadlineMargins(timeoutMs, { softMs: input.softMarginMs, hardMs: input.hardMarginMs }, isToken);
  return {
    source: input.source,
    timeoutSeconds: input.timeoutSeconds,
    memorySizeMb: input.memorySizeMb,
    batchSize,
    maxBatchingWindowSeconds,
    shards,
    shardsKnown: known,
    ...concurrency,
    ...retries,
    ioConcurrency,
    cpuConcurrency,
    margins,
    iteratorAgeThresholdSeconds: deriveIteratorAgeThreshold(input, retries.maxRecordAgeSeconds, isToken),
  };
}
