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
import { FloodgateValidationError } from './errors';

/** Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (AWS Lambda docs). */
export const LAMBDA_MB_PER_VCPU = 1769;
/** Lambda's ceiling: 6 vCPUs at 10,240 MB. */
export const LAMBDA_MAX_VCPUS = 6;
/** Event-source ScalingConfig.MaximumConcurrency bounds (AWS::Lambda::EventSourceMapping). */
export const MIN_EVENT_SOURCE_CONCURRENCY = 2;
export const MAX_EVENT_SOURCE_CONCURRENCY = 1000;
/** ProvisionedPollerConfig bounds for SQS in CloudFormation. */
export const MIN_PROVISIONED_POLLERS = 2;
export const MAX_MINIMUM_PROVISIONED_POLLERS = 200;
export const MAX_MAXIMUM_PROVISIONED_POLLERS = 2000;
/** Each provisioned SQS poller drives up to 10 concurrent invokes (AWS Lambda docs, services-sqs-scaling). */
export const INVOKES_PER_POLLER = 10;
/** AWS guidance: fewer receives push throttled or capped (not failed) messages to the DLQ. */
export const MIN_MAX_RECEIVE_COUNT = 5;
/** SQS queue visibility timeout ceiling (12 hours). */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** Lambda function timeout ceiling (15 minutes). */
export const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
/** SQS event source MaximumBatchingWindowInSeconds ceiling. */
export const MAX_BATCHING_WINDOW_SECONDS = 300;
/** Standard-queue BatchSize ceiling (needs a batching window above 10). */
export const MAX_BATCH_SIZE = 10_000;
/** FIFO-queue BatchSize ceiling (no batching window on FIFO). */
export const MAX_FIFO_BATCH_SIZE = 10;
/** Default size of the I/O lane (S3, DynamoDB, SQS calls in flight per invocation). */
export const DEFAULT_IO_CONCURRENCY = 16;

/** Predicate for values that are not known at synth (CDK tokens). */
export type IsToken = (value: number) => boolean;
const NO_TOKENS: IsToken = () => false;

function fail(code: string, message: string): never {
  throw new FloodgateValidationError(code, message);
}

