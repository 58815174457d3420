/**
 * What the console shows, read the way a user would read it: queues, topics and buckets through the
 * endpoint's own AWS APIs (signed as the local admin), functions, mappings and rules from the attached
 * stack (the same objects the Lambda and EventBridge APIs answer from). Dead-lettered messages are read
 * without receiving them (fauxqs' inspection route on the SQS emulator), so looking changes nothing: no
 * receive count goes up, nothing turns in flight.
 */
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetTopicAttributesCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListBucketsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DLQ_ATTRIBUTES } from '@floodgate/contract';
import { LOCAL_CREDENTIALS } from '../core/identity.js';
import type { AttachedStack, GatewayContext } from '../gateway/types.js';
import { mappingUuid } from '../services/lambda/handler.js';

export interface DeadLetteredMessage {
  readonly messageId: string;
  readonly sentAt: string;
  readonly receiveCount: number;
  /** The runtime's ErrorClass / ErrorKind / ErrorReason attributes, when it dead-lettered the message. */
  readonly errorClass?: string;
  readonly errorKind?: string;
  readonly errorReason?: string;
  /** Every string attribute of the message (a message dead-lettered by maxReceiveCount has none of the runtime's). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The body, cut at 500 characters. */
  readonly body: string;
}

export interface QueueView {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  /** ApproximateNumberOfMessages. */
  readonly visible: number;
  /** ApproximateNumberOfMessagesNotVisible (received, not yet deleted). */
  readonly inFlight: number;
  readonly delayed: number;
  /** The name of this queue's dead-letter queue (its RedrivePolicy), if any. */
  readonly deadLetterQueue?: string;
  /** For a queue with a DLQ: the messages in it now (visible + in flight). For a DLQ: its own. */
  readonly deadLettered?: number;
  /** The queues whose RedrivePolicy names this one. */
  readonly sourceQueues: readonly string[];
  /** A DLQ's messages (the first 50), read without receiving them; absent when the endpoint cannot show them. */
  readonly messages?: readonly DeadLetteredMessage[];
  /** The DLQ's most recent message move task (StartMessageMoveTask), if any. */
  readonly redrive?: { readonly status: string; readonly moved: number; readonly toMove?: number; readonly failureReason?: string };
}

export interface FunctionView {
  readonly name: string;
  readonly logicalId: string;
  /** Executions running now (every caller: mappings, Invoke, the event queue). */
  readonly inFlight: number;
  /** ReservedConcurrentExecutions; undefined when none is reserved. */
  readonly reservedConcurrency?: number;
  readonly invocations: number;
  readonly errors: number;
  readonly timeouts: number;
  /** The most recent error lines of its log group (newest last). */
  readonly recentErrors: readonly LogLine[];
  /** The last lines of its log group (newest last). */
  readonly logTail: readonly LogLine[];
}

export interface LogLine {
  readonly time: string;
  readonly message: string;
}

export interface MappingView {
  readonly uuid: string;
  readonly logicalId: string;
  readonly functionName: string;
  readonly queue: string;
  /** Enabled, Disabling or Disabled, as GetEventSourceMapping answers. */
  readonly state: string;
  readonly enabled: boolean;
  readonly batchSize: number;
  readonly maximumConcurrency?: number;
  /** Concurrent invocations allowed now. */
  readonly cap: number;
  readonly inFlight: number;
  readonly invocations: number;
  readonly errors: number;
  readonly messagesFailed: number;
}

export interface TopicView {
  readonly name: string;
  readonly arn: string;
  readonly subscriptions: number;
}

export interface RuleView {
  readonly name: string;
  readonly bus: string;
  readonly state: string;
  readonly schedule?: string;
  readonly triggered: number;
  readonly invocations: number;
  readonly failed: number;
}

export interface BucketView {
  readonly name: string;
  readonly objects: number;
  /** More than 1,000 objects: `objects` is a lower bound. */
  readonly more: boolean;
}

