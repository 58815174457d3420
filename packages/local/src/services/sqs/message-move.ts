/**
 * SQS message move tasks (DLQ redrive) on the local endpoint: StartMessageMoveTask, ListMessageMoveTasks
 * and CancelMessageMoveTask, which fauxqs does not serve. The gateway answers them itself and moves the
 * messages through the upstream's ordinary API (ReceiveMessage, SendMessageBatch, DeleteMessageBatch),
 * asynchronously, as SQS does:
 * - the source must be a dead-letter queue of another queue (a queue whose RedrivePolicy names it: fauxqs
 *   has no ListDeadLetterSourceQueues), one running task per source queue; without DestinationArn the messages go back to the source queue;
 * - body and message attributes are kept (the runtime's ErrorClass, SourceMessageId... travel with the
 *   message: that is how a handler recognises a redrive), FIFO group and deduplication ids too;
 * - MaxNumberOfMessagesPerSecond (1-500) paces the move; the task ends once the messages counted at its
 *   start (ApproximateNumberOfMessagesToMove) are moved or the source is empty;
 * - the task handle is opaque (base64 JSON of the task id and the source ARN), only listed while RUNNING.
 * What SQS does and this cannot: it remembers each message's own source queue; fauxqs does not, so
 * without DestinationArn a DLQ with several source queues is refused by name (UnsupportedOperation).
 * JSON protocol only (the SDK v3 and the AWS CLI); a query-protocol request is refused by name.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import type { GatewayError, GatewayRequest } from '../../gateway/types.js';

export const MESSAGE_MOVE_OPERATIONS: ReadonlySet<string> = new Set(['StartMessageMoveTask', 'ListMessageMoveTasks', 'CancelMessageMoveTask']);

export function isMessageMoveOperation(op: string | undefined): boolean {
  return op !== undefined && MESSAGE_MOVE_OPERATIONS.has(op);
}

export type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';

interface MoveTask {
  readonly id: string;
  readonly handle: string;
  readonly sourceArn: string;
  readonly destinationArn?: string;
  readonly rate?: number;
  readonly startedTimestamp: number;
  status: MoveTaskStatus;
  moved: number;
  toMove: number;
  failureReason?: string;
}

class MoveTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const ARN_RE = /^arn:aws[\w-]*:sqs:([\w-]+):(\d{12}):([\w.-]{1,80})$/;

function queueNameOf(arn: unknown, what: string): string {
  if (typeof arn !== 'string') throw new MoveTaskError('MissingParameter', `The request must contain the parameter ${what}.`);
  const m = ARN_RE.exec(arn);
  if (!m) throw new MoveTaskError('InvalidParameterValue', `Value ${arn} for parameter ${what} is invalid. Reason: not a queue ARN.`);
  return m[3]!;
}

export function encodeTaskHandle(id: string, sourceArn: string): string {
  return Buffer.from(JSON.stringify({ taskId: id, sourceArn })).toString('base64');
}

export function decodeTaskHandle(handle: string): { taskId: string; sourceArn: string } | undefined {
  try {
    const j = JSON.parse(Buffer.from(handle, 'base64').toString('utf8')) as { taskId?: unknown; sourceArn?: unknown };
    return typeof j.taskId === 'string' && typeof j.sourceArn === 'string' ? { taskId: j.taskId, sourceArn: j.sourceArn } : undefined;
  } catch {
    return undefined;
  }
}

/** The IAM actions a move-task request needs, on which queue ARNs (the gateway's IAM hook). */
export function messageMoveAuthorizations(op: string, params: Record<string, unknown>): { action: string; resource: string }[] {
  const source = typeof params['SourceArn'] === 'string' ? params['SourceArn'] : undefined;
  switch (op) {
    case 'StartMessageMoveTask': {
      if (!source) return [{ action: 'sqs:StartMessageMoveTask', resource: '*' }];
      // SQS's documented permissions for a redrive: these on the DLQ, SendMessage on the destination.
      const onSource = ['StartMessageMoveTask', 'ReceiveMessage', 'DeleteMessage', 'GetQueueAttributes'].map((a) => ({ action: `sqs:${a}`, resource: source }));
      const dest = typeof params['DestinationArn'] === 'string' ? params['DestinationArn'] : undefined;
      return dest ? [...onSource, { action: 'sqs:SendMessage', resource: dest }] : onSource;
    }
    case 'ListMessageMoveTasks':
      return [{ action: 'sqs:ListMessageMoveTasks', resource: source ?? '*' }];
    default: {
      const h = typeof params['TaskHandle'] === 'string' ? decodeTaskHandle(params['TaskHandle']) : undefined;
      return [{ action: 'sqs:CancelMessageMoveTask', resource: h?.sourceArn ?? '*' }];
    }
  }
}