function requireInteger(name: string, value: number, min: number, max: number, isToken: IsToken = NO_TOKENS): void {
  if (isToken(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    fail('OutOfRange', `${name} must be an integer from ${min} to ${max}, got ${value}.`);
  }
}

/** How many connections the downstream can take in total, and how many one execution opens. */
export interface DownstreamBudget {
  /** Connections (or requests in flight) the downstream dependency can serve at once, across all executions. */
  readonly maxConnections: number;
  /** Connections one execution holds at most (e.g. its I/O lane size, or its database pool size). */
  readonly connectionsPerExecution: number;
}

/** SQS provisioned mode: dedicated pollers, each driving up to 10 concurrent invokes. */
export interface ProvisionedPollerConfig {
  /**
   * Pollers kept warm (2..200). Billed while the mapping exists.
   * @default 2
   */
  readonly minimumPollers?: number;
  /**
   * Pollers the mapping may scale up to (2..2000 in CloudFormation). The fleet then runs at most
   * 10 x maximumPollers executions at once.
   * @default - floor(maxConnections / connectionsPerExecution / 10) from `downstreamBudget`; required without it
   */
  readonly maximumPollers?: number;
}

/** Executions a downstream budget allows: floor(maxConnections / connectionsPerExecution). */
export function budgetExecutions(budget: DownstreamBudget, isToken: IsToken = NO_TOKENS): number {
  const { maxConnections, connectionsPerExecution } = budget;
  if (isToken(maxConnections) || isToken(connectionsPerExecution)) {
    fail(
      'BudgetIsToken',
      'downstreamBudget is divided at synth, so its numbers cannot be tokens. Pass concrete numbers, or set ' +
        'maxConcurrency (which may be a CfnParameter) instead of downstreamBudget.',
    );
  }
  requireInteger('downstreamBudget.maxConnections', maxConnections, 1, Number.MAX_SAFE_INTEGER);
  requireInteger('downstreamBudget.connectionsPerExecution', connectionsPerExecution, 1, Number.MAX_SAFE_INTEGER);
  return Math.floor(maxConnections / connectionsPerExecution);
}

/**
 * The event-source cap: either given, or derived from a downstream budget as
 * floor(maxConnections / connectionsPerExecution), so the fleet can never open more connections than
 * the downstream accepts. Giving both is an error (they could disagree).
 */
export function deriveMaxConcurrency(input: {
  readonly maxConcurrency?: number;
  readonly downstreamBudget?: DownstreamBudget;
  readonly isToken?: IsToken;
}): number {
  const { maxConcurrency, downstreamBudget } = input;
  const isToken = input.isToken ?? NO_TOKENS;
  if (maxConcurrency !== undefined && downstreamBudget !== undefined) {
    fail(
      'MaxConcurrencyAndBudget',
      'Set either maxConcurrency or downstreamBudget, not both: maxConcurrency is derived from the budget ' +
        `(floor(${downstreamBudget.maxConnections} / ${downstreamBudget.connectionsPerExecution})).`,
    );
  }
  if (downstreamBudget !== undefined) {
    const derived = budgetExecutions(downstreamBudget, isToken);
    if (derived < MIN_EVENT_SOURCE_CONCURRENCY) {
      fail(
        'BudgetTooSmall',
        `downstreamBudget allows only ${derived} concurrent execution(s) (floor(${downstreamBudget.maxConnections} / ` +
          `${downstreamBudget.connectionsPerExecution})), but an SQS event source needs at least ${MIN_EVENT_SOURCE_CONCURRENCY}. ` +
          'Raise maxConnections or lower connectionsPerExecution (e.g. a smaller I/O lane).',
      );
    }
    return Math.min(derived, MAX_EVENT_SOURCE_CONCURRENCY);
  }
  if (maxConcurrency === undefined) {
    // No silent default: the cap is the whole point of the construct, so the user chooses it.
    fail(
      'ScalingRequired',
      'Set maxConcurrency (how many executions may process the queue at once, 2..1000), downstreamBudget ' +
        '(from which it is derived), or provisionedPollerConfig.maximumPollers (SQS provisioned mode).',
    );
  }
  requireInteger('maxConcurrency', maxConcurrency, MIN_EVENT_SOURCE_CONCURRENCY, MAX_EVENT_SOURCE_CONCURRENCY, isToken);
  return maxConcurrency;
}

/** Provisioned mode, derived: the pollers, the executions they can drive, and the reserved concurrency default. */
export interface ProvisionedScaling {
  readonly minimumPollers: number;
  readonly maximumPollers: number;
  /** 10 x maximumPollers: the most concurrent invokes the pollers can drive. */
  readonly maxConcurrency: number;
  /** Reserved concurrency when none is given: the budget's executions, else 10 x maximumPollers. */
  readonly defaultReservedConcurrency?: number;
}

/**
 * SQS provisioned mode. Rules (aws-cdk-lib checks the ranges but not the rest):
 * - exclusive with maxConcurrency (Lambda refuses ScalingConfig with ProvisionedPollerConfig);
 * - minimumPollers 2..200 (default 2), maximumPollers 2..2000, minimumPollers <= maximumPollers;
 * - from a downstream budget: executions = floor(maxConnections / connectionsPerExecution),
 *   maximumPollers = min(2000, floor(executions / 10)), and reserved concurrency defaults to `executions`, so
 *   that Lambda throttles rather than exceeding the budget should the pollers drive more than 10 each;
 * - the pollers drive up to 10 x maximumPollers invokes: that is the cap the reserved concurrency must cover
 *   (checked in {@link deriveReservedConcurrency}), otherwise Lambda throttles them and burns receives.
 */
export function deriveProvisionedScaling(input: {
  readonly provisionedPollerConfig: ProvisionedPollerConfig;
  readonly maxConcurrency?: number;
  readonly downstreamBudget?: DownstreamBudget;
  readonly isToken?: IsToken;
}): ProvisionedScaling {
  const isToken = input.isToken ?? NO_TOKENS;
  const { minimumPollers = MIN_PROVISIONED_POLLERS, maximumPollers: givenMax } = input.provisionedPollerConfig;
  if (input.maxConcurrency !== undefined) {
    fail(
      'ProvisionedWithMaxConcurrency',
      'provisionedPollerConfig and maxConcurrency are mutually exclusive (Lambda refuses a ScalingConfig on a ' +
        'mapping in provisioned mode). Remove maxConcurrency: the cap becomes 10 x maximumPollers.',
    );
  }
  requireInteger('provisionedPollerConfig.minimumPollers', minimumPollers, MIN_PROVISIONED_POLLERS, MAX_MINIMUM_PROVISIONED_POLLERS, isToken);
  let maximumPollers: number;
  let defaultReservedConcurrency: number | undefined;
  if (input.downstreamBudget !== undefined) {
    if (givenMax !== undefined) {
      fail(
        'MaximumPollersAndBudget',
        'Set either provisionedPollerConfig.maximumPollers or downstreamBudget, not both: maximumPollers is ' +
          'derived from the budget (floor(executions / 10)).',
      );
    }
    const executions = budgetExecutions(input.downstreamBudget, isToken);
    maximumPollers = Math.min(MAX_MAXIMUM_PROVISIONED_POLLERS, Math.floor(executions / INVOKES_PER_POLLER));
    if (maximumPollers < MIN_PROVISIONED_POLLERS) {
      fail(
        'BudgetTooSmallForProvisioned',
        `downstreamBudget allows ${executions} concurrent executions, fewer than the ${MIN_PROVISIONED_POLLERS * INVOKES_PER_POLLER} ` +
          `that ${MIN_PROVISIONED_POLLERS} provisioned pollers (the minimum) can drive. Remove provisionedPollerConfig ` +
          '(standard mode caps with maxConcurrency), or raise the budget.',
      );
    }
    // The budget's executions, not 10 x maximumPollers: if the pollers ever drove more, Lambda throttles at
    // the budget instead of the downstream refusing connections. Capped where the poller count is capped.
    defaultReservedConcurrency = Math.min(executions, MAX_MAXIMUM_PROVISIONED_POLLERS * INVOKES_PER_POLLER);
  } else {
    if (givenMax === undefined) {
      fail(
        'MaximumPollersRequired',
        'Set provisionedPollerConfig.maximumPollers (the fleet then runs at most 10 x maximumPollers executions) ' +
          'or downstreamBudget (from which it is derived). AWS would default it to 200 pollers, 2,000 executions.',
      );
    }
    maximumPollers = givenMax;
  }
  requireInteger('provisionedPollerConfig.maximumPollers', maximumPollers, MIN_PROVISIONED_POLLERS, MAX_MAXIMUM_PROVISIONED_POLLERS, isToken);
  if (!isToken(minimumPollers) && !isToken(maximumPollers) && minimumPollers > maximumPollers) {
    fail(
      'MinimumPollersAboveMaximum',
      `provisionedPollerConfig.minimumPollers (${minimumPollers}) is above maximumPollers (${maximumPollers}). ` +
        `Lower minimumPollers to at most ${maximumPollers}${input.downstreamBudget ? ' (derived from downstreamBudget)' : ''}.`,
    );
  }
  const maxConcurrency = isToken(maximumPollers) ? maximumPollers : maximumPollers * INVOKES_PER_POLLER;
  return { minimumPollers, maximumPollers, maxConcurrency, defaultReservedConcurrency };
}

/**
 * Reserved concurrency defaults to the event-source cap. Less than the cap means Lambda throttles the
 * poller's invocations and messages bounce back to the queue (burning receives), so it is an error.
 */
export function deriveReservedConcurrency(maxConcurrency: number, reservedConcurrency?: number, isToken: IsToken = NO_TOKENS): number {
  if (reservedConcurrency === undefined) return maxConcurrency;
  requireInteger('reservedConcurrency', reservedConcurrency, 1, Number.MAX_SAFE_INTEGER, isToken);
  if (!isToken(reservedConcurrency) && !isToken(maxConcurrency) && reservedConcurrency < maxConcurrency) {
    fail(
      'ReservedConcurrencyBelowCap',
      `reservedConcurrency (${reservedConcurrency}) is below the event source's maxConcurrency ` +
        `(${maxConcurrency}): Lambda would throttle the SQS poller and throttled messages count as receives ` +
        `toward the DLQ. Set reservedConcurrency >= ${maxConcurrency}, or lower maxConcurrency.`,
    );
  }
  return reservedConcurrency;
}

export function validateTimeoutSeconds(timeoutSeconds: number, isToken: IsToken = NO_TOKENS): void {
  requireInteger('timeout (seconds)', timeoutSeconds, 1, MAX_FUNCTION_TIMEOUT_SECONDS, isToken);
}

export function validateBatching(batchSize: number, maxBatchingWindowSeconds: number, isToken: IsToken = NO_TOKENS): void {
  requireInteger('batchSize', batchSize, 1, MAX_BATCH_SIZE, isToken);
  requireInteger('maxBatchingWindow (seconds)', maxBatchingWindowSeconds, 0, MAX_BATCHING_WINDOW_SECONDS, isToken);
  if (!isToken(batchSize) && !isToken(maxBatchingWindowSeconds) && batchSize > 10 && maxBatchingWindowSeconds < 1) {
    fail(
      'BatchSizeNeedsWindow',
      `batchSize ${batchSize} is above 10, which SQS event sources only accept with maxBatchingWindow >= 1 second.`,
    );
  }
}

/** FIFO event sources: no batching window, at most 10 records per batch. */
export function validateFifoBatching(batchSize: number, maxBatchingWindowSeconds: number | undefined, isToken: IsToken = NO_TOKENS): void {
  if (maxBatchingWindowSeconds !== undefined && (isToken(maxBatchingWindowSeconds) || maxBatchingWindowSeconds > 0)) {
    fail(
      'FifoBatchingWindow',
      'maxBatchingWindow is not supported on FIFO queues (Lambda invokes as soon as a group has messages). Remove maxBatchingWindow.',
    );
  }
  requireInteger('batchSize', batchSize, 1, MAX_BATCH_SIZE, isToken);
  if (!isToken(batchSize) && batchSize > MAX_FIFO_BATCH_SIZE) {
    fail('FifoBatchSize', `batchSize ${batchSize} is above ${MAX_FIFO_BATCH_SIZE}, the most a FIFO event source accepts. Set batchSize <= 10.`);
  }
}

export function validateMaxReceiveCount(maxReceiveCount: number, isToken: IsToken = NO_TOKENS): void {
  if (isToken(maxReceiveCount)) return;
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < MIN_MAX_RECEIVE_COUNT) {
    fail(
      'MaxReceiveCountTooLow',
      `maxReceiveCount must be an integer >= ${MIN_MAX_RECEIVE_COUNT}, got ${maxReceiveCount}: AWS recommends at ` +
        'least 5 so that messages throttled or returned by a capped event source are not dead-lettered.',
    );
  }
}

