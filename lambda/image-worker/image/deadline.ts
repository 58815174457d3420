/**
 * The per-image time budget. Two mechanisms, because neither is enough alone:
 * - sharp's `.timeout({ seconds })` stops libvips itself (whole seconds, per pipeline), so an abandoned
 *   pipeline does not keep burning the CPU lane;
 * - a JS timer races every step, so the caller gets its answer on time even between pipelines.
 * The caller's AbortSignal (the invocation's hard deadline) is not the image's fault: it surfaces as a
 * retryable Timeout (or the signal's own FloodgateError reason), never as a permanent ImageTimeout.
 */
import { FloodgateError, PermanentError, RetryableError } from '@floodgate/runtime';

export class ImageDeadline {
  private readonly endsAt: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
    private readonly now: () => number = Date.now,
  ) {
    this.endsAt = now() + timeoutMs;
  }

  remainingMs(): number {
    return this.endsAt - this.now();
  }

  /** Whole seconds for sharp's timeout(): what is left, rounded up, at least 1. */
  sharpSeconds(): number {
    return Math.max(1, Math.ceil(this.remainingMs() / 1000));
  }

  /** Throws if the budget is spent or the caller aborted. */
  check(): void {
    if (this.signal?.aborted) throw this.abortError();
    if (this.remainingMs() <= 0) throw this.timeoutError();
  }

  timeoutError(): PermanentError {
    return new PermanentError('ImageTimeout', `image took longer than its ${formatMs(this.timeoutMs)} budget`);
  }

  private abortError(): FloodgateError {
    const reason: unknown = this.signal?.reason;
    if (reason instanceof FloodgateError) return reason;
    return new RetryableError('Timeout', `image processing aborted by the caller${reason instanceof Error ? `: ${reason.message}` : ''}`, { cause: reason });
  }

  /** Resolves with `work`, or rejects when the budget runs out or the signal aborts, whichever comes first. */
  async race<T>(work: Promise<T>): Promise<T> {
    this.check();
    // The losing promise may still reject later; never let that become an unhandled rejection.
    work.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.timeoutError()), Math.max(0, this.remainingMs()));
      if (this.signal) {
        onAbort = () => reject(this.abortError());
        this.signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    try {
      return await Promise.race([work, guard]);
    } finally {
      clearTimeout(timer);
      if (onAbort) this.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
