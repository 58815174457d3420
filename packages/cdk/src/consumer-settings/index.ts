/**
 * The numbers a bounded queue consumer is sized by, derived in one place from the construct's props.
 *
 * Pure functions (no CDK, no I/O): BoundedQueueConsumer uses them at synth time, the local runner and the
 * docs can reuse them, and tests check them directly. Every violation throws a FloodgateValidationError
 * (unscoped here; the construct attaches its path) with a message that says what to change.
 *
 * Tokens: the construct passes `isToken` (aws-cdk-lib's `Token.isUnresolved`). A check that involves a
 * token is skipped (CloudFormation has no numeric comparison in Rules; constrain the CfnParameter with
 * minValue/maxValue instead); a derivation that would need arithmetic on a token asks for the derived value
 * explicitly.
 */
import { deriveMaxConcurrency, deriveProvisionedScaling, deriveReservedConcurrency, type DownstreamBudget, type ProvisionedPollerConfig } from './concurrency';
import { cpuLaneSize, deriveDeadlineMargins, type DeadlineMargins } from './handler-sizing';
import { DEFAULT_IO_CONCURRENCY, MIN_MAX_RECEIVE_COUNT, NO_TOKENS, fail, requireInteger, type IsToken } from './limits';
import {
  ageOfOldestMessageThresholdSeconds,
  deriveVisibilityTimeoutSeconds,
  validateBatching,
  validateFifoBatching,
  validateMaxReceiveCount,
  validateTimeoutSeconds,
} from './queue-timing';

export * from './concurrency';
export * from './handler-sizing';
export * from './queue-timing';
export {
  DEFAULT_IO_CONCURRENCY,
  INVOKES_PER_POLLER,
  LAMBDA_MAX_VCPUS,
  LAMBDA_MB_PER_VCPU,
  MAX_BATCH_SIZE,
  MAX_BATCHING_WINDOW_SECONDS,
  MAX_EVENT_SOURCE_CONCURRENCY,
  MAX_FIFO_BATCH_SIZE,
  MAX_FUNCTION_TIMEOUT_SECONDS,
  MAX_MAXIMUM_PROVISIONED_POLLERS,
  MAX_MINIMUM_PROVISIONED_POLLERS,
  MAX_VISIBILITY_TIMEOUT_SECONDS,
  MIN_EVENT_SOURCE_CONCURRENCY,
  MIN_MAX_RECEIVE_COUNT,
  MIN_PROVISIONED_POLLERS,
  type IsToken,
} from './limits';

export interface ConsumerSettingsInput {
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly batchSize?: number;
  readonly maxBatchingWindowSeconds?: number;
  readonly maxConcurrency?: number;
  readonly downstreamBudget?: DownstreamBudget;
  /** SQS provisioned mode instead of ScalingConfig.MaximumConcurrency. */
  readonly provisionedPollerConfig?: ProvisionedPollerConfig;
  readonly reservedConcurrency?: number;
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly ioConcurrency?: number;
  readonly cpuConcurrency?: number;
  readonly softMarginMs?: number;
  readonly hardMarginMs?: number;
  readonly ageOfOldestMessageThresholdSeconds?: number;
  /** A FIFO queue: no batching window, batch size <= 10. @default false */
  readonly fifo?: boolean;
  /** Which values are tokens (checks on them are skipped). @default - none */
  readonly isToken?: IsToken;
}

/** Every derived number, consistent with each other. Numbers may be CDK tokens where the props were. */
export interface ConsumerSettings {
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  readonly fifo: boolean;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /**
   * The most executions the event source runs at once: ScalingConfig.MaximumConcurrency in standard
   * mode, 10 x maximumPollers in provisioned mode.
   */
  readonly maxConcurrency: number;
  /** `'maxConcurrency'` (ScalingConfig) or `'provisioned'` (ProvisionedPollerConfig). */
  readonly scalingMode: 'maxConcurrency' | 'provisioned';
  /** The pollers, in provisioned mode. */
  readonly provisionedPollers?: { readonly minimumPollers: number; readonly maximumPollers: number };
  readonly reservedConcurrency: number;
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
  readonly ioConcurrency: number;
  readonly cpuConcurrency: number;
  readonly margins: DeadlineMargins;
  readonly ageOfOldestMessageThresholdSeconds: number;
}

