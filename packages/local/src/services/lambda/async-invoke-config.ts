/**
 * A function's asynchronous invocation configuration: EventInvokeConfig (MaximumRetryAttempts,
 * MaximumEventAgeInSeconds, DestinationConfig OnSuccess/OnFailure) and the function's DeadLetterConfig.
 * One parser for the template (AWS::Lambda::EventInvokeConfig) and the API (Put/UpdateFunctionEventInvokeConfig,
 * same field names), one live registry read by the invoker and the destination sender, so an API change
 * applies to the next event.
 */
import { AsyncSettingsError, checkRetrySettings, DEFAULT_ASYNC_RETRY_SETTINGS, type AsyncRetrySettings } from './async-invoke-policy.js';

export { AsyncSettingsError };

/** Where a destination or dead-letter target is delivered. */
export type DestinationKind = 'sqs' | 'sns' | 'lambda' | 'events';

export interface EventInvokeConfig extends AsyncRetrySettings {
  readonly onSuccess?: string;
  readonly onFailure?: string;
  /** Unix seconds (the API's LastModified). */
  readonly lastModified: number;
}

/** EventInvokeConfig's fields as the template and the API write them. */
export interface EventInvokeConfigInput {
  readonly MaximumRetryAttempts?: unknown;
  readonly MaximumEventAgeInSeconds?: unknown;
  readonly DestinationConfig?: { readonly OnSuccess?: { readonly Destination?: unknown }; readonly OnFailure?: { readonly Destination?: unknown } } | null;
}

/** The service a destination ARN names; S3 buckets (on-failure only on AWS) and anything else are refused by name. */
export function destinationKind(arn: string, where: string): DestinationKind {
  const service = /^arn:aws[\w-]*:([a-z0-9-]+):/.exec(arn)?.[1];
  if (service === 'sqs' || service === 'sns' || service === 'lambda' || service === 'events') return service;
  if (service === 's3') throw new AsyncSettingsError(`${where}: ${arn}: S3 bucket destinations are not emulated by the local stack (use SQS, SNS, Lambda or EventBridge)`);
  throw new AsyncSettingsError(`${where}: ${arn} is not an SQS queue, SNS topic, Lambda function or EventBridge event bus ARN`);
}

const int = (v: unknown, name: string, where: string): number | undefined => {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new AsyncSettingsError(`${where}: ${name} must be an integer (got ${JSON.stringify(v)})`);
  return n;
};

const destination = (v: { readonly Destination?: unknown } | undefined, name: string, where: string): string | undefined => {
  const d = v?.Destination;
  if (d === undefined || d === null || d === '') return undefined;
  if (typeof d !== 'string') throw new AsyncSettingsError(`${where}: DestinationConfig.${name}.Destination must be an ARN (got ${JSON.stringify(d)})`);
  destinationKind(d, `${where}: DestinationConfig.${name}`);
  return d;
};

/**
 * Put semantics (the template, PutFunctionEventInvokeConfig): what is left out takes its default.
 * With `base` (UpdateFunctionEventInvokeConfig), what is left out keeps its current value.
 */
export function parseEventInvokeConfig(input: EventInvokeConfigInput, where: string, base?: EventInvokeConfig, nowSeconds = Math.floor(Date.now() / 1000)): EventInvokeConfig {
  const from = base ?? DEFAULT_ASYNC_RETRY_SETTINGS;
  const retries = int(input.MaximumRetryAttempts, 'MaximumRetryAttempts', where) ?? from.maximumRetryAttempts;
  const age = int(input.MaximumEventAgeInSeconds, 'MaximumEventAgeInSeconds', where) ?? from.maximumEventAgeInSeconds;
  checkRetrySettings({ maximumRetryAttempts: retries, maximumEventAgeInSeconds: age }, where);
  const dc = input.DestinationConfig;
  const onSuccess = dc?.OnSuccess !== undefined || !base ? destination(dc?.OnSuccess, 'OnSuccess', where) : base.onSuccess;
  const onFailure = dc?.OnFailure !== undefined || !base ? destination(dc?.OnFailure, 'OnFailure', where) : base.onFailure;
  return { maximumRetryAttempts: retries, maximumEventAgeInSeconds: age, ...(onSuccess ? { onSuccess } : {}), ...(onFailure ? { onFailure } : {}), lastModified: nowSeconds };
}

/** FunctionEventInvokeConfig as the API returns it. */
export function eventInvokeConfigView(config: EventInvokeConfig, functionArn: string): Record<string, unknown> {
  return {
    LastModified: config.lastModified,
    FunctionArn: `${functionArn}:$LATEST`,
    MaximumRetryAttempts: config.maximumRetryAttempts,
    MaximumEventAgeInSeconds: config.maximumEventAgeInSeconds,
    DestinationConfig: { OnSuccess: config.onSuccess ? { Destination: config.onSuccess } : {}, OnFailure: config.onFailure ? { Destination: config.onFailure } : {} },
  };
}

/**
 * The stack's configurations by function logical id (absent = Lambda's defaults, no destinations), with
 * each function's DeadLetterConfig target. `supports` says which destination kinds this stack can
 * deliver (EventBridge only when the endpoint serves it).
 */
export class AsyncInvokeConfigs {
  private readonly configs = new Map<string, EventInvokeConfig>();
  private readonly deadLetters = new Map<string, string>();

  constructor(private readonly supports: (kind: DestinationKind) => boolean) {}

  /** Refuses a destination this stack cannot deliver to, by name. */
  check(config: EventInvokeConfig, where: string): void {
    for (const [name, arn] of [['OnSuccess', config.onSuccess], ['OnFailure', config.onFailure]] as const) {
      if (!arn) continue;
      const kind = destinationKind(arn, where);
      if (!this.supports(kind)) throw new AsyncSettingsError(`${where}: DestinationConfig.${name} ${arn}: EventBridge is not emulated on this stack (no events service on its endpoint), so this destination cannot be delivered`);
    }
  }

  get(logicalId: string): EventInvokeConfig | undefined {
    return this.configs.get(logicalId);
  }
  put(logicalId: string, config: EventInvokeConfig, where: string): void {
    this.check(config, where);
    this.configs.set(logicalId, config);
  }
  delete(logicalId: string): boolean {
    return this.configs.delete(logicalId);
  }
  /** The retry settings in force for a function. */
  settings(logicalId: string): AsyncRetrySettings {
    return this.configs.get(logicalId) ?? DEFAULT_ASYNC_RETRY_SETTINGS;
  }

  setDeadLetterTarget(logicalId: string, targetArn: string | undefined, where: string): void {
    if (!targetArn) return void this.deadLetters.delete(logicalId);
    const kind = destinationKind(targetArn, where);
    if (kind !== 'sqs' && kind !== 'sns') throw new AsyncSettingsError(`${where}: DeadLetterConfig.TargetArn ${targetArn} must be an SQS queue or SNS topic`);
    this.deadLetters.set(logicalId, targetArn);
  }
  deadLetterTarget(logicalId: string): string | undefined {
    return this.deadLetters.get(logicalId);
  }
}
