/** The simulations' backends on DynamoDB Local, through the real adapters (the clock is injected per call). */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyStore } from '@floodgate/runtime/idempotency';
import { LeaseLock } from '@floodgate/runtime/lock';
import type { Grant } from '@floodgate/runtime/lock';
import { num, str } from '@floodgate/runtime';
import { JobsTable } from '../../../lambda/image-worker/jobs-table';
import type { JobStatus } from '../../../lambda/shared/job-record';
import type { ClaimRes, JobBackend } from './job-sim';
import type { LockBackend } from './lock-sim';

export class DdbJobBackend implements JobBackend {
  private clock = 0;
  private readonly store: IdempotencyStore;
  private readonly jobs: JobsTable;
  private readonly leases = new Map<string, number>();
  constructor(private readonly client: DynamoDBClient, private readonly idemTable: string, private readonly jobsTable: string, private readonly jobId: string) {
    this.store = new IdempotencyStore({ client, tableName: idemTable, now: () => this.clock });
    this.jobs = new JobsTable(client, jobsTable, undefined, () => this.clock);
  }
  async claim(now: number, leaseExpiresAt: number): Promise<ClaimRes> {
    this.clock = now;
    const r = await this.store.claim(this.jobId, 'h', leaseExpiresAt);
    if (r.type !== 'claimed') return { type: r.type };
    this.leases.set(r.claim.owner, leaseExpiresAt);
    return { type: 'claimed', owner: r.claim.owner, fence: r.claim.fence };
  }
  async mark(fence: number, now: number) {
    this.clock = now;
    const r = await this.jobs.markProcessing(this.jobId, 'uploads/x.jpg', fence);
    return { verdict: r.verdict, ...(r.previous?.status ? { previousStatus: r.previous.status } : {}) };
  }
  async complete(fence: number, now: number) {
    this.clock = now;
    const r = await this.jobs.complete(this.jobId, fence, []);
    return { verdict: r.verdict, ...(r.previous?.status ? { previousStatus: r.previous.status } : {}) };
  }
  private claimOf(owner: string, fence: number) {
    return { id: this.jobId, owner, fence, leaseExpiresAt: this.leases.get(owner) ?? 0 };
  }
  async completeAtomic(owner: string, fence: number, now: number) {
    this.clock = now;
    const r = await this.jobs.completeWithClaim(this.jobId, fence, [], this.store.completionTransactItem(this.claimOf(owner, fence)));
    return { verdict: r.verdict, ...(r.previous?.status ? { previousStatus: r.previous.status } : {}), claimLost: r.claimLost };
  }
  async completeClaim(owner: string, fence: number, now: number) {
    this.clock = now;
    return this.store.complete(this.claimOf(owner, fence));
  }
  async release(owner: string, fence: number, now: number) {
    this.clock = now;
    return this.store.release(this.claimOf(owner, fence));
  }
  async currentOwner() {
    const out = await this.client.send(new GetItemCommand({ TableName: this.idemTable, Key: { id: { S: this.jobId } }, ConsistentRead: true }));
    return str(out.Item, 'status') === 'in_progress' ? str(out.Item, 'owner') : undefined;
  }
  async job() {
    const out = await this.client.send(new GetItemCommand({ TableName: this.jobsTable, Key: { jobId: { S: this.jobId } }, ConsistentRead: true }));
    const status = str(out.Item, 'status') as JobStatus | undefined;
    const fence = num(out.Item, 'fence');
    return { ...(status ? { status } : {}), ...(fence !== undefined ? { fence } : {}), completions: num(out.Item, 'completions') ?? 0 };
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
