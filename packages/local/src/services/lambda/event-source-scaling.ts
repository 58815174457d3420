/**
 * How many invocations an SQS event source mapping may run at once, as a pure model of Lambda's poller
 * scaling (no I/O, no timers: the runner feeds it a clock and what it saw). Three modes:
 *
 * - `capped`: ScalingConfig.MaximumConcurrency and/or reserved concurrency set. The cap applies at once.
 * - `standard` (no cap): Lambda's documented scale-up for SQS (services-sqs-scaling): 5 concurrent
 *   invokes when messages appear, up to 300 more per minute while messages are still available, at most
 *   1,250 per mapping; back towards 5 when the queue is idle.
 * - `provisioned` (ProvisionedPollerConfig): MinimumPollers stay warm, each poller drives up to 10
 *   concurrent invokes; pollers are added while messages are still available, at up to 1,000 concurrent
 *   invokes per minute (AWS launch post, 2025-11-14), up to MaximumPollers; back to the minimum when idle.
 *
 * Locally every mode also stops at `localCeiling` (default 150, `FLOODGATE_LOCAL_MAX_CONCURRENCY`):
 * high enough that an unbounded consumer visibly overruns a 100-connection database, low enough that
 * the child-process environments fit in a developer machine's memory.
 */

/** The figures Lambda documents for SQS event source mappings. */
export const LAMBDA_SQS_SCALING = {
  /** Standard mode: concurrent invokes when messages first appear. */
  initialConcurrency: 5,
  /** Standard mode: concurrent invokes added per minute while messages are available. */
  scaleUpPerMinute: 300,
  /** Standard mode: most concurrent invokes per mapping. */
  maxConcurrency: 1250,
  /** Provisioned mode: concurrent invokes one poller drives. */
  invokesPerPoller: 10,
  /** Provisioned mode: concurrent invokes added per minute while messages are available. */
  provisionedScaleUpPerMinute: 1000,
  /** ProvisionedPollerConfig defaults for SQS. */
  defaultMinimumPollers: 2,
  defaultMaximumPollers: 200,
} as const;

/** Default local ceiling on concurrent invocations per mapping. */
export const DEFAULT_LOCAL_CONCURRENCY_CEILING = 150;
/** Environment variable that overrides the local ceiling. */
export const LOCAL_CEILING_ENV = 'FLOODGATE_LOCAL_MAX_CONCURRENCY';

export class ScalingConfigError extends Error {
  override readonly name = 'ScalingConfigError';
}

export interface ProvisionedPollerConfig {
  /** 2..200. @default 2 */
  readonly minimumPollers?: number;
  /** 2..2000 (CloudFormation), >= minimumPollers. @default 200 */
  readonly maximumPollers?: number;
}

export interface ScalingSettings {
  readonly maximumConcurrency?: number;
  readonly reservedConcurrency?: number;
  readonly provisionedPollerConfig?: ProvisionedPollerConfig;
  /** @default DEFAULT_LOCAL_CONCURRENCY_CEILING or FLOODGATE_LOCAL_MAX_CONCURRENCY */
  readonly localCeiling?: number;
}

export type ScalingMode = 'capped' | 'standard' | 'provisioned';

/** What the runner observed since the previous `observe` call. */
export interface ScalingObservation {
  /** Clock reading, ms (any monotonic origin). */
  readonly now: number;
  /** Every allowed slot was busy (invoking or receiving) at some point in the period. */
  readonly saturated: boolean;
  /** Some receive returned messages in the period (the queue still has work). */
  readonly messagesSeen: boolean;
}

export interface ScalingModel {
  readonly mode: ScalingMode;
  /** Concurrent invocations allowed now (>= 0; 0 when reserved concurrency is 0). */
  limit(): number;
  /** Provisioned mode: event pollers now; otherwise undefined. */
  pollers(): number | undefined;
  /** Most this model can ever allow (sizes the Lambda host's environment pool). */
  readonly ceiling: number;
  observe(o: ScalingObservation): void;
}

/** The local ceiling from the option, else the environment variable, else 150. */
export function localConcurrencyCeiling(explicit?: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = explicit ?? (env[LOCAL_CEILING_ENV] !== undefined && env[LOCAL_CEILING_ENV] !== '' ? Number(env[LOCAL_CEILING_ENV]) : DEFAULT_LOCAL_CONCURRENCY_CEILING);
  if (!Number.isInteger(raw) || raw < 1) throw new ScalingConfigError(`local concurrency ceiling must be a positive integer (got ${String(explicit ?? env[LOCAL_CEILING_ENV])}); set ${LOCAL_CEILING_ENV} to e.g. 150`);
  return raw;
}

