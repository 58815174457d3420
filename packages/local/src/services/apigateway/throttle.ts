/**
 * API Gateway stage throttling as a token bucket: `burstLimit` tokens, refilled at `rateLimit` per second;
 * a request takes one token or is refused (429). Pure: the clock is passed in.
 */
export interface ThrottleSettings {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly settings: ThrottleSettings, nowMs: number) {
    this.tokens = settings.burstLimit;
    this.last = nowMs;
  }

  /** Takes a token if one is available. */
  tryTake(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.last) / 1000;
    this.last = Math.max(this.last, nowMs);
    this.tokens = Math.min(this.settings.burstLimit, this.tokens + elapsed * this.settings.rateLimit);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
