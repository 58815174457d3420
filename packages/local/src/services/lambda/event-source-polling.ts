/**
 * The SQS side of Lambda's poller: the queue calls it makes (ReceiveMessage, DeleteMessageBatch,
 * ChangeMessageVisibilityBatch) and how it fills one batch within the batching window.
 *
 * On AWS the event source mapping polls with the function's execution role, so the role needs
 * sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and sqs:GetQueueAttributes.
 * Locally the calls go through the one endpoint signed with the credentials the stack issued for the
 * function's role, so the gateway's IAM evaluation applies to them as to any call the function makes.
 */
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { LocalEndpoints } from '../../core/endpoints.js';
import { LOCAL_CREDENTIALS } from '../../core/identity.js';

export interface QueueCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The queue calls of one event source mapping. */
export interface MappingQueue {
  readonly queueUrl: string;
  receive(max: number, waitSeconds: number, signal: AbortSignal): Promise<Message[]>;
  /** Deletes `messages` (batches of 10); returns how many SQS confirmed. */
  delete(messages: readonly Message[]): Promise<number>;
  /** Makes received-but-undelivered messages visible again at once (they keep their place in a FIFO group). */
  returnToQueue(messages: readonly Message[]): Promise<void>;
  destroy(): void;
}

export function mappingQueue(queueUrl: string, endpoints: LocalEndpoints, credentials: QueueCredentials = LOCAL_CREDENTIALS): MappingQueue {
  const sqs = new SQSClient({ region: endpoints.region, credentials, endpoint: endpoints.sqs });
  const chunks = <T>(list: readonly T[]): T[][] => {
    const out: T[][] = [];
    for (let i = 0; i < list.length; i += 10) out.push(list.slice(i, i + 10));
    return out;
  };
  return {
    queueUrl,
    async receive(max, waitSeconds, signal) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, max), WaitTimeSeconds: waitSeconds, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
        { abortSignal: signal },
      );
      return out.Messages ?? [];
    },
    async delete(messages) {
      let deleted = 0;
      for (const chunk of chunks(messages)) {
        const res = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })) }));
        deleted += res.Successful?.length ?? 0;
      }
      return deleted;
    },
    async returnToQueue(messages) {
      for (const chunk of chunks(messages)) {
        await sqs
          .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })) }))
          .catch(() => undefined); // else they come back after the visibility timeout
      }
    },
    destroy: () => sqs.destroy(),
  };
}

export interface BatchWindow {
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  /** Wait of the first receive, seconds (bounded so that a live change reaches a waiting poll soon). */
  readonly firstWaitSeconds: number;
}

/**
 * One batch: wait for the first messages, then fill up to BatchSize within the batching window. Errors
 * of the first receive propagate (the caller counts and reports them); messages already received are
 * kept if a later receive of the window fails or is cut short.
 */
export async function collectBatch(queue: MappingQueue, window: BatchWindow, signal: AbortSignal): Promise<Message[]> {
  const { batchSize, maximumBatchingWindowSeconds } = window;
  const batch = await queue.receive(batchSize, window.firstWaitSeconds, signal);
  if (batch.length === 0) return batch;
  const windowEnds = Date.now() + maximumBatchingWindowSeconds * 1000;
  let lastFull = batch.length === Math.min(10, batchSize);
  while (batch.length < batchSize && !signal.aborted) {
    const left = windowEnds - Date.now();
    if (left <= 0) {
      // Window over (or zero): only drain what is already there, without waiting.
      if (!lastFull) break;
      const more = await queue.receive(batchSize - batch.length, 0, signal).catch(() => []);
      batch.push(...more);
      lastFull = more.length === 10;
      if (more.length === 0) break;
      continue;
    }
    const more = await queue.receive(batchSize - batch.length, Math.min(20, Math.max(1, Math.floor(left / 1000))), signal).catch(() => []);
    batch.push(...more);
    lastFull = more.length === 10;
  }
  return batch;
}