export interface MessageMoveTasks {
  handle(op: string, req: GatewayRequest, res: ServerResponse, error: (err: GatewayError) => void): Promise<void>;
  /** Waits for the running tasks (tests). */
  idle(): Promise<void>;
}

/** The task registry of one gateway, moving through `upstream` (fauxqs). */
export function createMessageMoveTasks(upstream: string, region: string): MessageMoveTasks {
  // A client per request or task, destroyed after it: nothing keeps sockets open once the gateway stops.
  const client = (): SQSClient => new SQSClient({ endpoint: upstream, region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 3 });
  const tasks = new Map<string, MoveTask[]>(); // by source ARN, most recent first
  const running = new Set<Promise<void>>();

  const urlOf = async (sqs: SQSClient, name: string, what: string): Promise<string> => {
    try {
      const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      return out.QueueUrl!;
    } catch (err) {
      if ((err as { name?: string }).name === 'QueueDoesNotExist' || (err as { name?: string }).name === 'AWS.SimpleQueueService.NonExistentQueue') {
        throw new MoveTaskError('ResourceNotFoundException', `The resource that you specified for the ${what} parameter doesn't exist.`);
      }
      throw err;
    }
  };

  const move = async (sqs: SQSClient, task: MoveTask, sourceUrl: string, destUrl: string, fifo: boolean): Promise<void> => {
    const t0 = Date.now();
    try {
      while (task.status === 'RUNNING' && task.moved < task.toMove) {
        // At most a second's worth per batch, so the rate holds from the first message.
        const want = Math.min(10, task.rate ?? 10, task.toMove - task.moved);
        const got = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: sourceUrl, MaxNumberOfMessages: want, WaitTimeSeconds: 0, VisibilityTimeout: 30, MessageAttributeNames: ['All'], AttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
        );
        const messages = got.Messages ?? [];
        if (messages.length === 0) break;
        const entries: SendMessageBatchRequestEntry[] = messages.map((m, i) => sendEntry(m, i, fifo));
        const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: destUrl, Entries: entries }));
        const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
        const toDelete = messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })).filter((e) => ok.has(e.Id));
        if (toDelete.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: sourceUrl, Entries: toDelete }));
        task.moved += toDelete.length;
        const failed = sent.Failed ?? [];
        if (failed.length > 0) throw new MoveTaskError(failed[0]!.Code ?? 'InternalError', failed[0]!.Message ?? 'SendMessageBatch failed');
        if (task.rate !== undefined) {
          const due = t0 + (task.moved / task.rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
      }
      task.status = task.status === 'CANCELLING' ? 'CANCELLED' : 'COMPLETED';
    } catch (err) {
      task.status = 'FAILED';
      task.failureReason = err instanceof MoveTaskError ? err.code : ((err as { name?: string }).name ?? 'InternalError');
    } finally {
      sqs.destroy();
    }
  };

  const start = async (sqs: SQSClient, p: Record<string, unknown>): Promise<{ out: Record<string, unknown>; run?: () => Promise<void> }> => {
    const sourceName = queueNameOf(p['SourceArn'], 'SourceArn');
    const sourceArn = p['SourceArn'] as string;
    const rate = p['MaxNumberOfMessagesPerSecond'];
    if (rate !== undefined && !(typeof rate === 'number' && Number.isInteger(rate) && rate >= 1 && rate <= 500)) {
      throw new MoveTaskError('InvalidParameterValue', 'Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be an integer from 1 to 500.');
    }
    const sourceUrl = await urlOf(sqs, sourceName, 'SourceArn');
    if ((tasks.get(sourceArn) ?? []).some((t) => t.status === 'RUNNING' || t.status === 'CANCELLING')) {
      throw new MoveTaskError('UnsupportedOperation', 'There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
    }
    const sources = await deadLetterSources(sqs, sourceArn);
    if (sources.length === 0) throw new MoveTaskError('UnsupportedOperation', 'Source queue must be configured as a Dead Letter Queue.');
    let destUrl: string;
    const destinationArn = typeof p['DestinationArn'] === 'string' ? p['DestinationArn'] : undefined;
    if (destinationArn !== undefined) destUrl = await urlOf(sqs, queueNameOf(destinationArn, 'DestinationArn'), 'DestinationArn');
    else if (sources.length === 1) destUrl = sources[0]!;
    else {
      throw new MoveTaskError(
        'UnsupportedOperation',
        `The local endpoint cannot move messages back to their own source queues: ${sourceName} is the dead-letter queue of ${sources.length} queues and the emulator does not record each message's source. Pass DestinationArn.`,
      );
    }
    const fifo = sourceName.endsWith('.fifo');
    if (fifo !== destUrl.endsWith('.fifo')) throw new MoveTaskError('InvalidParameterValue', 'Value for parameter DestinationArn is invalid. Reason: the source and destination queues must both be FIFO or both standard.');
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: sourceUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    const id = randomUUID();
    const task: MoveTask = {
      id,
      handle: encodeTaskHandle(id, sourceArn),
      sourceArn,
      ...(destinationArn !== undefined ? { destinationArn } : {}),
      ...(typeof rate === 'number' ? { rate } : {}),
      startedTimestamp: Date.now(),
      status: 'RUNNING',
      moved: 0,
      toMove: Number(attrs.Attributes?.ApproximateNumberOfMessages ?? '0'),
    };
    tasks.set(sourceArn, [task, ...(tasks.get(sourceArn) ?? [])]);
    return { out: { TaskHandle: task.handle }, run: () => move(sqs, task, sourceUrl, destUrl, fifo) };
  };

  const list = async (sqs: SQSClient, p: Record<string, unknown>): Promise<{ out: Record<string, unknown> }> => {
    const sourceName = queueNameOf(p['SourceArn'], 'SourceArn');
    const max = p['MaxResults'] ?? 1;
    if (!(typeof max === 'number' && Number.isInteger(max) && max >= 1 && max <= 10)) throw new MoveTaskError('InvalidParameterValue', 'Value for parameter MaxResults is invalid. Reason: must be an integer from 1 to 10.');
    await urlOf(sqs, sourceName, 'SourceArn');
    const results = (tasks.get(p['SourceArn'] as string) ?? []).slice(0, max).map((t) => ({
      ...(t.status === 'RUNNING' ? { TaskHandle: t.handle } : {}),
      Status: t.status,
      SourceArn: t.sourceArn,
      ...(t.destinationArn !== undefined ? { DestinationArn: t.destinationArn } : {}),
      ...(t.rate !== undefined ? { MaxNumberOfMessagesPerSecond: t.rate } : {}),
      ApproximateNumberOfMessagesMoved: t.moved,
      ApproximateNumberOfMessagesToMove: t.toMove,
      ...(t.failureReason !== undefined ? { FailureReason: t.failureReason } : {}),
      StartedTimestamp: t.startedTimestamp,
    }));
    return { out: { Results: results } };
  };

  const cancel = async (p: Record<string, unknown>): Promise<{ out: Record<string, unknown> }> => {
    if (typeof p['TaskHandle'] !== 'string') throw new MoveTaskError('MissingParameter', 'The request must contain the parameter TaskHandle.');
    const h = decodeTaskHandle(p['TaskHandle']);
    const task = h ? (tasks.get(h.sourceArn) ?? []).find((t) => t.id === h.taskId) : undefined;
    if (!task) throw new MoveTaskError('ResourceNotFoundException', 'The resource that you specified for the TaskHandle parameter doesn\'t exist.');
    if (task.status !== 'RUNNING') throw new MoveTaskError('UnsupportedOperation', `Only a RUNNING task can be cancelled; this one is ${task.status}.`);
    task.status = 'CANCELLING';
    return { out: { ApproximateNumberOfMessagesMoved: task.moved } };
  };

  return {
    async handle(op, req, res, error) {
      if (!req.headers['x-amz-target']) {
        return error({ status: 400, code: 'UnsupportedOperation', message: `The local endpoint serves ${op} in the JSON protocol only (X-Amz-Target: AmazonSQS.${op}), as the AWS SDKs and CLI send it.` });
      }
      let params: Record<string, unknown>;
      try {
        const raw = (await req.body()).toString('utf8');
        const v: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
        params = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
      } catch {
        return error({ status: 400, code: 'InvalidParameterValue', message: 'The request body is not valid JSON.' });
      }
      const sqs = client();
      let result: { out: Record<string, unknown>; run?: () => Promise<void> } | undefined;
      try {
        result = op === 'StartMessageMoveTask' ? await start(sqs, params) : op === 'ListMessageMoveTasks' ? await list(sqs, params) : await cancel(params);
        const body = JSON.stringify(result.out);
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(Buffer.byteLength(body)), 'x-amzn-requestid': randomUUID() });
        res.end(body);
      } catch (err) {
        if (err instanceof MoveTaskError) return error({ status: err.status, code: err.code, message: err.message });
        // An upstream failure, in the client's protocol (not the gateway's generic 502 page).
        const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        return error({ status: e.$metadata?.httpStatusCode ?? 500, code: e.name ?? 'InternalError', message: `${op}: ${e.message ?? String(err)}` });
      } finally {
        // The task keeps the client until it ends; every other request lets it go now.
        if (result?.run) {
          const run = result.run().finally(() => running.delete(run));
          running.add(run);
        } else sqs.destroy();
      }
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}

