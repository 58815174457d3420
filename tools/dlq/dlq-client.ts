/**
 * The SQS side of the DLQ tool. Listing is non-destructive: messages are received with a short
 * visibility timeout (so a scan does not see the same message twice) and released at once afterwards
 * with ChangeMessageVisibility 0. Redriving the whole DLQ is SQS's own message move task
 * (StartMessageMoveTask, then ListMessageMoveTasks until it ends); redriving some messages (by id, or all
 * but the refused permanent ones) is receive -> send to the source queue -> delete, so a crash in between
 * leaves a copy in the DLQ (at-least-once; the worker is idempotent per jobId), never none. Both keep the
 * message attributes, by which the runtime recognises a redrive (redrivenFrom) and runs a failed job again.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { decideRedrive, redriveAttributes, toDlqEntry, type DlqEntry } from './entries';

export interface DlqClientOptions {
  readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  /** Where redriven messages go (the stack's job queue). */
  readonly sourceQueueUrl?: string;
  /** Seconds a scanned message stays hidden while the scan runs. @default 30 */
  readonly scanVisibilitySeconds?: number;
  /** Stop a scan after this many messages. @default 10000 */
  readonly maxMessages?: number;
}

export interface RedriveResult {
  readonly redriven: DlqEntry[];
  readonly refused: { readonly entry: DlqEntry; readonly why: string }[];
  readonly failed: { readonly entry: DlqEntry; readonly why: string }[];
  /** Requested ids that were not in the DLQ. */
  readonly notFound: string[];
  /** Set when the whole DLQ was moved by an SQS message move task. */
  moveTask?: MoveTaskOutcome;
}

export interface MoveTaskOutcome {
  readonly taskHandle: string;
  readonly status: string;
  readonly moved: number;
  readonly toMove: number;
  readonly failureReason?: string;
}

interface Held {
  readonly entry: DlqEntry;
  readonly receiptHandle: string;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class DlqClient {
  private readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  readonly sourceQueueUrl: string | undefined;
  private readonly scanVisibilitySeconds: number;
  private readonly maxMessages: number;

  constructor(options: DlqClientOptions) {
    this.sqs = options.sqs;
    this.deadLetterQueueUrl = options.deadLetterQueueUrl;
    this.sourceQueueUrl = options.sourceQueueUrl;
    this.scanVisibilitySeconds = options.scanVisibilitySeconds ?? 30;
    this.maxMessages = options.maxMessages ?? 10_000;
  }

  /** ApproximateNumberOfMessages (visible) and ...NotVisible of the DLQ. */
  async depth(): Promise<{ visible: number; inFlight: number }> {
    const res = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.deadLetterQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(res.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  /** Every message in the DLQ (up to maxMessages), left in the queue and visible again on return. */
  async list(): Promise<DlqEntry[]> {
    const held = await this.scan((batch) => batch, this.scanVisibilitySeconds);
    await this.release(held);
    return held.map((h) => h.entry);
  }

  /** One message by message id or job id, or undefined; the DLQ is left as it was. */
  async show(id: string): Promise<DlqEntry[]> {
    const all = await this.list();
    return all.filter((e) => e.messageId === id || e.jobId === id);
  }

  /**
   * Moves the selected messages (all, or those whose message id or job id is in `ids`) back to the source
   * queue with their body and attributes. Permanent failures are refused unless `force`. When every
   * message of the DLQ goes (all, and forced or none permanent), SQS's message move task moves them.
   */
  async redrive(selection: { readonly all: true } | { readonly ids: readonly string[] }, force: boolean, options: { readonly timeoutMs?: number } = {}): Promise<RedriveResult> {
    const source = this.sourceQueueUrl;
    if (source === undefined) throw new Error('redrive needs the source queue URL (JobQueueUrl in the stack outputs, or --queue-url)');
    if ('all' in selection) {
      const entries = await this.list();
      if (entries.length > 0 && entries.every((e) => decideRedrive(e, force).redrive)) {
        const moveTask = await this.moveAll(source, options.timeoutMs ?? 120_000);
        const result: RedriveResult = { redriven: entries, refused: [], failed: [], notFound: [], moveTask };
        if (moveTask.status !== 'COMPLETED') {
          result.failed.push(...entries.map((entry) => ({ entry, why: `message move task ${moveTask.status}${moveTask.failureReason ? `: ${moveTask.failureReason}` : ''} (${moveTask.moved} of ${moveTask.toMove} moved)` })));
          result.redriven.length = 0;
        }
        return result;
      }
    }
    const wanted = 'ids' in selection ? new Set(selection.ids) : undefined;
    const seen = new Set<string>();
    const result: RedriveResult = { redriven: [], refused: [], failed: [], notFound: [] };
    const keep: Held[] = [];
    // Page by page: send and delete each page's selected messages while the rest stay hidden until the
    // end of the scan (so they are not received again), then release them.
    const sendVisibility = Math.max(this.scanVisibilitySeconds, 60);
    try {
      await this.scan(async (page) => {
        const toSend: Held[] = [];
        for (const h of page) {
          const selected = wanted === undefined || wanted.has(h.entry.messageId) || (h.entry.jobId !== undefined && wanted.has(h.entry.jobId));
          if (selected) {
            seen.add(h.entry.messageId);
            if (h.entry.jobId !== undefined) seen.add(h.entry.jobId);
          }
          if (!selected) {
            keep.push(h);
            continue;
          }
          const d = decideRedrive(h.entry, force);
          if (d.redrive) toSend.push(h);
          else {
            result.refused.push({ entry: h.entry, why: d.why });
            keep.push(h);
          }
        }
        await this.sendAndDelete(source, toSend, result, keep);
        return [];
      }, sendVisibility);
    } finally {
      await this.release(keep);
    }
    if (wanted !== undefined) for (const id of wanted) if (!seen.has(id)) result.notFound.push(id);
    return result;
  }

  /** StartMessageMoveTask from the DLQ to `source`, then ListMessageMoveTasks until the task ends. */
  async moveAll(source: string, timeoutMs: number): Promise<MoveTaskOutcome> {
    const arnOf = async (QueueUrl: string) => (await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
    const [SourceArn, DestinationArn] = await Promise.all([arnOf(this.deadLetterQueueUrl), arnOf(source)]);
    // The destination is explicit: the runtime sends its dead letters itself, so SQS has no source queue
    // on record for them.
    const { TaskHandle } = await this.sqs.send(new StartMessageMoveTaskCommand({ SourceArn, DestinationArn }));
    const end = Date.now() + timeoutMs;
    for (;;) {
      // The most recent task of the DLQ is ours (one runs per queue at a time; only a running one shows its handle).
      const task = (await this.sqs.send(new ListMessageMoveTasksCommand({ SourceArn, MaxResults: 1 }))).Results?.[0];
      if (task && task.Status !== 'RUNNING' && task.Status !== 'CANCELLING') {
        return {
          taskHandle: TaskHandle ?? '',
          status: task.Status ?? 'UNKNOWN',
          moved: task.ApproximateNumberOfMessagesMoved ?? 0,
          toMove: task.ApproximateNumberOfMessagesToMove ?? 0,
          ...(task.FailureReason ? { failureReason: task.FailureReason } : {}),
        };
      }
      if (Date.now() > end) return { taskHandle: TaskHandle ?? '', status: 'RUNNING', moved: task?.ApproximateNumberOfMessagesMoved ?? 0, toMove: task?.ApproximateNumberOfMessagesToMove ?? 0, failureReason: `still running after ${timeoutMs} ms` };
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async sendAndDelete(source: string, page: readonly Held[], result: RedriveResult, keep: Held[]): Promise<void> {
    if (page.length === 0) return;
    const fifo = source.endsWith('.fifo');
    const sent = await this.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: source,
        Entries: page.map((h, i) => ({
          Id: String(i),
          MessageBody: h.entry.body,
          MessageAttributes: redriveAttributes(h.entry),
          ...(fifo
            ? {
                MessageGroupId: h.entry.messageGroupId ?? h.entry.jobId ?? 'redrive',
                // A fresh id: the original's deduplication window may still be open.
                MessageDeduplicationId: `redrive-${h.entry.messageId}-${h.entry.redriveCount + 1}`,
              }
            : {}),
        })),
      }),
    );
    for (const f of sent.Failed ?? []) {
      const h = page[Number(f.Id)];
      if (h !== undefined) {
        result.failed.push({ entry: h.entry, why: `send failed: ${f.Code ?? ''} ${f.Message ?? ''}`.trim() });
        keep.push(h);
      }
    }
    const ok = (sent.Successful ?? []).map((s) => page[Number(s.Id)]).filter((h): h is Held => h !== undefined);
    if (ok.length === 0) return;
    const del = await this.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.deadLetterQueueUrl,
        Entries: ok.map((h, i) => ({ Id: String(i), ReceiptHandle: h.receiptHandle })),
      }),
    );
    const delFailed = new Set((del.Failed ?? []).map((f) => Number(f.Id)));
    ok.forEach((h, i) => {
      // Sent but not deleted: the copy in the DLQ reappears; the job is idempotent, say so honestly.
      if (delFailed.has(i)) result.failed.push({ entry: h.entry, why: 'sent to the source queue but not deleted from the DLQ (a copy remains)' });
      else result.redriven.push(h.entry);
    });
  }

