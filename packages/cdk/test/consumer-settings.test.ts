import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ageOfOldestMessageThresholdSeconds,
  cpuLaneSize,
  deriveConsumerSettings,
  deriveDeadlineMargins,
  deriveMaxConcurrency,
  deriveReservedConcurrency,
  deriveVisibilityTimeoutSeconds,
  validateBatching,
  validateFifoBatching,
  validateMaxReceiveCount,
  validateRetention,
} from '../src/consumer-settings/index';
import { FloodgateValidationError } from '../src/errors';
import { expectInvalid } from './support';

describe('deriveMaxConcurrency', () => {
  it('uses maxConcurrency as given', () => {
    expect(deriveMaxConcurrency({ maxConcurrency: 7 })).toBe(7);
  });

  it('derives floor(maxConnections / connectionsPerExecution) from a downstream budget', () => {
    expect(deriveMaxConcurrency({ downstreamBudget: { maxConnections: 100, connectionsPerExecution: 16 } })).toBe(6);
    expect(deriveMaxConcurrency({ downstreamBudget: { maxConnections: 20, connectionsPerExecution: 10 } })).toBe(2);
  });

  it('caps a generous budget at the event-source maximum of 1000', () => {
    expect(deriveMaxConcurrency({ downstreamBudget: { maxConnections: 1_000_000, connectionsPerExecution: 1 } })).toBe(1000);
  });

  it('rejects a budget that yields fewer than 2 executions, saying what to change', () => {
    expectInvalid(() => deriveMaxConcurrency({ downstreamBudget: { maxConnections: 30, connectionsPerExecution: 16 } }), /allows only 1 concurrent execution.*floor\(30 \/ 16\).*at least 2.*Raise maxConnections/);
  });

  it('rejects non-positive or fractional budgets', () => {
    expectInvalid(() => deriveMaxConcurrency({ downstreamBudget: { maxConnections: 0, connectionsPerExecution: 1 } }), /downstreamBudget.maxConnections/);
    expectInvalid(() => deriveMaxConcurrency({ downstreamBudget: { maxConnections: 10, connectionsPerExecution: 1.5 } }), /downstreamBudget.connectionsPerExecution/);
  });

  it('rejects both maxConcurrency and a budget, and neither', () => {
    expectInvalid(() =>
      deriveMaxConcurrency({ maxConcurrency: 5, downstreamBudget: { maxConnections: 100, connectionsPerExecution: 10 } }), /either maxConcurrency or downstreamBudget, not both/);
    expectInvalid(() => deriveMaxConcurrency({}), /Set maxConcurrency .*, downstreamBudget .*, or provisionedPollerConfig.maximumPollers/);
  });

  it.each([1, 0, 1001, 2.5])('rejects maxConcurrency %s outside 2..1000', (value) => {
    expectInvalid(() => deriveMaxConcurrency({ maxConcurrency: value }), /maxConcurrency must be an integer from 2 to 1000/);
  });
});

describe('deriveReservedConcurrency', () => {
  it('defaults to the event-source cap and accepts more', () => {
    expect(deriveReservedConcurrency(10)).toBe(10);
    expect(deriveReservedConcurrency(10, 12)).toBe(12);
  });

  it('rejects less than the cap and explains the throttling', () => {
    expect(() => deriveReservedConcurrency(10, 9)).toThrow(FloodgateValidationError);
    expectInvalid(() => deriveReservedConcurrency(10, 9), /reservedConcurrency \(9\) is below .*maxConcurrency \(10\).*throttle/);
  });
});

