/**
 * S3 event notifications, the pure part: a bucket's NotificationConfiguration (from the S3 API's XML,
 * or from a template's `AWS::S3::Bucket` NotificationConfiguration), which configurations an event
 * matches (event-name wildcards such as `s3:ObjectCreated:*`, key prefix/suffix filters), and the event
 * record exactly as S3 sends it (eventVersion 2.1, key URL-encoded with spaces as `+`, eTag, size,
 * sequencer). Delivery is in notification-dispatch.ts.
 */

/** Text for an XML element (this module is pure and imported by provisioners, so it takes no gateway module). */
const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

export type DestinationKind = 'queue' | 'topic' | 'lambda';

export interface NotificationTarget {
  readonly kind: DestinationKind;
  readonly id: string;
  /** Queue, topic or function ARN. */
  readonly arn: string;
  /** `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, ... */
  readonly events: readonly string[];
  readonly prefix?: string;
  readonly suffix?: string;
}

export interface BucketNotificationConfiguration {
  readonly targets: readonly NotificationTarget[];
  /** `<EventBridgeConfiguration/>` was present (not emulated: refused by the API). */
  readonly eventBridge: boolean;
}

export class NotificationConfigurationError extends Error {
  override readonly name = 'NotificationConfigurationError';
  constructor(
    readonly code: 'InvalidArgument' | 'MalformedXML' | 'NotImplemented',
    message: string,
  ) {
    super(message);
  }
}

/** Event types S3 sends (the ones the local stack emits are a subset; configuring any of them is valid). */
const EVENT_NAME = /^s3:(ObjectCreated|ObjectRemoved|ObjectRestore|ReducedRedundancyLostObject|Replication|LifecycleExpiration|LifecycleTransition|IntelligentTiering|ObjectTagging|ObjectAcl)(:[A-Za-z*]+)*$/;

const XML_ELEMENTS: Record<DestinationKind, { block: string; arn: string }> = {
  queue: { block: 'QueueConfiguration', arn: 'Queue' },
  topic: { block: 'TopicConfiguration', arn: 'Topic' },
  lambda: { block: 'CloudFunctionConfiguration', arn: 'CloudFunction' },
};

const unXml = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

function validated(t: NotificationTarget): NotificationTarget {
  if (!t.arn) throw new NotificationConfigurationError('InvalidArgument', `A ${t.kind} configuration needs a destination ARN`);
  if (t.events.length === 0) throw new NotificationConfigurationError('InvalidArgument', `The ${t.kind} configuration for ${t.arn} names no event`);
  for (const e of t.events) if (!EVENT_NAME.test(e)) throw new NotificationConfigurationError('InvalidArgument', `The event is not supported for notifications: ${e}`);
  return t;
}

function filterFrom(rules: ReadonlyArray<{ name: string; value: string }>): { prefix?: string; suffix?: string } {
  const out: { prefix?: string; suffix?: string } = {};
  for (const r of rules) {
    const n = r.name.toLowerCase();
    if (n !== 'prefix' && n !== 'suffix') throw new NotificationConfigurationError('InvalidArgument', `filter rule name must be either prefix or suffix (got ${r.name})`);
    if (out[n] !== undefined) throw new NotificationConfigurationError('InvalidArgument', `Cannot specify more than one ${n} rule in a filter.`);
    out[n] = r.value;
  }
  return out;
}

let generated = 0;
const newId = (): string => `local-${Date.now().toString(36)}-${(generated++).toString(36)}`;

/** PutBucketNotificationConfiguration's XML body. */
export function parseNotificationXml(xml: string): BucketNotificationConfiguration {
  if (!/<NotificationConfiguration[\s>/]/.test(xml)) throw new NotificationConfigurationError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  const targets: NotificationTarget[] = [];
  for (const kind of ['queue', 'topic', 'lambda'] as const) {
    const { block, arn } = XML_ELEMENTS[kind];
    for (const m of xml.matchAll(new RegExp(`<${block}>([\\s\\S]*?)</${block}>`, 'g'))) {
      const body = m[1]!;
      const one = (tag: string): string | undefined => {
        const v = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(body)?.[1];
        return v === undefined ? undefined : unXml(v.trim());
      };
      const rules = [...body.matchAll(/<FilterRule>([\s\S]*?)<\/FilterRule>/g)].map((r) => ({
        name: unXml(/<Name>([\s\S]*?)<\/Name>/.exec(r[1]!)?.[1] ?? ''),
        value: unXml(/<Value>([\s\S]*?)<\/Value>/.exec(r[1]!)?.[1] ?? ''),
      }));
      targets.push(validated({ kind, id: one('Id') || newId(), arn: one(arn) ?? '', events: [...body.matchAll(/<Event>([\s\S]*?)<\/Event>/g)].map((e) => unXml(e[1]!.trim())), ...filterFrom(rules) }));
    }
  }
  return { targets, eventBridge: /<EventBridgeConfiguration\s*\/?>/.test(xml) };
}

