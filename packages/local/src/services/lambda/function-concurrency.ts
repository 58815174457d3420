/**
 * A function's reserved concurrency, shared by everything that runs it: every SQS mapping's poller, the
 * asynchronous event queue (Invoke Event, SNS, S3, EventBridge) and synchronous Invoke. As on AWS the
 * limit counts concurrent executions of the function, whatever started them. Without reserved
 * concurrency nothing is limited here (the mappings keep their own MaximumConcurrency).
 */
import type { FunctionHost, InvokeResult } from '../../lambda-host/index.js';
import { ConcurrencyGate } from './event-source-gate.js';

/** Unreserved: the account's concurrency is not modelled locally. */
const UNRESERVED = Number.MAX_SAFE_INTEGER;

export class FunctionConcurrency {
  private readonly gate: ConcurrencyGate;
  private reservedNow: number | undefined;
  private peak = 0;

  constructor(reserved?: number) {
    this.reservedNow = reserved;
    this.gate = new ConcurrencyGate(reserved ?? UNRESERVED);
  }

  /** ReservedConcurrentExecutions, or undefined when none is reserved. */
  get reserved(): number | undefined {
    return this.reservedNow;
  }
  get inUse(): number {
    return this.gate.inUse;
  }
  /** Highest number of concurrent executions seen. */
  get maxInUse(): number {
    return this.peak;
  }

  /** PutFunctionConcurrency (a number) or DeleteFunctionConcurrency (undefined): applies at once. */
  setReserved(reserved: number | undefined): void {
    this.reservedNow = reserved;
    this.gate.setLimit(reserved ?? UNRESERVED);
  }

  /** A slot if one is free now (synchronous Invoke: otherwise 429). */
  tryAcquire(): boolean {
    const ok = this.gate.tryAcquire();
    if (ok) this.peak = Math.max(this.peak, this.gate.inUse);
    return ok;
  }

  /** Waits for a slot (in arrival order); false when `signal` aborts first. */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    const ok = await this.gate.acquire(signal);
    if (ok) this.peak = Math.max(this.peak, this.gate.inUse);
    return ok;
  }

  release(): void {
    this.gate.release();
  }

  /** Runs `host.invoke` inside a slot, waiting for one (what an event source poller does). */
  async run(host: Pick<FunctionHost, 'invoke'>, event: unknown, options?: { readonly requestId?: string }): Promise<InvokeResult> {
    await this.acquire();
    try {
      return await host.invoke(event, options);
    } finally {
      this.release();
    }
  }
}

/** The host as an event source poller sees it: every invocation takes one of the function's slots first. */
export function withFunctionConcurrency(host: FunctionHost, concurrency: FunctionConcurrency): FunctionHost {
  return { ...host, stats: () => host.stats(), onLog: (l) => host.onLog(l), stop: () => host.stop(), invoke: (event, options) => concurrency.run(host, event, options) };
}
