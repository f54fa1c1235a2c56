/**
 * Counters and histograms whose series are looked up once and then updated as plain numbers, exposed through a
 * prom-client registry like any of its own metrics. prom-client checks and hashes the label set on every `inc` and
 * `observe` (about a microsecond each); a span updates a dozen series, so per span that was most of the metrics
 * stage. Here the caller finds a span's series once, by one key, and every update is an addition.
 */
import type { Registry } from 'prom-client';

type Labels<L extends string> = Record<L, string>;

export interface CounterCell {
  value: number;
  /** Added to at least once: only such series are exposed, as prom-client does. */
  touched: boolean;
}

export function add(cell: CounterCell, amount: number): void {
  cell.value += amount;
  cell.touched = true;
}

export interface HistogramCell {
  /** Observations per bucket, not cumulative; the last slot is above every bound (+Inf). */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

interface Series<L extends string, C> {
  labels: Labels<L>;
  cell: C;
}

interface ExposedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** The shape prom-client's registry reads from a metric (`Registry.registerMetric`). */
abstract class SeriesMetric<L extends string, C> {
  readonly aggregator = 'sum';
  protected readonly series = new Map<string, Series<L, C>>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The cell of the series `key` names; `labels` is called only the first time the key is seen. */
  cell(key: string, labels: () => Labels<L>): C {
    let series = this.series.get(key);
    if (!series) {
      series = { labels: labels(), cell: this.newCell() };
      this.series.set(key, series);
    }
    return series.cell;
  }

  reset(): void {
    this.series.clear();
  }

  /** What prom-client formats for `/metrics`. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExposedValue[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  abstract readonly type: 'counter' | 'histogram';
  protected abstract newCell(): C;
  protected abstract values(): ExposedValue[];
}

export class SeriesCounter<L extends string> extends SeriesMetric<L, CounterCell> {
  readonly type = 'counter';

  protected newCell(): CounterCell {
    return { value: 0, touched: false };
  }

  protected values(): ExposedValue[] {
    const values: ExposedValue[] = [];
    for (const { labels, cell } of this.series.values()) if (cell.touched) values.push({ labels, value: cell.value });
    return values;
  }
}

export class SeriesHistogram<L extends string> extends SeriesMetric<L, HistogramCell> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    registry: Registry,
    private readonly upperBounds: readonly number[],
  ) {
    super(name, help, registry);
  }

  observe(cell: HistogramCell, value: number): void {
    if (!Number.isFinite(value)) return;
    let bucket = 0;
    while (bucket < this.upperBounds.length && value > this.upperBounds[bucket]) bucket++;
    cell.buckets[bucket]++;
    cell.sum += value;
    cell.count++;
  }

  protected newCell(): HistogramCell {
    return { buckets: new Float64Array(this.upperBounds.length + 1), sum: 0, count: 0 };
  }

  protected values(): ExposedValue[] {
    const values: ExposedValue[] = [];
    for (const { labels, cell } of this.series.values()) {
      if (cell.count === 0) continue;
      let cumulative = 0;
      this.upperBounds.forEach((bound, index) => {
        cumulative += cell.buckets[index];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: cell.count });
    }
    return values;
  }
}