/**
 * Queue visibility timeout: default 6 x function timeout + batching window (AWS guidance: a message in
 * a batch that waits out the window and whose invocations are retried must stay invisible). An explicit
 * smaller value is an error: the message would reappear while the first invocation still works on it.
 */
export function deriveVisibilityTimeoutSeconds(input: {
  readonly timeoutSeconds: number;
  readonly maxBatchingWindowSeconds: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly isToken?: IsToken;
}): number {
  const isToken = input.isToken ?? NO_TOKENS;
  const explicit = input.visibilityTimeoutSeconds;
  if (isToken(input.timeoutSeconds) || isToken(input.maxBatchingWindowSeconds)) {
    if (explicit === undefined) {
      fail(
        'VisibilityTimeoutRequired',
        'timeout or maxBatchingWindow is a token, so the visibility timeout (6 x timeout + maxBatchingWindow) ' +
          'cannot be computed at synth. Set visibilityTimeout explicitly (at least that much).',
      );
    }
    requireInteger('visibilityTimeout (seconds)', explicit, 0, MAX_VISIBILITY_TIMEOUT_SECONDS, isToken);
    return explicit;
  }
  const minimum = 6 * input.timeoutSeconds + input.maxBatchingWindowSeconds;
  if (minimum > MAX_VISIBILITY_TIMEOUT_SECONDS) {
    fail(
      'VisibilityTimeoutAboveLimit',
      `6 x timeout + maxBatchingWindow = ${minimum} s exceeds the SQS visibility timeout limit of ` +
        `${MAX_VISIBILITY_TIMEOUT_SECONDS} s. Lower the function timeout or the batching window.`,
    );
  }
  if (explicit === undefined) return minimum;
  requireInteger('visibilityTimeout (seconds)', explicit, 0, MAX_VISIBILITY_TIMEOUT_SECONDS, isToken);
  if (!isToken(explicit) && explicit < minimum) {
    fail(
      'VisibilityTimeoutTooShort',
      `visibilityTimeout ${explicit} s is below 6 x timeout (${input.timeoutSeconds} s) + maxBatchingWindow ` +
        `(${input.maxBatchingWindowSeconds} s) = ${minimum} s. AWS guidance for SQS event sources: a shorter ` +
        'visibility timeout lets a message reappear (and be processed twice) while an invocation, or its ' +
        `retries after throttling, still holds it. Remove visibilityTimeout or set it to at least ${minimum} s.`,
    );
  }
  return explicit;
}