describe('deriveVisibilityTimeoutSeconds', () => {
  it('defaults to 6 x timeout + batching window', () => {
    expect(deriveVisibilityTimeoutSeconds({ timeoutSeconds: 60, maxBatchingWindowSeconds: 0 })).toBe(360);
    expect(deriveVisibilityTimeoutSeconds({ timeoutSeconds: 30, maxBatchingWindowSeconds: 20 })).toBe(200);
  });

  it('accepts a larger explicit value', () => {
    expect(deriveVisibilityTimeoutSeconds({ timeoutSeconds: 30, maxBatchingWindowSeconds: 0, visibilityTimeoutSeconds: 900 })).toBe(900);
  });

  it('rejects a smaller explicit value, citing the AWS guidance and the minimum', () => {
    expectInvalid(() =>
      deriveVisibilityTimeoutSeconds({ timeoutSeconds: 30, maxBatchingWindowSeconds: 5, visibilityTimeoutSeconds: 184 }), /visibilityTimeout 184 s is below 6 x timeout \(30 s\) \+ maxBatchingWindow \(5 s\) = 185 s.*AWS guidance.*at least 185 s/);
  });

  it('rejects settings whose minimum exceeds the 12-hour SQS limit', () => {
    // Only reachable with timeouts above Lambda's own limit; the check keeps the function total.
    expectInvalid(() => deriveVisibilityTimeoutSeconds({ timeoutSeconds: 7200, maxBatchingWindowSeconds: 300 }), /exceeds the SQS visibility timeout limit/);
  });

  it('property: the result is never below 6 x timeout + window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 900 }), fc.integer({ min: 0, max: 300 }), fc.option(fc.integer({ min: 0, max: 43_200 })), (t, w, v) => {
        try {
          const result = deriveVisibilityTimeoutSeconds({ timeoutSeconds: t, maxBatchingWindowSeconds: w, visibilityTimeoutSeconds: v ?? undefined });
          return result >= 6 * t + w && result <= 43_200;
        } catch (err) {
          return err instanceof FloodgateValidationError && v !== null && v < 6 * t + w;
        }
      }),
    );
  });
});

describe('cpuLaneSize', () => {
  it.each([
    [128, 1],
    [1024, 1],
    [1769, 1],
    [3538, 2],
    [4096, 2],
    [10_240, 5],
  ])('%i MB -> %i', (memory, lane) => {
    expect(cpuLaneSize(memory)).toBe(lane);
  });

  it('rejects memory outside Lambda limits', () => {
    expectInvalid(() => cpuLaneSize(64), /memorySize/);
    expectInvalid(() => cpuLaneSize(10_241), /memorySize/);
  });

  it('property: always within 1..6', () => {
    fc.assert(fc.property(fc.integer({ min: 128, max: 10_240 }), (m) => cpuLaneSize(m) >= 1 && cpuLaneSize(m) <= 6));
  });
});

describe('deriveDeadlineMargins', () => {
  it('uses 20 % / 10 % of the timeout with floors of 5 s / 2 s and caps of 60 s / 30 s', () => {
    expect(deriveDeadlineMargins(60_000)).toEqual({ softMs: 12_000, hardMs: 6_000 });
    expect(deriveDeadlineMargins(15_000)).toEqual({ softMs: 5_000, hardMs: 2_000 });
    expect(deriveDeadlineMargins(900_000)).toEqual({ softMs: 60_000, hardMs: 30_000 });
  });

  it('keeps room to work on short timeouts', () => {
    expect(deriveDeadlineMargins(3_000)).toEqual({ softMs: 1_500, hardMs: 750 });
  });

  it('accepts explicit margins in order and rejects others', () => {
    expect(deriveDeadlineMargins(60_000, { softMs: 20_000, hardMs: 10_000 })).toEqual({ softMs: 20_000, hardMs: 10_000 });
    expectInvalid(() => deriveDeadlineMargins(60_000, { softMs: 5_000, hardMs: 6_000 }), /0 < hardMargin .* < softMargin .* < timeout/);
    expectInvalid(() => deriveDeadlineMargins(10_000, { softMs: 10_000 }), /softMargin \(10000 ms\) < timeout/);
  });

  it('property: 0 < hard < soft < timeout for every valid timeout', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 900 }), (t) => {
        const { softMs, hardMs } = deriveDeadlineMargins(t * 1000);
        return hardMs > 0 && hardMs < softMs && softMs < t * 1000;
      }),
    );
  });
});

