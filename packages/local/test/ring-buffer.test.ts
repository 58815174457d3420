import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../src/core/ring-buffer';
import { RunnerTelemetry } from '../src/services/lambda/event-source-telemetry';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` entries, oldest first, and counts what it let go', () => {
    const r = new RingBuffer<number>(3);
    expect(r.toArray()).toEqual([]);
    expect(r.last()).toBeUndefined();
    for (let i = 1; i <= 2; i++) r.push(i);
    expect(r.toArray()).toEqual([1, 2]);
    for (let i = 3; i <= 7; i++) r.push(i);
    expect(r.toArray()).toEqual([5, 6, 7]);
    expect(r.length).toBe(3);
    expect(r.dropped).toBe(4);
    expect(r.total).toBe(7);
    expect(r.last()).toBe(7);
  });
  it('refuses a capacity below 1', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe('RunnerTelemetry', () => {
  it('holds at most its capacity of invocation records however many invocations run', () => {
    const t = new RunnerTelemetry({ invocations: 100, samples: 10 });
    for (let i = 0; i < 10_000; i++) {
      t.invocationStarted(1);
      t.invocationSettled({ t: i, requestId: String(i), batchSize: 1, deleted: 1, failed: 0, durationMs: 1, outcome: 'success', maxReceiveCount: 1 });
      t.invocationEnded();
      t.samples.push({ t: i, inFlight: 0, limit: 1 });
    }
    expect(t.invocations.length).toBe(100);
    expect(t.invocations.toArray()[0]!.requestId).toBe('9900');
    expect(t.samples.length).toBe(10);
    expect(t.counters).toMatchObject({ invocations: 10_000, deleted: 10_000, received: 10_000 });
  });
  it('says a receive failure once per run of failures of one code', () => {
    const t = new RunnerTelemetry();
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDenied' });
    expect(t.receiveFailed(denied)).toBe(true);
    expect(t.receiveFailed(denied)).toBe(false);
    expect(t.lastReceiveError).toMatchObject({ code: 'AccessDenied', message: 'not authorized' });
    t.receiveSucceeded();
    expect(t.receiveFailed(denied)).toBe(true);
    expect(t.counters.receiveErrors).toBe(3);
  });
});
