/** Span front for metric sinks: folds spans into per-interval aggregates and hands each interval's groups on. */
import { MetricsAggregator, type MetricAggregate, type MetricsAggregatorOptions } from '../pipeline/metrics';
import type { GenAiSpan } from '../span/gen-ai-span';
import type { BatchingExporter, DeliveryStats } from './batching-exporter';
import type { SpanExporter } from './span-exporter';

export class IntervalAggregatingExporter implements SpanExporter {
  readonly name: string;
  private readonly aggregator: MetricsAggregator;
  private readonly timer: NodeJS.Timeout;

  get pendingBytes(): number {
    return this.downstream.pendingBytes;
  }

  constructor(
    private readonly downstream: BatchingExporter<MetricAggregate>,
    intervalMs: number,
    aggregatorOptions: MetricsAggregatorOptions = {},
  ) {
    this.name = downstream.name;
    this.aggregator = new MetricsAggregator(aggregatorOptions);
    this.timer = setInterval(() => this.closeInterval(), intervalMs);
    this.timer.unref();
  }

  /** Delivery of the aggregates to the sink. */
  stats(): DeliveryStats {
    return this.downstream.stats();
  }

  async export(spans: GenAiSpan[]): Promise<void> {
    this.offer(spans);
  }

  offer(spans: GenAiSpan[]): void {
    for (const span of spans) this.aggregator.record(span);
  }

  /** Ends the current interval now and queues its aggregates. */
  closeInterval(): void {
    const aggregates = this.aggregator.drain();
    if (aggregates.length === 0) return;
    try {
      this.downstream.offer(aggregates);
      this.downstream.flush();
    } catch {
      // Runs on a timer: a spool write error must not crash the process; the downstream exporter has logged it.
    }
  }

  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.closeInterval();
    await this.downstream.shutdown();
  }
}