/** Checks ProvisionedPollerConfig as Lambda does for SQS, and its exclusivity with MaximumConcurrency. */
export function validateScalingSettings(s: ScalingSettings, where = 'event source mapping'): void {
  const p = s.provisionedPollerConfig;
  if (s.maximumConcurrency !== undefined && (!Number.isInteger(s.maximumConcurrency) || s.maximumConcurrency < 2 || s.maximumConcurrency > 1000)) {
    throw new ScalingConfigError(`${where}: ScalingConfig.MaximumConcurrency must be an integer 2..1000 (got ${s.maximumConcurrency})`);
  }
  if (s.reservedConcurrency !== undefined && (!Number.isInteger(s.reservedConcurrency) || s.reservedConcurrency < 0)) {
    throw new ScalingConfigError(`${where}: reserved concurrency must be an integer >= 0 (got ${s.reservedConcurrency})`);
  }
  if (!p) return;
  if (s.maximumConcurrency !== undefined) {
    throw new ScalingConfigError(`${where}: ProvisionedPollerConfig and ScalingConfig.MaximumConcurrency are mutually exclusive; remove one of them`);
  }
  const min = p.minimumPollers ?? LAMBDA_SQS_SCALING.defaultMinimumPollers;
  const max = p.maximumPollers ?? LAMBDA_SQS_SCALING.defaultMaximumPollers;
  if (!Number.isInteger(min) || min < 2 || min > 200) throw new ScalingConfigError(`${where}: ProvisionedPollerConfig.MinimumPollers must be an integer 2..200 for SQS (got ${min})`);
  if (!Number.isInteger(max) || max < 2 || max > 2000) throw new ScalingConfigError(`${where}: ProvisionedPollerConfig.MaximumPollers must be an integer 2..2000 (got ${max})`);
  if (max < min) throw new ScalingConfigError(`${where}: ProvisionedPollerConfig.MaximumPollers (${max}) is below MinimumPollers (${min})`);
}

/** min(MaximumConcurrency, reserved) where set, else undefined. */
function userCap(s: ScalingSettings): number | undefined {
  const caps = [s.maximumConcurrency, s.reservedConcurrency].filter((x): x is number => x !== undefined);
  return caps.length ? Math.min(...caps) : undefined;
}

export function scalingMode(s: ScalingSettings): ScalingMode {
  if (s.provisionedPollerConfig) return 'provisioned';
  return userCap(s) !== undefined ? 'capped' : 'standard';
}

/**
 * Most concurrent invocations a mapping with these settings can reach locally (what the Lambda host
 * must be able to run for it).
 */
export function scalingCeiling(s: ScalingSettings): number {
  const local = localConcurrencyCeiling(s.localCeiling);
  const cap = userCap(s);
  switch (scalingMode(s)) {
    case 'capped':
      return Math.min(cap!, local);
    case 'standard':
      return Math.min(LAMBDA_SQS_SCALING.maxConcurrency, local);
    case 'provisioned': {
      const max = (s.provisionedPollerConfig!.maximumPollers ?? LAMBDA_SQS_SCALING.defaultMaximumPollers) * LAMBDA_SQS_SCALING.invokesPerPoller;
      return Math.min(max, cap ?? max, local);
    }
  }
}

export function createScalingModel(settings: ScalingSettings, now: number): ScalingModel {
  validateScalingSettings(settings);
  const mode = scalingMode(settings);
  const ceiling = scalingCeiling(settings);
  const cap = userCap(settings);
  const { initialConcurrency, scaleUpPerMinute, invokesPerPoller, provisionedScaleUpPerMinute } = LAMBDA_SQS_SCALING;
  const minPollers = settings.provisionedPollerConfig?.minimumPollers ?? LAMBDA_SQS_SCALING.defaultMinimumPollers;
  const maxPollers = settings.provisionedPollerConfig?.maximumPollers ?? LAMBDA_SQS_SCALING.defaultMaximumPollers;
  // Fractional, so that short observation periods add up exactly to the per-minute rate.
  let concurrency = mode === 'standard' ? Math.min(initialConcurrency, ceiling) : mode === 'provisioned' ? minPollers * invokesPerPoller : ceiling;
  let pollers = minPollers;
  let last = now;

  return {
    mode,
    ceiling,
    limit() {
      if (mode === 'provisioned') return Math.min(pollers * invokesPerPoller, cap ?? Infinity, ceiling);
      return Math.min(Math.floor(concurrency), ceiling);
    },
    pollers() {
      return mode === 'provisioned' ? pollers : undefined;
    },
    observe(o) {
      const dtMin = Math.max(0, o.now - last) / 60_000;
      last = o.now;
      if (mode === 'capped') return;
      const rate = mode === 'standard' ? scaleUpPerMinute : provisionedScaleUpPerMinute;
      const floor = mode === 'standard' ? Math.min(initialConcurrency, ceiling) : minPollers * invokesPerPoller;
      const top = mode === 'standard' ? ceiling : maxPollers * invokesPerPoller;
      // Scale up only while the work outruns what is allowed; scale down only when the queue is idle
      // (nothing received while slots were free: a saturated period without receives is not idle).
      // The scale-down rate is a local choice (Lambda documents only that it scales back).
      if (o.saturated && o.messagesSeen) concurrency = Math.min(top, concurrency + rate * dtMin);
      else if (!o.messagesSeen && !o.saturated) concurrency = Math.max(floor, concurrency - rate * dtMin);
      if (mode === 'provisioned') pollers = Math.max(minPollers, Math.min(maxPollers, Math.ceil(concurrency / invokesPerPoller - 1e-9)));
    },
  };
}
