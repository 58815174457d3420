/**
 * AWS SDK v3 clients for handlers: the SDK's own adaptive retry strategy (exponential backoff with full
 * jitter plus client-side rate limiting when throttled), a request counter (DynamoDB requests per record
 * for the benchmark), fault injection when FLOODGATE_FAULTS is set, and path-style S3 when an endpoint
 * override points at an emulator. Endpoints come from AWS_ENDPOINT_URL_* automatically (SDK v3).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AdaptiveRetryStrategy } from '@smithy/util-retry';
import { addFaultMiddleware, type MiddlewareStackLike } from './faults.js';
import { needsPathStyle } from './s3-addressing.js';

export { needsPathStyle };

/** Attempts per SDK call (1 + retries). Small: the invocation deadline, not the SDK, bounds the wait. */
export const DEFAULT_MAX_ATTEMPTS = 4;

/** Counts requests sent per client, retries included (each attempt is a billed request). */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  increment(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  reset(): void {
    this.counts.clear();
  }
}

/**
 * The requests of one invocation: clients are shared by every invocation of an execution environment
 * (Lambda Managed Instances runs several at once), so a per-invocation count follows the async context
 * of the invocation instead of living on the client.
 */
const invocationRequests = new AsyncLocalStorage<RequestCounter>();

/** Runs `fn` so that requests sent by counted clients (addRequestCounter) during it are also counted in `counter`. */
export function countRequestsDuring<T>(counter: RequestCounter, fn: () => Promise<T>): Promise<T> {
  return invocationRequests.run(counter, fn);
}

/**
 * Counts every attempt that goes on the wire (finalizeRequest, below the retry middleware), in `counter`
 * and in the current invocation's counter (countRequestsDuring).
 */
export function addRequestCounter(client: { middlewareStack: unknown }, counter: RequestCounter, key: string): void {
  (client.middlewareStack as MiddlewareStackLike).add(
    (next) => async (args) => {
      counter.increment(key);
      invocationRequests.getStore()?.increment(key);
      return next(args);
    },
    { step: 'finalizeRequest', name: `floodgateRequestCounter`, priority: 'low' },
  );
}

export interface HandlerClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly requests: RequestCounter;
}


export function createHandlerClients(env: Record<string, string | undefined> = process.env, maxAttempts = DEFAULT_MAX_ATTEMPTS): HandlerClients {
  const common = { retryStrategy: new AdaptiveRetryStrategy(maxAttempts) };
  const requests = new RequestCounter();
  const dynamodb = new DynamoDBClient({ ...common });
  const s3 = new S3Client({ ...common, ...(needsPathStyle(env) ? { forcePathStyle: true } : {}) });
  const sqs = new SQSClient({ ...common });
  for (const [key, client] of [['dynamodb', dynamodb], ['s3', s3], ['sqs', sqs]] as const) {
    addRequestCounter(client, requests, key);
    addFaultMiddleware(client);
  }
  return { dynamodb, s3, sqs, requests };
}
