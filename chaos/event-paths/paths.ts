/**
 * The event paths of the event-path chaos run and what an event looks like on each (pure, no I/O): the
 * handlers read an event's identity from what their path delivers, and the verdict reads it the same way
 * from the messages in the dead-letter and on-failure queues.
 */

/** Paths that end in an SQS queue read by a BoundedQueueConsumer. */
export const QUEUE_PATHS = ['sns-raw', 'sns-envelope', 'eventbridge', 's3'] as const;
export type QueuePath = (typeof QUEUE_PATHS)[number];
export const EVENT_PATHS = [...QUEUE_PATHS, 'dynamodb-stream'] as const;
export type EventPath = (typeof EVENT_PATHS)[number];
/**
 * Paths deliberately left without their grant (issue 23 part 2): a raw SNS subscription and an
 * EventBridge rule target to a queue whose policy (it has none) lets neither service send to it. On AWS
 * such a delivery is dropped and counted (NumberOfNotificationsFailed, FailedInvocations); every event
 * sent on them must be denied and counted, and none may take effect.
 */
export const POLICY_LESS_PATHS = ['sns-no-policy', 'eventbridge-no-policy'] as const;
export type PolicyLessPath = (typeof POLICY_LESS_PATHS)[number];
/** What routes an event to a policy-less path: the SNS `delivery` attribute, the EventBridge source. */
export const NO_POLICY = { snsDelivery: 'no-policy', eventSource: 'floodgate.chaos.no-policy' } as const;

export const EVENT_PATHS_OUTPUTS = {
  topicArn: 'TopicArn',
  busName: 'BusName',
  bucket: 'BucketName',
  sourceTable: 'SourceTable',
  idempotencyTable: 'IdempotencyTable',
  effectsTable: 'EffectsTable',
  onFailureQueueUrl: 'StreamOnFailureQueueUrl',
  noPolicyQueueUrl: 'NoPolicyQueueUrl',
  noPolicyRuleArn: 'NoPolicyRuleArn',
  queueUrl: (p: QueuePath) => `${pascal(p)}QueueUrl`,
  deadLetterQueueUrl: (p: QueuePath) => `${pascal(p)}DeadLetterQueueUrl`,
} as const;

function pascal(p: string): string {
  return p.split(/[^a-z0-9]/i).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** What every path carries: the event's id (also its idempotency key) and whether it is poison. */
export interface ChaosEvent {
  readonly id: string;
  readonly poison: boolean;
}

/** The SNS message / EventBridge detail of an event. */
export function eventPayload(e: ChaosEvent): { id: string; poison?: true } {
  return { id: e.id, ...(e.poison ? { poison: true as const } : {}) };
}

/** The S3 key of an event: the poison flag is in the key, the only thing a notification carries. */
export function s3KeyOf(e: ChaosEvent): string {
  return `events/${e.poison ? 'poison/' : ''}${e.id}`;
}

/** The item of an event in the stream's source table (`rev` changes for a duplicate: a MODIFY record). */
export function sourceItemOf(e: ChaosEvent, rev: number): Record<string, { S: string } | { N: string } | { BOOL: boolean }> {
  return { pk: { S: e.id }, rev: { N: String(rev) }, ...(e.poison ? { poison: { BOOL: true } } : {}) };
}

/** The key of the effect item an event's consumer writes. */
export function effectKey(id: string): string {
  return `effect#${id}`;
}

export class UnreadableEventError extends Error {}

function fromPayload(p: unknown, where: string): ChaosEvent {
  const o = p as { id?: unknown; poison?: unknown } | null;
  if (typeof o?.id !== 'string' || o.id === '') throw new UnreadableEventError(`${where}: no event id`);
  return { id: o.id, poison: o.poison === true };
}

function json(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UnreadableEventError(`${where}: not JSON`);
  }
}

/**
 * The event an SQS message body of `path` carries; undefined for a message that is no event (S3's
 * s3:TestEvent when the notification configuration is written). Throws UnreadableEventError otherwise.
 */
export function eventOfQueueBody(path: QueuePath, body: string): ChaosEvent | undefined {
  switch (path) {
    case 'sns-raw':
      return fromPayload(json(body, 'raw SNS message'), 'raw SNS message');
    case 'sns-envelope': {
      const env = json(body, 'SNS envelope') as { Type?: string; Message?: string };
      if (env.Type !== 'Notification' || typeof env.Message !== 'string') throw new UnreadableEventError('SNS envelope: not a Notification');
      return fromPayload(json(env.Message, 'SNS envelope Message'), 'SNS envelope Message');
    }
    case 'eventbridge':
      return fromPayload((json(body, 'EventBridge event') as { detail?: unknown }).detail, 'EventBridge event detail');
    case 's3': {
      const n = json(body, 'S3 notification') as { Event?: string; Records?: { s3?: { object?: { key?: string } } }[] };
      if (n.Event === 's3:TestEvent') return undefined;
      const key = n.Records?.[0]?.s3?.object?.key;
      if (typeof key !== 'string') throw new UnreadableEventError('S3 notification: no object key');
      // Keys in notifications are URL-encoded (spaces as +).
      const m = /^events\/(poison\/)?(.+)$/.exec(decodeURIComponent(key.replace(/\+/g, ' ')));
      if (!m) throw new UnreadableEventError(`S3 notification: key ${key} is not an event's`);
      return { id: m[2]!, poison: m[1] !== undefined };
    }
  }
}

/** The event of a DynamoDB stream record's NewImage (the on-failure queue's bodies are the records). */
export function eventOfStreamImage(image: Record<string, { S?: string; BOOL?: boolean }> | undefined): ChaosEvent {
  const id = image?.pk?.S;
  if (typeof id !== 'string' || id === '') throw new UnreadableEventError('stream record: no pk in NewImage');
  return { id, poison: image?.poison?.BOOL === true };
}
