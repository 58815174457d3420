/**
 * Concurrency lanes: p-limit queues that never run more than `size` tasks at once, with the maximum
 * actually reached recorded (for metrics and the lane-cap tests). Work queued on a lane costs a closure,
 * not a connection or a decoded image, so a 10,000-record batch stays bounded in memory and sockets.
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class Lane {
  private readonly limit: LimitFunction;
  private running = 0;
  private peak = 0;

  constructor(readonly name: string, readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`lane ${name}: size must be an integer >= 1, got ${size}`);
    this.limit = pLimit(size);
  }

  /** Runs `task` when a slot is free. If `signal` aborts while waiting, the task never starts. */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.limit(async () => {
      signal?.throwIfAborted();
      this.running++;
      if (this.running > this.peak) this.peak = this.running;
      try {
        return await task();
      } finally {
        this.running--;
      }
    });
  }

  /** Tasks running right now. */
  get inFlight(): number {
    return this.running;
  }

  /** Most tasks ever running at once since construction or the last reset. */
  get maxInFlight(): number {
    return this.peak;
  }

  /** Tasks waiting for a slot. */
  get pending(): number {
    return this.limit.pendingCount;
  }

  resetPeak(): void {
    this.peak = this.running;
  }
}

export interface Lanes {
  readonly io: Lane;
  readonly cpu: Lane;
  /**
   * Records holding a large buffer at once (a downloaded source waiting for, or in, the CPU lane). Without
   * it, a 16-wide I/O lane could park 16 x 50 MB sources in memory in front of a 2-wide CPU lane.
   */
  readonly memory: Lane;
}

/** Default memory lane: one buffer rendering plus one prefetched per CPU slot. */
export function defaultMemoryLaneSize(cpuSize: number): number {
  return Math.max(2, cpuSize * 2);
}

export function createLanes(ioSize: number, cpuSize: number, memorySize = defaultMemoryLaneSize(cpuSize)): Lanes {
  return { io: new Lane('io', ioSize), cpu: new Lane('cpu', cpuSize), memory: new Lane('memory', memorySize) };
}