/** CPU lane: one slot per vCPU Lambda gives this memory size, at least 1, at most 6. */
export function cpuLaneSize(memorySizeMb: number): number {
  requireInteger('memorySize (MB)', memorySizeMb, 128, 10_240);
  return Math.max(1, Math.min(LAMBDA_MAX_VCPUS, Math.floor(memorySizeMb / LAMBDA_MB_PER_VCPU)));
}

export interface DeadlineMargins {
  /** Stop starting new records when less than this remains of the invocation. */
  readonly softMs: number;
  /** Abort in-flight I/O when less than this remains, to report failures before Lambda kills us. */
  readonly hardMs: number;
}

/**
 * Default deadline margins from the function timeout:
 * soft = 20 % of the timeout, at least 5 s and at most 60 s; hard = 10 %, at least 2 s and at most 30 s.
 * On short timeouts both are capped (soft <= 50 %, hard <= 25 % of the timeout) so some time is left to
 * work. Explicit margins must satisfy 0 < hard < soft < timeout.
 */
export function deriveDeadlineMargins(
  timeoutMs: number,
  explicit: { readonly softMs?: number; readonly hardMs?: number } = {},
  isToken: IsToken = NO_TOKENS,
): DeadlineMargins {
  if (isToken(timeoutMs) && (explicit.softMs === undefined || explicit.hardMs === undefined)) {
    fail(
      'DeadlineMarginsRequired',
      'timeout is a token, so the deadline margins (20 % / 10 % of it) cannot be computed at synth. Set ' +
        'softDeadlineMargin and hardDeadlineMargin explicitly.',
    );
  }
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  const softMs = explicit.softMs ?? Math.min(clamp(Math.round(timeoutMs * 0.2), 5_000, 60_000), Math.floor(timeoutMs * 0.5));
  const hardMs = explicit.hardMs ?? Math.min(clamp(Math.round(timeoutMs * 0.1), 2_000, 30_000), Math.floor(timeoutMs * 0.25));
  const known = (...v: number[]) => v.every((x) => !isToken(x));
  const bad =
    (known(hardMs) && !(hardMs > 0)) ||
    (known(hardMs, softMs) && !(hardMs < softMs)) ||
    (known(softMs, timeoutMs) && !(softMs < timeoutMs));
  if (bad) {
    fail(
      'DeadlineMarginsOutOfOrder',
      `Deadline margins must satisfy 0 < hardMargin (${hardMs} ms) < softMargin (${softMs} ms) < timeout ` +
        `(${timeoutMs} ms): the handler stops starting records at the soft margin and aborts I/O at the hard one.`,
    );
  }
  return { softMs, hardMs };
}

