/**
 * What the chaos run will do, decided up front from the seed (pure): which jobs are poison, which are
 * submitted more than once and how, and the fault rates handed to the worker. Same seed, same plan.
 */
import { seededRandom } from '@floodgate/runtime';

export type JobKind = 'good' | 'poison-image' | 'poison-message';
/** `api-replay`: POST /jobs again with the same Idempotency-Key; `sqs-duplicate`: the same job message sent to the queue again. */
export type ExtraSubmission = 'api-replay' | 'sqs-duplicate';

export interface PlannedJob {
  readonly index: number;
  readonly kind: JobKind;
  /** Submissions after the first (10% of jobs get one or two). */
  readonly extra: readonly ExtraSubmission[];
  /** Delay before each extra submission, ms (some land while the job runs, some after it finished). */
  readonly extraDelaysMs: readonly number[];
  /** Which corpus item a poison job uses (index into the bad images or bad messages). */
  readonly corpusIndex: number;
}

export interface ChaosRates {
  /** Share of jobs submitted twice or more. @default 0.1 */
  readonly duplicateRate: number;
  /** Share of poison jobs. @default 0.02 */
  readonly poisonRate: number;
  /** Target share of invocations killed. @default 0.05 */
  readonly killRate: number;
  /** Share of AWS calls failing (throttling / 5xx) at the handlers' SDK layer. @default 0.05 */
  readonly awsErrorRate: number;
  /** Share of fault points where the holder pauses. @default 0.004 */
  readonly pauseRate: number;
}

export const DEFAULT_RATES: ChaosRates = { duplicateRate: 0.1, poisonRate: 0.02, killRate: 0.05, awsErrorRate: 0.05, pauseRate: 0.004 };

/** Fault points the worker passes per record it processes (worker.ts: after-claim, after-rendition-put, before-complete). */
export const FAULT_POINTS_PER_RECORD = 3;

/**
 * The per-fault-point crash probability that kills about `killRate` of invocations when an invocation
 * passes `pointsPerInvocation` fault points: 1 - (1 - killRate)^(1 / points).
 */
export function crashRateFor(killRate: number, pointsPerInvocation: number): number {
  if (killRate <= 0) return 0;
  return 1 - (1 - killRate) ** (1 / Math.max(1, pointsPerInvocation));
}

function shuffled(n: number, random: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export function planJobs(count: number, seed: number, rates: ChaosRates, corpusSizes: { images: number; messages: number }): PlannedJob[] {
  const random = seededRandom(seed);
  const order = shuffled(count, random);
  // At least one poison job of each kind whenever there are enough jobs to have poison at all.
  const poisonCount = rates.poisonRate > 0 ? Math.max(Math.round(count * rates.poisonRate), count >= 20 ? 2 : 0) : 0;
  const poison = new Set(order.slice(0, poisonCount));
  const dupCount = Math.round(count * rates.duplicateRate);
  const dups = new Set(order.slice(poisonCount, poisonCount + dupCount));
  let images = 0;
  let messages = 0;
  return Array.from({ length: count }, (_, index) => {
    if (poison.has(index)) {
      // Alternate corrupt images and bad payloads, walking through the corpus.
      const image = (images + messages) % 2 === 0 && corpusSizes.images > 0;
      const corpusIndex = image ? images++ % corpusSizes.images : messages++ % corpusSizes.messages;
      return { index, kind: image ? 'poison-image' : 'poison-message', extra: [], extraDelaysMs: [], corpusIndex };
    }
    if (!dups.has(index)) return { index, kind: 'good', extra: [], extraDelaysMs: [], corpusIndex: 0 };
    const n = random() < 0.7 ? 1 : 2;
    const extra: ExtraSubmission[] = Array.from({ length: n }, () => (random() < 0.5 ? 'api-replay' : 'sqs-duplicate'));
    const extraDelaysMs = extra.map(() => Math.floor(random() * 5000));
    return { index, kind: 'good', extra, extraDelaysMs, corpusIndex: 0 };
  });
}
