/**
 * The network-fault plan of the event-path chaos run (chaos/network-faults.ts does the faulting), for the
 * consumers' writes to the idempotency table and the Effects table:
 *  - HOLD one fenced write of an event (a completion, failure mark, release or effect: the writes an
 *    owner makes under its claim) until a newer owner has taken the event over and finished it, then
 *    deliver it: the storage must refuse it (a stale fenced write rejected);
 *  - DROP the response of a write after it was applied (claims too): the sender retries a write that
 *    already happened.
 * Seeded: a write's fate depends on the seed, its event's index and how many writes of that event came
 * before it, not on timing.
 */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamodbOperation, isConditionalRefusal, seededUnit, type FaultDecision, type HeldOutcome, type WireRequest } from '../network-faults';
import type { NetworkRates } from '../network-plan';

export interface EventFaultPlanOptions {
  readonly seed: number;
  readonly rates: NetworkRates;
  readonly idempotencyTable: string;
  readonly effectsTable: string;
  /** Admin client on the endpoint (reads the idempotency record a held write targets). */
  readonly dynamodb: () => DynamoDBClient;
  /** The plan index of an event id (undefined for ids not of this run). */
  readonly indexOf: (eventId: string) => number | undefined;
  /** Longest a write is held when no newer owner finishes (then it is delivered anyway). @default 90000 */
  readonly maxHoldMs?: number;
}

interface Parsed {
  readonly eventId: string;
  /** The writer's fence, for a fenced write (an owner write or an effect); undefined for a claim. */
  readonly fence?: number;
}

function parse(req: WireRequest, o: EventFaultPlanOptions): Parsed | undefined {
  if (dynamodbOperation(req) !== 'UpdateItem') return undefined;
  let body: { TableName?: string; Key?: Record<string, { S?: string }>; ConditionExpression?: string; ExpressionAttributeValues?: Record<string, { N?: string }> };
  try {
    body = JSON.parse(req.body.toString('utf8')) as typeof body;
  } catch {
    return undefined;
  }
  const cond = body.ConditionExpression ?? '';
  const values = body.ExpressionAttributeValues ?? {};
  if (body.TableName === o.idempotencyTable) {
    const id = body.Key?.id?.S;
    if (id === undefined) return undefined;
    // IdempotencyStore.ownerWrite: conditioned on the owner token and the fence.
    const fenced = /fence = :fence/.test(cond) && values[':fence']?.N !== undefined;
    return { eventId: id, ...(fenced ? { fence: Number(values[':fence']!.N) } : {}) };
  }
  if (body.TableName === o.effectsTable) {
    const pk = body.Key?.pk?.S;
    if (pk === undefined || !pk.startsWith('effect#') || values[':f']?.N === undefined) return undefined;
    return { eventId: pk.slice('effect#'.length), fence: Number(values[':f']!.N) };
  }
  return undefined;
}

export function eventFaultPlan(o: EventFaultPlanOptions): (req: WireRequest) => Promise<FaultDecision> {
  const writes = new Map<string, number>();
  const held = new Set<string>();
  const maxHoldMs = o.maxHoldMs ?? 90_000;
  const read = async (id: string): Promise<{ fence: number; status?: string }> => {
    const out = await o.dynamodb().send(new GetItemCommand({ TableName: o.idempotencyTable, Key: { id: { S: id } }, ConsistentRead: true }));
    return { fence: Number(out.Item?.fence?.N ?? 0), ...(out.Item?.status?.S !== undefined ? { status: out.Item.status.S } : {}) };
  };
  return async (req) => {
    const p = parse(req, o);
    if (p === undefined) return { fault: 'none' };
    const index = o.indexOf(p.eventId);
    if (index === undefined) return { fault: 'none' };
    const n = writes.get(p.eventId) ?? 0;
    writes.set(p.eventId, n + 1);
    if (p.fence !== undefined && !held.has(p.eventId) && seededUnit(o.seed, `ev-hold|${index}|${n}`) < o.rates.holdRate / 2) {
      held.add(p.eventId);
      const heldFence = p.fence;
      let tookOver = false;
      return {
        fault: 'hold',
        // Delivered once a newer owner (a higher fence) has finished the event (completed, or failed).
        release: async () => {
          const end = Date.now() + maxHoldMs;
          while (Date.now() < end) {
            const now = await read(p.eventId).catch(() => ({ fence: 0, status: undefined }));
            if (now.fence > heldFence && (now.status === 'completed' || now.status === 'failed')) {
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
    return seededUnit(o.seed, `ev-drop|${index}|${n}`) < o.rates.dropRate ? { fault: 'drop-response' } : { fault: 'none' };
  };
}
