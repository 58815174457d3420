/**
 * The chaos run's network-fault plan for the image worker's traffic (chaos/network-faults.ts does the
 * faulting): which writes to the jobs table are held past their sender's lease, which write responses
 * (jobs table, rendition PUTs) are dropped after the write was applied. Seeded: a write's fate depends
 * on the seed, its job's index in the plan and how many writes for that job came before it (job ids
 * differ from run to run; indices do not).
 */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamodbOperation, isConditionalRefusal, seededUnit, writtenKeys, type FaultDecision, type HeldOutcome, type WireRequest } from './network-faults';

export interface NetworkRates {
  /** Share of jobs one of whose jobs-table writes is held until a newer owner finished the job. @default 0.03 */
  readonly holdRate: number;
  /** Share of writes (jobs table, rendition PUTs) whose response is dropped after the write. @default 0.02 */
  readonly dropRate: number;
}

export const DEFAULT_NETWORK_RATES: NetworkRates = { holdRate: 0.03, dropRate: 0.02 };

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem']);

interface RecordState { readonly fence: number; readonly status?: string }

export interface JobFaultPlanOptions {
  readonly seed: number;
  readonly rates: NetworkRates;
  readonly jobsTable: string;
  /** Admin client on the endpoint (reads the record the held write targets). */
  readonly dynamodb: () => DynamoDBClient;
  /** The plan index of a submitted job (undefined until the producer has its id). */
  readonly indexOf: (jobId: string) => number | undefined;
  /** Longest a write is held when no newer owner finishes (then it is delivered anyway). @default 120000 */
  readonly maxHoldMs?: number;
}

export function jobFaultPlan(options: JobFaultPlanOptions): (req: WireRequest) => Promise<FaultDecision> {
  const writesPerJob = new Map<string, number>();
  const heldJobs = new Set<string>();
  const maxHoldMs = options.maxHoldMs ?? 120_000;
  const read = async (jobId: string): Promise<RecordState> => {
    const out = await options.dynamodb().send(new GetItemCommand({ TableName: options.jobsTable, Key: { jobId: { S: jobId } }, ConsistentRead: true }));
    return { fence: Number(out.Item?.fence?.N ?? 0), ...(out.Item?.status?.S !== undefined ? { status: out.Item.status.S } : {}) };
  };
  // The worker can see a job before the producer has recorded its id (the API answers after enqueuing).
  const indexOf = async (jobId: string): Promise<number | undefined> => {
    for (let i = 0; i < 40; i++) {
      const n = options.indexOf(jobId);
      if (n !== undefined) return n;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  };
  return async (req) => {
    const op = dynamodbOperation(req);
    if (op !== undefined) {
      if (!WRITES.has(op)) return { fault: 'none' };
      const jobId = writtenKeys(req, 'jobId', options.jobsTable)[0];
      if (jobId === undefined) return { fault: 'none' };
      const n = writesPerJob.get(jobId) ?? 0;
      writesPerJob.set(jobId, n + 1);
      const index = await indexOf(jobId);
      if (index === undefined) return { fault: 'none' };
      if (!heldJobs.has(jobId) && seededUnit(options.seed, `hold|${index}|${n}`) < options.rates.holdRate / 2) {
        heldJobs.add(jobId);
        const before = read(jobId);
        let tookOver = false;
        return {
          fault: 'hold',
          // Delivered once a newer owner has taken the job over and finished it (a higher fence and an end state).
          release: async () => {
            const at = await before;
            const end = Date.now() + maxHoldMs;
            while (Date.now() < end) {
              const now = await read(jobId).catch(() => at);
              if (now.fence > at.fence && (now.status === 'completed' || now.status === 'failed')) {
                tookOver = true;
                return;
              }
              await new Promise((r) => setTimeout(r, 500));
            }
          },
          judge: (answer): HeldOutcome => {
            if (!tookOver) return 'not-stale';
            if (isConditionalRefusal(answer)) return 'stale-rejected';
            return answer.status === 200 ? 'stale-accepted' : 'not-stale';
          },
        };
      }
      return seededUnit(options.seed, `drop|${index}|${n}`) < options.rates.dropRate ? { fault: 'drop-response' } : { fault: 'none' };
    }
    // S3: rendition PUTs (path-style /bucket/renditions/...).
    const m = /^\/[^/]+\/renditions\/([^/]+)\/([^?]+)/.exec(req.path);
    if (req.method === 'PUT' && m) {
      const index = await indexOf(decodeURIComponent(m[1]!));
      if (index === undefined) return { fault: 'none' };
      return seededUnit(options.seed, `drop-s3|${index}|${m[2]}`) < options.rates.dropRate ? { fault: 'drop-response' } : { fault: 'none' };
    }
    return { fault: 'none' };
  };
}
