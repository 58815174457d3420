import { describe, expect, it } from 'vitest';
import { ConcurrencyGate } from '../src/services/lambda/event-source-gate';
import { createScalingModel, localConcurrencyCeiling, scalingCeiling, ScalingConfigError, validateScalingSettings } from '../src/services/lambda/event-source-scaling';

/** Feeds the model one observation per second for `seconds`, with a backlog that outruns it. */
function run(model: ReturnType<typeof createScalingModel>, from: number, seconds: number, o: { saturated: boolean; messagesSeen: boolean }): number {
  let t = from;
  for (let i = 0; i < seconds; i++) {
    t += 1000;
    model.observe({ now: t, ...o });
  }
  return t;
}

describe('scaling model: standard mode (no MaximumConcurrency, no reserved concurrency)', () => {
  it('starts at 5, adds 300 a minute while saturated with a backlog, stops at the local ceiling', () => {
    const m = createScalingModel({ localCeiling: 1250 }, 0);
    expect(m.mode).toBe('standard');
    expect(m.limit()).toBe(5);
    let t = run(m, 0, 60, { saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(305);
    t = run(m, t, 30, { saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(455);
    run(m, t, 600, { saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(1250); // Lambda's per-mapping maximum
  });

  it('defaults to a local ceiling of 150 (overridable by FLOODGATE_LOCAL_MAX_CONCURRENCY)', () => {
    const m = createScalingModel({}, 0);
    run(m, 0, 600, { saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(150);
    expect(m.ceiling).toBe(150);
    expect(localConcurrencyCeiling(undefined, { FLOODGATE_LOCAL_MAX_CONCURRENCY: '40' })).toBe(40);
    expect(() => localConcurrencyCeiling(undefined, { FLOODGATE_LOCAL_MAX_CONCURRENCY: 'lots' })).toThrow(ScalingConfigError);
  });

  it('does not grow when not saturated, and scales back towards 5 when the queue is idle', () => {
    const m = createScalingModel({ localCeiling: 1000 }, 0);
    let t = run(m, 0, 30, { saturated: false, messagesSeen: true });
    expect(m.limit()).toBe(5);
    t = run(m, t, 20, { saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(105);
    t = run(m, t, 10, { saturated: false, messagesSeen: false });
    expect(m.limit()).toBe(55);
    t = run(m, t, 600, { saturated: false, messagesSeen: false });
    expect(m.limit()).toBe(5);
  });

  it('a saturated period with no receive (every slot busy invoking) is not idle: no scale-down', () => {
    const m = createScalingModel({ localCeiling: 1000 }, 0);
    let t = run(m, 0, 20, { saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(105);
    t = run(m, t, 30, { saturated: true, messagesSeen: false });
    expect(m.limit()).toBe(105);
  });

  it('sums fractional periods exactly (250 ms observations)', () => {
    const m = createScalingModel({ localCeiling: 1000 }, 0);
    for (let t = 250; t <= 60_000; t += 250) m.observe({ now: t, saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(305);
  });
});

describe('scaling model: capped and provisioned modes', () => {
  it('a cap (MaximumConcurrency and/or reserved) applies at once, as min of the two', () => {
    const m = createScalingModel({ maximumConcurrency: 50, reservedConcurrency: 20 }, 0);
    expect(m.mode).toBe('capped');
    expect(m.limit()).toBe(20);
    run(m, 0, 60, { saturated: true, messagesSeen: true });
    expect(m.limit()).toBe(20);
    expect(createScalingModel({ reservedConcurrency: 0 }, 0).limit()).toBe(0);
    expect(createScalingModel({ maximumConcurrency: 500 }, 0).limit()).toBe(150); // local ceiling
  });

  it('provisioned: minimum pollers warm (10 invokes each), pollers added at 1,000 invokes a minute up to the maximum', () => {
    const m = createScalingModel({ provisionedPollerConfig: { minimumPollers: 3, maximumPollers: 8 }, localCeiling: 1000 }, 0);
    expect(m.mode).toBe('provisioned');
    expect(m.pollers()).toBe(3);
    expect(m.limit()).toBe(30);
    let t = run(m, 0, 3, { saturated: true, messagesSeen: true }); // +50 invokes = 5 pollers
    expect(m.pollers()).toBe(8);
    expect(m.limit()).toBe(80);
    t = run(m, t, 60, { saturated: true, messagesSeen: true });
    expect(m.pollers()).toBe(8); // MaximumPollers
    run(m, t, 600, { saturated: false, messagesSeen: false });
    expect(m.pollers()).toBe(3); // back to the warm minimum, never below
  });

  it('provisioned: reserved concurrency and the local ceiling bound what the pollers drive', () => {
    const m = createScalingModel({ provisionedPollerConfig: { minimumPollers: 5, maximumPollers: 100 }, reservedConcurrency: 25 }, 0);
    expect(m.limit()).toBe(25);
    expect(scalingCeiling({ provisionedPollerConfig: { minimumPollers: 5, maximumPollers: 100 } })).toBe(150);
    expect(scalingCeiling({ provisionedPollerConfig: { minimumPollers: 2, maximumPollers: 4 } })).toBe(40);
  });

  it('validates ProvisionedPollerConfig as Lambda does, and its exclusivity with MaximumConcurrency', () => {
    expect(() => validateScalingSettings({ provisionedPollerConfig: { minimumPollers: 2 }, maximumConcurrency: 10 })).toThrow(/mutually exclusive/);
    expect(() => validateScalingSettings({ provisionedPollerConfig: { minimumPollers: 1 } })).toThrow(/MinimumPollers must be an integer 2\.\.200/);
    expect(() => validateScalingSettings({ provisionedPollerConfig: { minimumPollers: 10, maximumPollers: 5 } })).toThrow(/below MinimumPollers/);
    expect(() => validateScalingSettings({ provisionedPollerConfig: { maximumPollers: 2001 } })).toThrow(/MaximumPollers/);
    expect(() => validateScalingSettings({ maximumConcurrency: 1 })).toThrow(/2\.\.1000/);
    expect(() => validateScalingSettings({ provisionedPollerConfig: {} })).not.toThrow();
  });
});

describe('ConcurrencyGate', () => {
  it('admits up to the limit; a lowered limit admits nobody until holders are under it', async () => {
    const g = new ConcurrencyGate(3);
    for (let i = 0; i < 3; i++) expect(await g.acquire()).toBe(true);
    let admitted = 0;
    const waiting = [g.acquire(), g.acquire()].map((p) => p.then(() => admitted++));
    g.setLimit(1);
    g.release(); // 2 held, limit 1
    await Promise.resolve();
    expect(admitted).toBe(0);
    g.release(); // 1 held
    await Promise.resolve();
    expect(admitted).toBe(0);
    g.release(); // 0 held: one waiter in
    await new Promise((r) => setTimeout(r, 0));
    expect(admitted).toBe(1);
    expect(g.inUse).toBe(1);
    g.setLimit(2); // raising admits the other at once
    await Promise.all(waiting);
    expect(g.inUse).toBe(2);
  });

  it('limit 0 admits nobody; an aborted wait gives up its place', async () => {
    const g = new ConcurrencyGate(0);
    const ac = new AbortController();
    const p = g.acquire(ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    expect(g.waiting).toBe(0);
    expect(() => g.release()).toThrow();
  });
});