  /**
   * Receives until the queue looks empty (an empty long poll and no visible messages) or maxMessages. Each
   * page goes through `onPage`; what it returns is kept hidden and returned for the caller to release.
   */
  private async scan(onPage: (page: Held[]) => Held[] | Promise<Held[]>, visibilitySeconds: number): Promise<Held[]> {
    const held: Held[] = [];
    const ids = new Set<string>();
    let empty = 0;
    let total = 0;
    try {
      while (total < this.maxMessages && empty < 3) {
        const res = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.deadLetterQueueUrl,
            MaxNumberOfMessages: Math.min(10, this.maxMessages - total),
            VisibilityTimeout: visibilitySeconds,
            WaitTimeSeconds: 1,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['All'],
          }),
        );
        const msgs = (res.Messages ?? []).filter((m: Message) => m.ReceiptHandle !== undefined && m.MessageId !== undefined);
        if (msgs.length === 0) {
          // A long poll that came back empty is reliable enough when the queue also says nothing is
          // visible; otherwise (sampling on a large queue) try again, up to three times.
          empty++;
          if ((await this.depth()).visible === 0) break;
          continue;
        }
        empty = 0;
        const page: Held[] = [];
        for (const m of msgs) {
          // A message received twice in one scan (its visibility ran out): keep the newest handle only.
          if (ids.has(m.MessageId!)) continue;
          ids.add(m.MessageId!);
          page.push({ entry: toDlqEntry(m), receiptHandle: m.ReceiptHandle! });
        }
        total += page.length;
        held.push(...(await onPage(page)));
      }
    } catch (err) {
      await this.release(held).catch(() => undefined);
      throw err;
    }
    return held;
  }

  private async release(held: readonly Held[]): Promise<void> {
    for (const part of chunks(held, 10)) {
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.deadLetterQueueUrl,
          Entries: part.map((h, i) => ({ Id: String(i), ReceiptHandle: h.receiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
}