/** The URLs of the queues whose RedrivePolicy names `dlqArn` as their dead-letter queue. */
async function deadLetterSources(sqs: SQSClient, dlqArn: string): Promise<string[]> {
  const urls: string[] = [];
  let token: string | undefined;
  do {
    const page = await sqs.send(new ListQueuesCommand({ MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
    urls.push(...(page.QueueUrls ?? []));
    token = page.NextToken;
  } while (token);
  const sources: string[] = [];
  for (const url of urls) {
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] })).catch(() => undefined);
    const policy = a?.Attributes?.RedrivePolicy;
    if (!policy) continue;
    try {
      if ((JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn === dlqArn) sources.push(url);
    } catch {
      // not JSON: not a redrive policy we can read
    }
  }
  return sources;
}

/** A received message as a SendMessageBatch entry: body, message attributes, FIFO ids. */
function sendEntry(m: Message, i: number, fifo: boolean): SendMessageBatchRequestEntry {
  return {
    Id: String(i),
    MessageBody: m.Body ?? '',
    ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0 ? { MessageAttributes: m.MessageAttributes } : {}),
    // The DLQ message's own id: the original deduplication id may still be inside the destination's
    // 5-minute window, and SQS would then accept the send and drop the message.
    ...(fifo ? { MessageGroupId: m.Attributes?.MessageGroupId ?? 'redrive', MessageDeduplicationId: m.MessageId } : {}),
  };
}
