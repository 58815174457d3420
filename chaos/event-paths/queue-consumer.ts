/**
 * The queue consumers of the event-path chaos run (one function per path, EVENT_PATH says which), on
 * `@floodgate/runtime`'s createConsumerHandler with idempotency: the claim (fenced) before the work, the
 * effect written with the claim's fence, the completion after it. A poison event fails permanently: the
 * runtime dead-letters it with its class and reason. Fault points (FLOODGATE_FAULTS) after the claim and
 * after the effect, besides the runtime's own (before-complete, after-dead-letter).
 */
import { createConsumerHandler, createHandlerClients, faultPoint, PermanentError } from '@floodgate/runtime';
import { writeEffect } from './effect';
import { eventOfQueueBody, QUEUE_PATHS, UnreadableEventError, type QueuePath } from './paths';

const PATH = process.env.EVENT_PATH as QueuePath;
if (!QUEUE_PATHS.includes(PATH)) throw new Error(`EVENT_PATH must be one of ${QUEUE_PATHS.join(', ')}; got ${PATH}`);
const EFFECTS = process.env.EFFECTS_TABLE!;
const clients = createHandlerClients(); // once per execution environment

/** The event, or why the body is none: the key and payload hash must be computable for every message. */
function readEvent(body: string): { id: string; poison: boolean } | { unreadable: string } | undefined {
  try {
    return eventOfQueueBody(PATH, body);
  } catch (err) {
    if (err instanceof UnreadableEventError) return { unreadable: err.message };
    throw err;
  }
}

export const handler = createConsumerHandler({
  clients,
  serviceName: `chaos-${PATH}`,
  idempotency: {
    tableName: process.env.IDEMPOTENCY_TABLE!,
    // The event id: the same event delivered twice (a duplicate publish, a redelivery) takes effect once.
    key: (record) => {
      const e = readEvent(record.body);
      return e === undefined || 'unreadable' in e ? `${PATH}#message#${record.messageId}` : e.id;
    },
    // The event, not the delivery: an SNS envelope, an EventBridge event or an S3 notification differs
    // between two deliveries of one event (ids, timestamps).
    payloadHash: (record) => JSON.stringify(readEvent(record.body) ?? null),
  },
  processRecord: async (record, ctx) => {
    const e = readEvent(record.body);
    if (e === undefined) return; // s3:TestEvent
    if ('unreadable' in e) throw new PermanentError('UnreadableEvent', e.unreadable);
    ctx.fields.eventId = e.id;
    if (e.poison) throw new PermanentError('PoisonEvent', `event ${e.id} on ${PATH} can never be applied`);
    await faultPoint('after-claim');
    await ctx.io(() => writeEffect(clients.dynamodb, { table: EFFECTS, id: e.id, path: PATH, fence: ctx.idempotency!.fence, signal: ctx.signal }));
    await faultPoint('after-effect');
  },
});