describe('other validations', () => {
  it('maxReceiveCount must be >= 5', () => {
    expect(() => validateMaxReceiveCount(5)).not.toThrow();
    expectInvalid(() => validateMaxReceiveCount(4), /maxReceiveCount must be an integer >= 5, got 4.*AWS recommends/);
  });

  it('batch size above 10 needs a batching window; limits hold', () => {
    expect(() => validateBatching(100, 1)).not.toThrow();
    expectInvalid(() => validateBatching(11, 0), /above 10.*maxBatchingWindow >= 1 second/);
    expectInvalid(() => validateBatching(0, 0), /batchSize must be an integer from 1 to 10000/);
    expectInvalid(() => validateBatching(10, 301), /maxBatchingWindow \(seconds\) must be an integer from 0 to 300/);
  });

  it('DLQ retention must be at least the source retention', () => {
    expect(() => validateRetention(345_600, 1_209_600)).not.toThrow();
    expectInvalid(() => validateRetention(1_209_600, 345_600), /deadLetterRetentionPeriod .* shorter than retentionPeriod/);
    expectInvalid(() => validateRetention(30, 1_209_600), /retentionPeriod \(seconds\) must be an integer from 60/);
  });

  it('age alarm threshold is timeout x maxReceiveCount', () => {
    expect(ageOfOldestMessageThresholdSeconds(60, 5)).toBe(300);
  });
});

describe('deriveConsumerSettings', () => {
  it('derives everything consistently for the image worker settings', () => {
    expect(deriveConsumerSettings({ timeoutSeconds: 60, memorySizeMb: 2048, maxConcurrency: 10 })).toEqual({
      timeoutSeconds: 60,
      memorySizeMb: 2048,
      fifo: false,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 10,
      scalingMode: 'maxConcurrency',
      reservedConcurrency: 10,
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 360,
      ioConcurrency: 16,
      cpuConcurrency: 1,
      margins: { softMs: 12_000, hardMs: 6_000 },
      ageOfOldestMessageThresholdSeconds: 300,
    });
  });

  it('validates the lane sizes and the timeout', () => {
    expectInvalid(() => deriveConsumerSettings({ timeoutSeconds: 60, memorySizeMb: 1024, maxConcurrency: 2, ioConcurrency: 0 }), /ioConcurrency/);
    expectInvalid(() => deriveConsumerSettings({ timeoutSeconds: 60, memorySizeMb: 1024, maxConcurrency: 2, cpuConcurrency: 0 }), /cpuConcurrency/);
    expectInvalid(() => deriveConsumerSettings({ timeoutSeconds: 901, memorySizeMb: 1024, maxConcurrency: 2 }), /timeout \(seconds\) must be an integer from 1 to 900/);
  });
});

describe('FIFO batching', () => {
  it('accepts up to 10 records and no window', () => {
    expect(() => validateFifoBatching(10, undefined)).not.toThrow();
    expect(() => validateFifoBatching(1, 0)).not.toThrow();
  });

  it('refuses a window and more than 10 records, saying what to change', () => {
    expectInvalid(() => validateFifoBatching(10, 5), /not supported on FIFO queues.*Remove maxBatchingWindow/, 'FifoBatchingWindow');
    expectInvalid(() => validateFifoBatching(11, undefined), /batchSize 11 is above 10.*Set batchSize <= 10/, 'FifoBatchSize');
  });

  it('skips the size check for a token, but not the window check', () => {
    const TOKEN = -1.8881545897087626e289; // how aws-cdk-lib encodes a number token
    const isToken = (n: number) => n === TOKEN;
    expect(() => validateFifoBatching(TOKEN, undefined, isToken)).not.toThrow();
    expectInvalid(() => validateFifoBatching(10, TOKEN, isToken), /not supported on FIFO/, 'FifoBatchingWindow');
  });

  it('deriveConsumerSettings applies them with fifo: true, and the standard rules otherwise', () => {
    expectInvalid(() => deriveConsumerSettings({ timeoutSeconds: 30, memorySizeMb: 1024, maxConcurrency: 2, fifo: true, batchSize: 20, maxBatchingWindowSeconds: 1 }), /FIFO/, 'FifoBatchingWindow');
    expect(deriveConsumerSettings({ timeoutSeconds: 30, memorySizeMb: 1024, maxConcurrency: 2, batchSize: 20, maxBatchingWindowSeconds: 1 }).batchSize).toBe(20);
  });
});
