/** The simulations' backends on DynamoDB Local, through the real adapters (the clock is injected per call). */
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { IdempotencyStore } from '@floodgate/runtime/idempotency';
import { LeaseLock } from '@floodgate/runtime/lock';
import type { Grant } from '@floodgate/runtime/lock';
import { num, str } from '@floodgate/runtime';
import { claimAttributes, completionAttributes, createJobsStore } from '../../../lambda/image-worker/jobs-table';
import type { ClaimRes, JobBackend } from './job-sim';
import type { LockBackend } from './lock-sim';

/** The worker's jobs store (the job record is the claim) on a jobs table, starting from a `queued` record. */
export class DdbJobBackend implements JobBackend {
  private clock = 0;
  private readonly store: IdempotencyStore;
  private readonly leases = new Map<string, number>();
  private created = false;
  constructor(private readonly client: DynamoDBClient, private readonly jobsTable: string, private readonly jobId: string) {
    this.store = createJobsStore(client, jobsTable, () => this.clock);
  }
  async claim(now: number, leaseExpiresAt: number): Promise<ClaimRes> {
    if (!this.created) {
      // What the job API writes before sending the message.
      await this.client.send(new PutItemCommand({ TableName: this.jobsTable, Item: { jobId: { S: this.jobId }, status: { S: 'queued' }, sourceKey: { S: 'uploads/x.jpg' } } }));
      this.created = true;
    }
    this.clock = now;
    const r = await this.store.claim(this.jobId, 'h', leaseExpiresAt, undefined, claimAttributes('uploads/x.jpg', now));
    if (r.type !== 'claimed') return { type: r.type };
    this.leases.set(r.claim.owner, leaseExpiresAt);
    return { type: 'claimed', owner: r.claim.owner, fence: r.claim.fence };
  }
  private claimOf(owner: string, fence: number) {
    return { id: this.jobId, owner, fence, leaseExpiresAt: this.leases.get(owner) ?? 0 };
  }
  async complete(owner: string, fence: number, now: number) {
    this.clock = now;
    return this.store.complete(this.claimOf(owner, fence), undefined, { set: completionAttributes([], now) });
  }
  async release(owner: string, fence: number, now: number) {
    this.clock = now;
    return this.store.release(this.claimOf(owner, fence));
  }
  private async item() {
    return (await this.client.send(new GetItemCommand({ TableName: this.jobsTable, Key: { jobId: { S: this.jobId } }, ConsistentRead: true }))).Item;
  }
  async currentOwner() {
    const item = await this.item();
    return str(item, 'status') === 'processing' ? str(item, 'owner') : undefined;
  }
  async job() {
    const item = await this.item();
    const status = str(item, 'status');
    const fence = num(item, 'fence');
    return { ...(status ? { status } : {}), ...(fence !== undefined ? { fence } : {}), completions: num(item, 'completions') ?? 0 };
  }
}

export class DdbLockBackend implements LockBackend {
  private clock = 0;
  private readonly locks: LeaseLock[];
  constructor(client: DynamoDBClient, tableName: string, actors: number, leaseMs: number, private readonly lockKey: string) {
    this.locks = Array.from({ length: actors }, (_, i) => new LeaseLock({ client, tableName, owner: `actor-${i}`, leaseMs, heartbeatMs: Math.floor(leaseMs / 3), now: () => this.clock }));
  }
  async tryAcquire(actor: number, now: number) {
    this.clock = now;
    return this.locks[actor]!.tryAcquire(this.lockKey);
  }
  async renew(actor: number, grant: Grant, now: number) {
    this.clock = now;
    return this.locks[actor]!.renew(grant);
  }
  async release(actor: number, grant: Grant, now: number) {
    this.clock = now;
    return this.locks[actor]!.release(grant);
  }
}
