/** The cap on executions: maxConcurrency, a downstream budget, or provisioned pollers; and reserved concurrency. */
import {
  INVOKES_PER_POLLER,
  MAX_EVENT_SOURCE_CONCURRENCY,
  MAX_MAXIMUM_PROVISIONED_POLLERS,
  MAX_MINIMUM_PROVISIONED_POLLERS,
  MIN_EVENT_SOURCE_CONCURRENCY,
  MIN_PROVISIONED_POLLERS,
  NO_TOKENS,
  fail,
  requireInteger,
  type IsToken,
} from './limits';

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
export function deriveReservedConcurrency(
  maxConcurrency: number,
  reservedConcurrency?: number,
  isToken: IsToken = NO_TOKENS,
  provisioned = false,
): number {
  if (reservedConcurrency === undefined) return maxConcurrency;
  requireInteger('reservedConcurrency', reservedConcurrency, 1, Number.MAX_SAFE_INTEGER, isToken);
  if (!isToken(reservedConcurrency) && !isToken(maxConcurrency) && reservedConcurrency < maxConcurrency) {
    fail(
      'ReservedConcurrencyBelowCap',
      (provisioned
        ? `reservedConcurrency (${reservedConcurrency}) is below the ${maxConcurrency} concurrent invokes the provisioned ` +
          `pollers can drive (10 x maximumPollers): Lambda would throttle them and throttled messages count as receives ` +
          `toward the DLQ. Set reservedConcurrency >= ${maxConcurrency}, or lower maximumPollers.`
        : `reservedConcurrency (${reservedConcurrency}) is below the event source's maxConcurrency ` +
          `(${maxConcurrency}): Lambda would throttle the SQS poller and throttled messages count as receives ` +
          `toward the DLQ. Set reservedConcurrency >= ${maxConcurrency}, or lower maxConcurrency.`),
    );
  }
  return reservedConcurrency;
}