export interface ConsoleState {
  readonly at: string;
  readonly endpoint: string;
  readonly stack?: { readonly name: string; readonly region: string };
  readonly queues: readonly QueueView[];
  readonly functions: readonly FunctionView[];
  readonly mappings: readonly MappingView[];
  readonly topics: readonly TopicView[];
  readonly rules: readonly RuleView[];
  readonly buckets: readonly BucketView[];
  /** What could not be read, said by name (e.g. an endpoint that cannot show messages without receiving them). */
  readonly notes: readonly string[];
}

const queueNameOfArn = (arn: string): string => arn.split(':').pop() ?? arn;
const LOG_TAIL = 30;
const RECENT_ERRORS = 8;
const MESSAGES_SHOWN = 50;

/** A log line that reports a failure: Lambda's ERROR / timeout lines, a JSON log at level ERROR or naming an errorType / errorClass (the runtime's record failures). */
export function isErrorLine(message: string): boolean {
  if (/\tERROR\t|Task timed out|Runtime\.\w+Error|"error(Type|Class)"\s*:/.test(message)) return true;
  const m = /"level"\s*:\s*"(\w+)"/i.exec(message);
  return m !== null && /^(error|critical|fatal)$/i.test(m[1]!);
}

/** The runtime's attributes of a message, from SQS's wire shape (`{DataType, StringValue}`). */
export function deadLetteredMessage(m: { messageId: string; body: string; sentTimestamp: number; approximateReceiveCount: number; messageAttributes?: Record<string, { StringValue?: string }> }): DeadLetteredMessage {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.messageAttributes ?? {})) if (v.StringValue !== undefined) attributes[k] = v.StringValue;
  const [errorClass, errorKind, errorReason] = [DLQ_ATTRIBUTES[0], DLQ_ATTRIBUTES[1], DLQ_ATTRIBUTES[2]].map((k) => attributes[k]);
  return {
    messageId: m.messageId,
    sentAt: new Date(m.sentTimestamp).toISOString(),
    receiveCount: m.approximateReceiveCount,
    ...(errorClass !== undefined ? { errorClass } : {}),
    ...(errorKind !== undefined ? { errorKind } : {}),
    ...(errorReason !== undefined ? { errorReason } : {}),
    attributes,
    body: m.body.length > 500 ? `${m.body.slice(0, 500)}…` : m.body,
  };
}

interface InspectedQueue {
  messages: { ready: InspectedMessage[]; delayed: InspectedMessage[]; inflight: Array<{ message: InspectedMessage }> };
}
type InspectedMessage = Parameters<typeof deadLetteredMessage>[0];

export interface ConsoleReader {
  read(): Promise<ConsoleState>;
  readonly sqs: SQSClient;
  destroy(): void;
}

