/**
 * Metrics of one invocation, aggregated before they are emitted: a 10,000-record batch must not write
 * 50,000 metric values. The handler emits them once at the end of the invocation, in one synchronous
 * block (add + publish), so invocations running side by side in one process never flush each other's.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';

export class BatchMetrics {
  private readonly counts = new Map<string, number>();
  private readonly durations = new Map<string, { sum: number; n: number; max: number }>();

  /** Adds `value` to the count `name` (emitted as one Count value per invocation, 0 included once declared). */
  count(name: string, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  /** Records a duration of `name` (emitted as `${name}DurationAvg` and `${name}DurationMax`, milliseconds). */
  duration(name: string, ms: number): void {
    const d = this.durations.get(name) ?? { sum: 0, n: 0, max: 0 };
    d.sum += ms;
    d.n++;
    d.max = Math.max(d.max, ms);
    this.durations.set(name, d);
  }

  getCount(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  snapshot(): { counts: Record<string, number>; durations: Record<string, { avg: number; max: number; n: number }> } {
    return {
      counts: Object.fromEntries(this.counts),
      durations: Object.fromEntries([...this.durations].map(([k, d]) => [k, { avg: d.sum / d.n, max: d.max, n: d.n }])),
    };
  }

  /** Writes everything to `metrics` and publishes it (one EMF line). Synchronous on purpose: see above. */
  publishTo(metrics: Metrics): void {
    for (const [name, value] of this.counts) metrics.addMetric(name, MetricUnit.Count, value);
    for (const [name, d] of this.durations) {
      metrics.addMetric(`${name}DurationAvg`, MetricUnit.Milliseconds, d.sum / d.n);
      metrics.addMetric(`${name}DurationMax`, MetricUnit.Milliseconds, d.max);
    }
    metrics.publishStoredMetrics();
  }
}
