/**
 * A counting gate whose limit can change while it is held: `acquire` waits until fewer than `limit`
 * slots are in use. Lowering the limit takes nothing back from holders; it only stops new acquisitions
 * until enough holders have released (what Lambda does when MaximumConcurrency is lowered).
 */
export class ConcurrencyGate {
  private used = 0;
  private max: number;
  private readonly waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.max = ConcurrencyGate.check(limit);
  }

  private static check(limit: number): number {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`gate limit must be an integer >= 0 (got ${limit})`);
    return limit;
  }

  get inUse(): number {
    return this.used;
  }
  get limit(): number {
    return this.max;
  }
  /** Waiters not yet admitted. */
  get waiting(): number {
    return this.waiters.length;
  }

  setLimit(limit: number): void {
    this.max = ConcurrencyGate.check(limit);
    this.admit();
  }

  /** Takes a slot only if one is free now and nobody is waiting for one. */
  tryAcquire(): boolean {
    if (this.used < this.max && this.waiters.length === 0) {
      this.used++;
      return true;
    }
    return false;
  }

  /** Resolves true once a slot is held, false if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.used < this.max && this.waiters.length === 0) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const admit = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.used++;
        resolve(true);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(admit);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(admit);
    });
  }

  release(): void {
    if (this.used <= 0) throw new Error('ConcurrencyGate.release() without a held slot');
    this.used--;
    this.admit();
  }

  private admit(): void {
    while (this.used < this.max && this.waiters.length > 0) this.waiters.shift()!();
  }
}