/**
 * Threshold for the "age of oldest message" alarm: timeout x maxReceiveCount. A healthy consumer takes a
 * message within one timeout; a message older than every retry could have taken means the queue is
 * backing up (or the consumer is stuck), well before retention drops messages.
 */
export function ageOfOldestMessageThresholdSeconds(timeoutSeconds: number, maxReceiveCount: number, isToken: IsToken = NO_TOKENS): number {
  if (isToken(timeoutSeconds) || isToken(maxReceiveCount)) {
    fail(
      'AlarmThresholdRequired',
      'timeout or maxReceiveCount is a token, so the age-of-oldest-message threshold (timeout x maxReceiveCount) ' +
        'cannot be computed at synth. Set ageOfOldestMessageAlarmThreshold explicitly.',
    );
  }
  return timeoutSeconds * maxReceiveCount;
}

/**
 * Source retention must not exceed the DLQ's: a redriven standard message keeps its original enqueue time.
 * (FIFO queues reset it when the message moves, so `fifo` skips the comparison.)
 */
export function validateRetention(
  queueRetentionSeconds: number,
  deadLetterRetentionSeconds: number | undefined,
  options: { readonly fifo?: boolean; readonly isToken?: IsToken } = {},
): void {
  const isToken = options.isToken ?? NO_TOKENS;
  const min = 60;
  const max = 1_209_600;
  requireInteger('retentionPeriod (seconds)', queueRetentionSeconds, min, max, isToken);
  if (deadLetterRetentionSeconds === undefined) return;
  requireInteger('deadLetterRetentionPeriod (seconds)', deadLetterRetentionSeconds, min, max, isToken);
  if (options.fifo || isToken(queueRetentionSeconds) || isToken(deadLetterRetentionSeconds)) return;
  if (deadLetterRetentionSeconds < queueRetentionSeconds) {
    fail(
      'DeadLetterRetentionTooShort',
      `deadLetterRetentionPeriod (${deadLetterRetentionSeconds} s) is shorter than retentionPeriod ` +
        `(${queueRetentionSeconds} s): SQS keeps a standard message's original enqueue time when it moves to ` +
        'the DLQ, so it could expire there before anyone looks. Make the DLQ retention at least as long.',
    );
  }
}

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
    input.reservedConcurrency === undefined ? reservedDefault : deriveReservedConcurrency(maxConcurrency, input.reservedConcurrency, isToken);

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
