import { describe, expect, it } from 'vitest';
import { memoryTrend, type RssSample } from '../../chaos/memory';
import { crashRateFor, DEFAULT_RATES, planJobs } from '../../chaos/plan';

describe('chaos plan', () => {
  it('is reproducible from the seed and has the requested shares', () => {
    const a = planJobs(1000, 42, DEFAULT_RATES, { images: 17, messages: 33 });
    expect(planJobs(1000, 42, DEFAULT_RATES, { images: 17, messages: 33 })).toEqual(a);
    expect(planJobs(1000, 43, DEFAULT_RATES, { images: 17, messages: 33 })).not.toEqual(a);
    const poison = a.filter((j) => j.kind !== 'good');
    expect(poison).toHaveLength(20);
    expect(poison.filter((j) => j.kind === 'poison-image')).toHaveLength(10);
    expect(a.filter((j) => j.extra.length > 0)).toHaveLength(100);
    expect(a.every((j) => j.kind === 'good' || j.extra.length === 0)).toBe(true);
    expect(new Set(a.flatMap((j) => j.extra))).toEqual(new Set(['api-replay', 'sqs-duplicate']));
    // Poison walks through the corpus instead of repeating one item.
    expect(new Set(poison.filter((j) => j.kind === 'poison-message').map((j) => j.corpusIndex)).size).toBe(10);
  });

  it('a small run still gets one poison job of each kind', () => {
    const p = planJobs(100, 1, DEFAULT_RATES, { images: 5, messages: 5 });
    expect(p.filter((j) => j.kind === 'poison-image')).toHaveLength(1);
    expect(p.filter((j) => j.kind === 'poison-message')).toHaveLength(1);
  });

  it('sizes the per-point crash rate so that the invocation kill rate is the target', () => {
    const p = crashRateFor(0.05, 12);
    expect(1 - (1 - p) ** 12).toBeCloseTo(0.05, 10);
    expect(crashRateFor(0, 12)).toBe(0);
  });
});

describe('memory trend', () => {
  const series = (f: (i: number) => number): RssSample[] => Array.from({ length: 100 }, (_, i) => ({ t: i * 500, rssMb: f(i), completed: i * 100 }));

  it('flat after warm-up is flat, whatever the warm-up did', () => {
    const t = memoryTrend(series((i) => (i < 20 ? 100 + i * 5 : 200 + (i % 3))));
    expect(t.flat).toBe(true);
    expect(t.peakMb).toBe(202);
    expect(Math.abs(t.mbPer1000Jobs)).toBeLessThan(0.1);
  });

  it('memory that follows the jobs processed is growing', () => {
    const t = memoryTrend(series((i) => 150 + i * 2));
    expect(t.flat).toBe(false);
    expect(t.lateMinusEarlyMb).toBeGreaterThan(64);
    expect(t.mbPer1000Jobs).toBeCloseTo(20, 5);
  });
});
