/**
 * The DynamoDB stream consumer of the event-path chaos run, on `@floodgate/runtime`'s createStreamHandler
 * with the fenced IdempotencyStore of `@floodgate/runtime/idempotency` (the stream handler has no built-in
 * idempotency): claim, effect with the claim's fence, completion. A retry of a batch (a crash, a timeout,
 * a checkpoint) or a MODIFY record of the same item (a duplicate) finds the key completed and skips it. A
 * poison event gives its claim up and fails permanently: the runtime sends it to the on-failure queue with
 * its class and reason (a second copy there if it comes again; it never takes effect).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBRecord } from 'aws-lambda';
import { createHandlerClients, createStreamHandler, faultPoint, PermanentError, RetryableError } from '@floodgate/runtime';
import { IdempotencyStore, type Claim } from '@floodgate/runtime/idempotency';
import { writeEffect } from './effect';
import { eventOfStreamImage } from './paths';

const PATH = 'dynamodb-stream';
/** Time the claim, the effect and the completion need after waiting out another holder's lease. */
const LEASE_WAIT_MARGIN_MS = 6000;
const EFFECTS = process.env.EFFECTS_TABLE!;
const clients = createHandlerClients();
const store = new IdempotencyStore({ client: clients.dynamodb, tableName: process.env.IDEMPOTENCY_TABLE! });

async function release(claim: Claim): Promise<void> {
  await store.release(claim, AbortSignal.timeout(1000)).catch(() => false);
}

export const handler = createStreamHandler<DynamoDBRecord>({
  clients,
  serviceName: 'chaos-dynamodb-stream',
  processRecord: async (record, ctx) => {
    if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') return;
    const e = eventOfStreamImage(record.dynamodb?.NewImage as Record<string, { S?: string; BOOL?: boolean }> | undefined);
    ctx.fields.eventId = e.id;
    const tryClaim = () => ctx.io(() => store.claim(e.id, JSON.stringify(e), ctx.deadlineAt, ctx.signal));
    let claimed = await tryClaim();
    // A holder killed after its claim keeps the key until its lease (its deadline) ends. A stream retries
    // at once, not after a visibility timeout: failing at once would spend the mapping's retries while the
    // lease runs (measured: a record of a 1,000-event run lost to RetriesExhausted with retryAttempts 10).
    // Wait for the lease to end (as long as our own deadline allows), then claim again.
    if (claimed.type === 'in-progress' && claimed.leaseExpiresAt > 0) {
      const until = Math.min(claimed.leaseExpiresAt + 100, ctx.deadlineAt - LEASE_WAIT_MARGIN_MS);
      if (until > Date.now()) await sleep(until - Date.now(), undefined, { signal: ctx.signal });
      if (Date.now() > claimed.leaseExpiresAt) claimed = await tryClaim();
    }
    switch (claimed.type) {
      case 'completed':
      case 'failed':
        ctx.logger.info('duplicate skipped', { eventId: e.id, previous: claimed.type });
        return;
      case 'in-progress':
        throw new RetryableError('InProgressElsewhere', `event ${e.id} is being processed by another invocation`);
      case 'payload-mismatch':
        throw new PermanentError('PayloadMismatch', `event ${e.id} was already used with a different payload`);
      case 'claimed':
        break;
    }
    const claim = claimed.claim;
    if (e.poison) {
      await release(claim);
      throw new PermanentError('PoisonEvent', `event ${e.id} on ${PATH} can never be applied`);
    }
    try {
      await faultPoint('after-claim');
      await ctx.io(() => writeEffect(clients.dynamodb, { table: EFFECTS, id: e.id, path: PATH, fence: claim.fence, signal: ctx.signal }));
      await faultPoint('after-effect');
      await faultPoint('before-complete');
    } catch (err) {
      await release(claim);
      throw err;
    }
    let completed: boolean;
    try {
      completed = await ctx.io(() => store.complete(claim, ctx.signal));
    } catch (err) {
      await release(claim);
      throw err;
    }
    if (!completed) {
      console.log(JSON.stringify({ level: 'WARN', event: 'claim-lost-before-completion', eventId: e.id, fence: claim.fence }));
      throw new RetryableError('InProgressElsewhere', `event ${e.id}: completion refused, a newer owner took the key over (ours was fence ${claim.fence})`);
    }
  },
});