/** Derive and validate everything at once (what BoundedQueueConsumer calls). */
export function deriveConsumerSettings(input: ConsumerSettingsInput): ConsumerSettings {
  const isToken = input.isToken ?? NO_TOKENS;
  const fifo = input.fifo ?? false;
  validateTimeoutSeconds(input.timeoutSeconds, isToken);
  const batchSize = input.batchSize ?? 10;
  if (fifo) validateFifoBatching(batchSize, input.maxBatchingWindowSeconds, isToken);
  const maxBatchingWindowSeconds = input.maxBatchingWindowSeconds ?? 0;
  validateBatching(batchSize, maxBatchingWindowSeconds, isToken);

  let maxConcurrency: number;
  let reservedDefault: number;
  let provisionedPollers: ConsumerSettings['provisionedPollers'];
  if (input.provisionedPollerConfig !== undefined) {
    const p = deriveProvisionedScaling({ ...input, provisionedPollerConfig: input.provisionedPollerConfig, isToken });
    if (isToken(p.maximumPollers) && input.reservedConcurrency === undefined) {
      fail(
        'ReservedConcurrencyRequired',
        'provisionedPollerConfig.maximumPollers is a token, so reserved concurrency (10 x maximumPollers) cannot ' +
          'be computed at synth. Set reservedConcurrency explicitly.',
      );
    }
    maxConcurrency = p.maxConcurrency;
    reservedDefault = p.defaultReservedConcurrency ?? p.maxConcurrency;
    provisionedPollers = { minimumPollers: p.minimumPollers, maximumPollers: p.maximumPollers };
  } else {
    maxConcurrency = deriveMaxConcurrency({ ...input, isToken });
    reservedDefault = maxConcurrency;
  }
  const reservedConcurrency =
    input.reservedConcurrency === undefined ? reservedDefault : deriveReservedConcurrency(maxConcurrency, input.reservedConcurrency, isToken, provisionedPollers !== undefined);

  const maxReceiveCount = input.maxReceiveCount ?? MIN_MAX_RECEIVE_COUNT;
  validateMaxReceiveCount(maxReceiveCount, isToken);
  const visibilityTimeoutSeconds = deriveVisibilityTimeoutSeconds({
    timeoutSeconds: input.timeoutSeconds,
    maxBatchingWindowSeconds,
    visibilityTimeoutSeconds: input.visibilityTimeoutSeconds,
    isToken,
  });
  const ioConcurrency = input.ioConcurrency ?? DEFAULT_IO_CONCURRENCY;
  requireInteger('ioConcurrency', ioConcurrency, 1, 1024, isToken);
  let cpuConcurrency = input.cpuConcurrency;
  if (cpuConcurrency === undefined) {
    if (isToken(input.memorySizeMb)) {
      fail(
        'CpuConcurrencyRequired',
        'memorySize is a token, so the CPU lane (one slot per 1,769 MB) cannot be computed at synth. Set cpuConcurrency explicitly.',
      );
    }
    cpuConcurrency = cpuLaneSize(input.memorySizeMb);
  } else {
    requireInteger('memorySize (MB)', input.memorySizeMb, 128, 10_240, isToken);
  }
  requireInteger('cpuConcurrency', cpuConcurrency, 1, 64, isToken);
  const timeoutMs = isToken(input.timeoutSeconds) ? input.timeoutSeconds : input.timeoutSeconds * 1000;
  const margins = deriveDeadlineMargins(timeoutMs, { softMs: input.softMarginMs, hardMs: input.hardMarginMs }, isToken);
  const ageThreshold =
    input.ageOfOldestMessageThresholdSeconds ?? ageOfOldestMessageThresholdSeconds(input.timeoutSeconds, maxReceiveCount, isToken);
  return {
    timeoutSeconds: input.timeoutSeconds,
    memorySizeMb: input.memorySizeMb,
    fifo,
    batchSize,
    maxBatchingWindowSeconds,
    maxConcurrency,
    scalingMode: provisionedPollers ? 'provisioned' : 'maxConcurrency',
    ...(provisionedPollers ? { provisionedPollers } : {}),
    reservedConcurrency,
    maxReceiveCount,
    visibilityTimeoutSeconds,
    ioConcurrency,
    cpuConcurrency,
    margins,
    ageOfOldestMessageThresholdSeconds: ageThreshold,
  };
}
