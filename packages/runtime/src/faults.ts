/**
 * Fault injection for the chaos run. Active only when FLOODGATE_FAULTS is set, e.g.
 *   {"seed":1,"awsErrorRate":0.05,"crashRate":0.05,"pauseRate":0.02,"pauseMs":8000}
 * - `addFaultMiddleware`: SDK middleware that fails calls with throttling / 5xx errors at awsErrorRate; it sits
 *   inside the SDK's retry middleware, so injected errors are retried exactly like real ones;
 * - `faultPoint(name)`: with crashRate kills the execution environment (process.exit(137)), with pauseRate
 *   sleeps pauseMs (a paused lease holder).
 * With the variable unset, everything here is a no-op that allocates nothing.
 */
export const FAULTS_ENV = 'FLOODGATE_FAULTS';

export interface FaultConfig {
  readonly seed: number;
  readonly awsErrorRate: number;
  readonly crashRate: number;
  readonly pauseRate: number;
  readonly pauseMs: number;
  /** Only these fault points fire (all when absent). */
  readonly points?: readonly string[];
}

export function parseFaultConfig(raw: string | undefined): FaultConfig | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const j = JSON.parse(raw) as Partial<FaultConfig>;
  const rate = (v: unknown, name: string): number => {
    if (v === undefined) return 0;
    if (typeof v !== 'number' || v < 0 || v > 1) throw new Error(`${FAULTS_ENV}.${name} must be a number in 0..1`);
    return v;
  };
  return {
    seed: typeof j.seed === 'number' ? j.seed : Date.now(),
    awsErrorRate: rate(j.awsErrorRate, 'awsErrorRate'),
    crashRate: rate(j.crashRate, 'crashRate'),
    pauseRate: rate(j.pauseRate, 'pauseRate'),
    pauseMs: typeof j.pauseMs === 'number' ? j.pauseMs : 8000,
    ...(Array.isArray(j.points) ? { points: j.points } : {}),
  };
}

/** mulberry32: small seeded PRNG so a chaos run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let active: { config: FaultConfig; random: () => number } | undefined | null = null;

function state(): { config: FaultConfig; random: () => number } | undefined {
  if (active === null) {
    const config = parseFaultConfig(process.env[FAULTS_ENV]);
    // Each execution environment gets its own stream (pid), reproducible for a given seed and pid.
    active = config ? { config, random: seededRandom(config.seed ^ process.pid) } : undefined;
  }
  return active;
}

/** Tests only: re-read the environment. */
export function resetFaults(): void {
  active = null;
}

export function faultsEnabled(): boolean {
  return state() !== undefined;
}

/** Exit code used for injected crashes (what a SIGKILL'd process reports). */
export const CRASH_EXIT_CODE = 137;

export async function faultPoint(name: string): Promise<void> {
  const s = state();
  if (!s) return;
  if (s.config.points && !s.config.points.includes(name)) return;
  const r = s.random();
  if (r < s.config.crashRate) {
    console.log(JSON.stringify({ level: 'WARN', event: 'fault-crash', point: name }));
    process.exit(CRASH_EXIT_CODE);
  }
  if (r < s.config.crashRate + s.config.pauseRate) {
    console.log(JSON.stringify({ level: 'WARN', event: 'fault-pause', point: name, pauseMs: s.config.pauseMs }));
    await new Promise((resolve) => setTimeout(resolve, s.config.pauseMs));
  }
}

/** An error shaped like the SDK's own service errors, so classification and retry treat it as real. */
export function injectedAwsError(random: number): Error & { $metadata: { httpStatusCode: number }; $fault: 'server' | 'client' } {
  const throttle = random < 0.5;
  const err = new Error(throttle ? 'Rate exceeded (injected)' : 'We encountered an internal error (injected)') as Error & {
    $metadata: { httpStatusCode: number };
    $fault: 'server' | 'client';
  };
  err.name = throttle ? 'ThrottlingException' : 'InternalServerError';
  err.$metadata = { httpStatusCode: throttle ? 400 : 500 };
  err.$fault = throttle ? 'client' : 'server';
  return err;
}

/** Minimal structural type of an SDK v3 client's middleware stack (avoids importing @smithy/types). */
export interface MiddlewareStackLike {
  add(middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>, options: { step: 'finalizeRequest' | 'build' | 'initialize' | 'deserialize' | 'serialize'; name: string; priority?: 'high' | 'low' | 'normal' }): void;
}

/** Adds the injection middleware to a client when faults are enabled. Sits below the retry middleware. */
export function addFaultMiddleware(client: { middlewareStack: unknown }): void {
  const s = state();
  if (!s || s.config.awsErrorRate <= 0) return;
  (client.middlewareStack as MiddlewareStackLike).add(
    (next) => async (args) => {
      const r = s.random();
      if (r < s.config.awsErrorRate) throw injectedAwsError(r / s.config.awsErrorRate);
      return next(args);
    },
    // finalizeRequest runs inside the retry middleware, so injected errors are retried like real ones.
    { step: 'finalizeRequest', name: 'floodgateFaultInjection', priority: 'low' },
  );
}