export function createConsoleReader(ctx: GatewayContext): ConsoleReader {
  let clients: { sqs: SQSClient; sns: SNSClient; s3: S3Client } | undefined;
  const sdk = () => {
    if (!clients) {
      const common = { region: ctx.region, endpoint: ctx.url(), credentials: LOCAL_CREDENTIALS };
      clients = { sqs: new SQSClient(common), sns: new SNSClient(common), s3: new S3Client({ ...common, forcePathStyle: true }) };
    }
    return clients;
  };

  /** fauxqs' non-destructive inspection; undefined when the SQS upstream has no such route (moto, ...). */
  const inspect = async (name: string): Promise<InspectedQueue | undefined> => {
    const upstream = ctx.upstreams.sqs;
    if (!upstream) return undefined;
    try {
      const res = await fetch(`${upstream.replace(/\/$/, '')}/_fauxqs/queues/${encodeURIComponent(name)}`, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) return undefined;
      const j = (await res.json()) as Partial<InspectedQueue>;
      return j.messages ? (j as InspectedQueue) : undefined;
    } catch {
      return undefined;
    }
  };

  const readQueues = async (notes: string[]): Promise<QueueView[]> => {
    const { sqs } = sdk();
    const urls: string[] = [];
    let token: string | undefined;
    do {
      const page = await sqs.send(new ListQueuesCommand({ MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
      urls.push(...(page.QueueUrls ?? []));
      token = page.NextToken;
    } while (token);
    const raw = await Promise.all(
      urls.map(async (url) => {
        const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
        let dlqArn: string | undefined;
        if (a.RedrivePolicy) {
          try {
            dlqArn = (JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
          } catch {
            dlqArn = undefined;
          }
        }
        return { url, name: url.split('/').pop()!, arn: a.QueueArn ?? '', visible: Number(a.ApproximateNumberOfMessages ?? 0), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0), delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0), dlqArn };
      }),
    );
    const byArn = new Map(raw.map((q) => [q.arn, q]));
    let peekRefused = false;
    const views = await Promise.all(
      raw.map(async (q): Promise<QueueView> => {
        const sources = raw.filter((s) => s.dlqArn === q.arn).map((s) => s.name);
        const dlq = q.dlqArn ? byArn.get(q.dlqArn) : undefined;
        const base = {
          name: q.name,
          url: q.url,
          arn: q.arn,
          visible: q.visible,
          inFlight: q.inFlight,
          delayed: q.delayed,
          sourceQueues: sources,
          ...(q.dlqArn ? { deadLetterQueue: queueNameOfArn(q.dlqArn), deadLettered: dlq ? dlq.visible + dlq.inFlight : 0 } : {}),
        };
        if (sources.length === 0) return base;
        const inspected = await inspect(q.name);
        if (!inspected) peekRefused = true;
        const all = inspected ? [...inspected.messages.ready, ...inspected.messages.delayed, ...inspected.messages.inflight.map((x) => x.message)] : [];
        let redrive: QueueView['redrive'];
        try {
          const tasks = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: q.arn, MaxResults: 1 }))).Results ?? [];
          const t = tasks[0];
          if (t) redrive = { status: t.Status ?? 'UNKNOWN', moved: t.ApproximateNumberOfMessagesMoved ?? 0, ...(t.ApproximateNumberOfMessagesToMove !== undefined ? { toMove: t.ApproximateNumberOfMessagesToMove } : {}), ...(t.FailureReason ? { failureReason: t.FailureReason } : {}) };
        } catch {
          redrive = undefined;
        }
        return {
          ...base,
          deadLettered: q.visible + q.inFlight,
          ...(inspected ? { messages: all.slice(0, MESSAGES_SHOWN).map(deadLetteredMessage) } : {}),
          ...(redrive ? { redrive } : {}),
        };
      }),
    );
    if (peekRefused) notes.push('dead-lettered messages cannot be shown: the SQS endpoint has no non-destructive inspection (fauxqs has one; an external endpoint such as moto does not), and receiving them would change them');
    return views.sort((a, b) => a.name.localeCompare(b.name));
  };

  const readTopics = async (): Promise<TopicView[]> => {
    const { sns } = sdk();
    const arns: string[] = [];
    let token: string | undefined;
    do {
      const page = await sns.send(new ListTopicsCommand(token ? { NextToken: token } : {}));
      arns.push(...(page.Topics ?? []).map((t) => t.TopicArn!).filter(Boolean));
      token = page.NextToken;
    } while (token);
    return Promise.all(
      arns.map(async (arn) => {
        const a = (await sns.send(new GetTopicAttributesCommand({ TopicArn: arn }))).Attributes ?? {};
        return { name: arn.split(':').pop()!, arn, subscriptions: Number(a.SubscriptionsConfirmed ?? 0) };
      }),
    );
  };

  const readBuckets = async (): Promise<BucketView[]> => {
    const { s3 } = sdk();
    const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    return Promise.all(
      buckets.map(async (b) => {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: b.Name!, MaxKeys: 1000 }));
        return { name: b.Name!, objects: page.KeyCount ?? 0, more: page.IsTruncated === true };
      }),
    );
  };

  const fromStack = (stack: AttachedStack): Pick<ConsoleState, 'functions' | 'mappings' | 'rules'> => {
    const functions = stack.deployment.functions.map((fn): FunctionView => {
      const stats = stack.hosts.get(fn.logicalId)?.stats();
      const concurrency = stack.functionConcurrency?.get(fn.logicalId);
      const events = stack.logStore?.events(fn.logGroupName ?? `/aws/lambda/${fn.functionName}`) ?? [];
      const line = (e: { timestamp: number; message: string }): LogLine => ({ time: new Date(e.timestamp).toISOString(), message: e.message.replace(/\s+$/, '') });
      const reserved = concurrency ? concurrency.reserved : fn.reservedConcurrency;
      return {
        name: fn.functionName,
        logicalId: fn.logicalId,
        inFlight: concurrency?.inUse ?? 0,
        ...(reserved !== undefined ? { reservedConcurrency: reserved } : {}),
        invocations: stats?.invocations ?? 0,
        errors: stats?.errors ?? 0,
        timeouts: stats?.timeouts ?? 0,
        recentErrors: events.filter((e) => isErrorLine(e.message)).slice(-RECENT_ERRORS).map(line),
        logTail: events.slice(-LOG_TAIL).map(line),
      };
    });
    const mappings = stack.deployment.eventSourceMappings.map((m): MappingView => {
      const runner = stack.runners.get(m.logicalId);
      const settings = runner?.settings();
      const stats = runner?.stats();
      const fn = stack.deployment.functions.find((f) => f.logicalId === m.functionLogicalId);
      return {
        uuid: mappingUuid(stack.deployment.resources.get(m.logicalId)?.ref ?? m.logicalId),
        logicalId: m.logicalId,
        functionName: fn?.functionName ?? m.functionLogicalId,
        queue: queueNameOfArn(m.queueArn),
        state: runner?.state() ?? 'Disabled',
        enabled: settings?.enabled ?? false,
        batchSize: settings?.batchSize ?? m.batchSize,
        ...(settings?.maximumConcurrency !== undefined ? { maximumConcurrency: settings.maximumConcurrency } : {}),
        cap: runner?.concurrencyCap ?? 0,
        inFlight: runner?.inFlight ?? 0,
        invocations: stats?.invocations ?? 0,
        errors: stats?.errors ?? 0,
        messagesFailed: stats?.messagesFailed ?? 0,
      };
    });
    const ruleStates = stack.events?.rules() ?? [];
    const rules = (stack.events?.stats() ?? []).map((r): RuleView => {
      const schedule = ruleStates.find((x) => x.name === r.name && x.bus === r.bus)?.scheduleExpression;
      return { name: r.name, bus: r.bus, state: r.state, ...(schedule ? { schedule } : {}), triggered: r.triggeredRules, invocations: r.invocations, failed: r.failedInvocations };
    });
    return { functions, mappings, rules };
  };

  const settle = async <T>(what: string, p: Promise<T>, fallback: T, notes: string[]): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      notes.push(`${what} could not be read: ${err instanceof Error ? err.message : String(err)}`);
      return fallback;
    }
  };

  return {
    get sqs() {
      return sdk().sqs;
    },
    async read() {
      const notes: string[] = [];
      const stack = ctx.stack();
      const served = ctx.signingNames();
      const [queues, topics, buckets] = await Promise.all([
        served.includes('sqs') ? settle('queues', readQueues(notes), [], notes) : [],
        served.includes('sns') ? settle('topics', readTopics(), [], notes) : [],
        served.includes('s3') ? settle('buckets', readBuckets(), [], notes) : [],
      ]);
      if (!stack) notes.push('no stack is attached yet (it is being deployed)');
      return {
        at: new Date().toISOString(),
        endpoint: ctx.url(),
        ...(stack ? { stack: { name: stack.stackName, region: stack.region } } : {}),
        queues,
        topics,
        buckets,
        ...(stack ? fromStack(stack) : { functions: [], mappings: [], rules: [] }),
        notes,
      };
    },
    destroy() {
      clients?.sqs.destroy();
      clients?.sns.destroy();
      clients?.s3.destroy();
      clients = undefined;
    },
  };
}