/** GetBucketNotificationConfiguration's XML answer. */
export function notificationXml(config: BucketNotificationConfiguration | undefined): string {
  const parts: string[] = [];
  for (const t of config?.targets ?? []) {
    const { block, arn } = XML_ELEMENTS[t.kind];
    const rules = (['prefix', 'suffix'] as const)
      .filter((n) => t[n] !== undefined)
      .map((n) => `<FilterRule><Name>${n}</Name><Value>${escapeXml(t[n]!)}</Value></FilterRule>`)
      .join('');
    parts.push(`<${block}><Id>${escapeXml(t.id)}</Id><${arn}>${escapeXml(t.arn)}</${arn}>${t.events.map((e) => `<Event>${escapeXml(e)}</Event>`).join('')}${rules ? `<Filter><S3Key>${rules}</S3Key></Filter>` : ''}</${block}>`);
  }
  if (config?.eventBridge) parts.push('<EventBridgeConfiguration></EventBridgeConfiguration>');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</NotificationConfiguration>`;
}

interface ApiShapeConfig {
  readonly Id?: string;
  readonly Events?: readonly string[];
  readonly Filter?: { readonly Key?: { readonly FilterRules?: ReadonlyArray<{ readonly Name?: string; readonly Value?: string }> } };
}

/**
 * The API's JSON shape (`QueueConfigurations[].QueueArn`, `TopicConfigurations[].TopicArn`,
 * `LambdaFunctionConfigurations[].LambdaFunctionArn`, `Filter.Key.FilterRules`): what CDK's
 * Custom::S3BucketNotifications carries and the SDK sends.
 */
export function fromApiShape(c: Readonly<Record<string, unknown>>): BucketNotificationConfiguration {
  const targets: NotificationTarget[] = [];
  const take = (kind: DestinationKind, list: unknown, arnKey: string): void => {
    for (const x of (list as Array<ApiShapeConfig & Record<string, unknown>> | undefined) ?? []) {
      const rules = (x.Filter?.Key?.FilterRules ?? []).map((r) => ({ name: String(r.Name ?? ''), value: String(r.Value ?? '') }));
      targets.push(validated({ kind, id: x.Id || newId(), arn: String(x[arnKey] ?? ''), events: (x.Events ?? []).map(String), ...filterFrom(rules) }));
    }
  };
  take('queue', c.QueueConfigurations, 'QueueArn');
  take('topic', c.TopicConfigurations, 'TopicArn');
  take('lambda', c.LambdaFunctionConfigurations, 'LambdaFunctionArn');
  return { targets, eventBridge: c.EventBridgeConfiguration !== undefined };
}

/** The API shape of a configuration (for the SDK's PutBucketNotificationConfiguration). */
export function toApiShape(config: BucketNotificationConfiguration): Record<string, unknown> {
  const filter = (t: NotificationTarget) => {
    const rules = (['prefix', 'suffix'] as const).filter((n) => t[n] !== undefined).map((n) => ({ Name: n, Value: t[n]! }));
    return rules.length ? { Filter: { Key: { FilterRules: rules } } } : {};
  };
  const of = (kind: DestinationKind, arnKey: string) => config.targets.filter((t) => t.kind === kind).map((t) => ({ Id: t.id, [arnKey]: t.arn, Events: [...t.events], ...filter(t) }));
  return {
    QueueConfigurations: of('queue', 'QueueArn'),
    TopicConfigurations: of('topic', 'TopicArn'),
    LambdaFunctionConfigurations: of('lambda', 'LambdaFunctionArn'),
    ...(config.eventBridge ? { EventBridgeConfiguration: {} } : {}),
  };
}

interface CfnFilter {
  readonly S3Key?: { readonly Rules?: ReadonlyArray<{ readonly Name?: string; readonly Value?: string }> };
}

/** `AWS::S3::Bucket` NotificationConfiguration (CloudFormation's shape: Event, Queue/Topic/Function, Filter.S3Key.Rules). */
export function fromTemplateShape(c: Readonly<Record<string, unknown>>): BucketNotificationConfiguration {
  const targets: NotificationTarget[] = [];
  const take = (kind: DestinationKind, list: unknown, arnKey: string): void => {
    for (const x of (list as Array<{ Event?: string; Filter?: CfnFilter } & Record<string, unknown>> | undefined) ?? []) {
      const rules = (x.Filter?.S3Key?.Rules ?? []).map((r) => ({ name: String(r.Name ?? ''), value: String(r.Value ?? '') }));
      targets.push(validated({ kind, id: newId(), arn: String(x[arnKey] ?? ''), events: x.Event ? [String(x.Event)] : [], ...filterFrom(rules) }));
    }
  };
  take('queue', c.QueueConfigurations, 'Queue');
  take('topic', c.TopicConfigurations, 'Topic');
  take('lambda', c.LambdaConfigurations, 'Function');
  return { targets, eventBridge: c.EventBridgeConfiguration !== undefined && (c.EventBridgeConfiguration as { EventBridgeEnabled?: unknown }).EventBridgeEnabled !== false };
}

/** Whether a configured event name (`s3:ObjectCreated:*`) covers an emitted one (`ObjectCreated:Put`). */
export function eventMatches(configured: string, eventName: string): boolean {
  const c = configured.replace(/^s3:/, '');
  if (c.endsWith(':*')) return eventName.startsWith(c.slice(0, -1));
  return c === eventName;
}

/** The configurations an event on `key` goes to. */
export function matchingTargets(config: BucketNotificationConfiguration | undefined, eventName: string, key: string): NotificationTarget[] {
  return (config?.targets ?? []).filter(
    (t) => t.events.some((e) => eventMatches(e, eventName)) && (t.prefix === undefined || key.startsWith(t.prefix)) && (t.suffix === undefined || key.endsWith(t.suffix)),
  );
}

/**
 * An object key as S3 writes it in event records: form-URL-encoded (a space is `+`), `/` kept; the
 * characters left alone are those of Java's URLEncoder (letters, digits, `.-*_`).
 */
export function eventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface ObjectEvent {
  /** `ObjectCreated:Put`, `ObjectCreated:Copy`, `ObjectCreated:CompleteMultipartUpload`, `ObjectRemoved:Delete`. */
  readonly eventName: string;
  readonly bucket: string;
  readonly key: string;
  readonly size?: number;
  /** Without quotes. */
  readonly eTag?: string;
  readonly versionId?: string;
  readonly sequencer: string;
  readonly time: Date;
  readonly principalId: string;
  readonly sourceIp: string;
  readonly requestId: string;
}

/** One record of an S3 event notification, as S3 sends it. */
export function s3EventRecord(e: ObjectEvent, configurationId: string, region: string): Record<string, unknown> {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: region,
    eventTime: e.time.toISOString(),
    eventName: e.eventName,
    userIdentity: { principalId: e.principalId },
    requestParameters: { sourceIPAddress: e.sourceIp },
    responseElements: { 'x-amz-request-id': e.requestId, 'x-amz-id-2': Buffer.from(`${e.requestId}/local`).toString('base64') },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId,
      bucket: { name: e.bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${e.bucket}` },
      object: {
        key: eventKey(e.key),
        ...(e.size !== undefined ? { size: e.size } : {}),
        ...(e.eTag !== undefined ? { eTag: e.eTag } : {}),
        ...(e.versionId !== undefined ? { versionId: e.versionId } : {}),
        sequencer: e.sequencer,
      },
    },
  };
}

/** The message S3 sends to a queue when a notification configuration is set. */
export function s3TestEvent(bucket: string, time: Date, requestId: string): Record<string, string> {
  return { Service: 'Amazon S3', Event: 's3:TestEvent', Time: time.toISOString(), Bucket: bucket, RequestId: requestId, HostId: Buffer.from(`${requestId}/local`).toString('base64') };
}

let lastSequencer = 0n;
/** A sequencer: hexadecimal, increasing for every event of this process (S3 orders events on one key by it). */
export function nextSequencer(now: number = Date.now()): string {
  const candidate = BigInt(now) * 1_000_000n;
  lastSequencer = candidate > lastSequencer ? candidate : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(18, '0');
}
