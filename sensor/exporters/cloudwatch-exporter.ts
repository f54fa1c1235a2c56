/**
 * CloudWatch exporter: PutMetricData from per-interval aggregates, for dashboards and alarms. Dimensions are Model and
 * Provider (plus Workload on token metrics); a rollup without dimensions serves account-wide alarms.
 * DurationMs goes out as Values/Counts, so CloudWatch can answer percentile statistics (p50, p90, p99) on it.
 */
import { CallMetric, METRIC_NAMESPACE, MetricDimension } from '../common/telemetry-contract';
import { CloudWatchClient, PutMetricDataCommand, type CloudWatchClientConfig, type Dimension, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { DurationSummary, MetricAggregate } from '../pipeline/metrics';
import { PermanentExportError, type Exporter } from './span-exporter';

export const DEFAULT_CLOUDWATCH_NAMESPACE = METRIC_NAMESPACE;
/** PutMetricData accepts at most this many datums per call. */
export const MAX_DATUMS_PER_PUT = 1000;
/** The most datums one aggregate can add: its 3 token counts, a model rollup and an interval rollup (5 each), and an interval token total. */
const MAX_DATUMS_PER_AGGREGATE = 3 + 5 + 5 + 1;
/**
 * Aggregates per batch such that one batch is one PutMetricData call. PutMetricData adds values up rather than
 * replacing them, so a batch split over several calls and retried after a later call failed would count its
 * earlier calls twice.
 */
export const MAX_AGGREGATES_PER_PUT = Math.floor(MAX_DATUMS_PER_PUT / MAX_DATUMS_PER_AGGREGATE);
/** CloudWatch accepts at most this many distinct values in one datum's Values array. */
export const MAX_VALUES_PER_DATUM = 150;

/** Duration value (ms) to the number of calls it stands for. */
export type DurationHistogram = Map<number, number>;

/**
 * An aggregate keeps min, max, sum and three percentiles rather than its samples, so its distribution is rebuilt
 * from those points. Each point keeps the one call at its nearest rank, so CloudWatch finds the same p50, p90 and
 * p99; the calls between two points sit at one value inside that band, placed at the same fraction of every band
 * so that the histogram's sum is the real one (Sum and Average stay right too).
 */
export function durationHistogram(summary: DurationSummary): DurationHistogram {
  const histogram: DurationHistogram = new Map();
  const count = summary.count;
  if (count <= 0) return histogram;
  const rankOf = (percent: number) => Math.min(count, Math.max(1, Math.ceil((percent / 100) * count)));
  const points = [
    { valueMs: summary.minMs, rank: 1 },
    { valueMs: summary.p50Ms, rank: rankOf(50) },
    { valueMs: summary.p90Ms, rank: rankOf(90) },
    { valueMs: summary.p99Ms, rank: rankOf(99) },
    { valueMs: summary.maxMs, rank: count },
  ];
  const bands = points.slice(1).map((upper, i) => ({
    lowerMs: points[i].valueMs,
    upperMs: upper.valueMs,
    inside: Math.max(0, upper.rank - points[i].rank - 1),
    hasUpper: upper.rank > points[i].rank,
  }));
  // Sum with every band's inside calls on its lower edge, and what moving all of them to the upper edge adds.
  let floorMs = summary.minMs;
  let spreadMs = 0;
  for (const band of bands) {
    floorMs += (band.hasUpper ? band.upperMs : 0) + band.inside * band.lowerMs;
    spreadMs += band.inside * Math.max(0, band.upperMs - band.lowerMs);
  }
  const fraction = spreadMs > 0 ? Math.min(1, Math.max(0, (summary.sumMs - floorMs) / spreadMs)) : 1;
  addDuration(histogram, summary.minMs, 1);
  for (const band of bands) {
    addDuration(histogram, band.lowerMs + fraction * Math.max(0, band.upperMs - band.lowerMs), band.inside);
    if (band.hasUpper) addDuration(histogram, band.upperMs, 1);
  }
  return histogram;
}

function addDuration(histogram: DurationHistogram, valueMs: number, count: number): void {
  if (count <= 0 || !Number.isFinite(valueMs)) return;
  const value = Math.max(0, valueMs);
  histogram.set(value, (histogram.get(value) ?? 0) + count);
}

/**
 * Rounds durations to fewer significant digits until at most `maxValues` distinct ones remain (three digits keep
 * each within 0.5 %, one digit always fits: nine values per decade). Counts are summed, never dropped.
 */
export function fitDurationHistogram(histogram: DurationHistogram, maxValues = MAX_VALUES_PER_DATUM): { Values: number[]; Counts: number[] } {
  let fitted = histogram;
  for (let digits = 3; fitted.size > maxValues && digits >= 1; digits--) {
    fitted = new Map();
    for (const [valueMs, count] of histogram) addDuration(fitted, valueMs === 0 ? 0 : Number(valueMs.toPrecision(digits)), count);
  }
  const sorted = [...fitted].sort(([a], [b]) => a - b);
  return { Values: sorted.map(([valueMs]) => valueMs), Counts: sorted.map(([, count]) => count) };
}

export interface CloudWatchExporterOptions {
  namespace?: string;
  client?: CloudWatchClient;
  clientConfig?: CloudWatchClientConfig;
}

interface Rollup {
  dimensions: Dimension[];
  timestamp: Date;
  calls: number;
  errors: number;
  slaBreaches: number;
  costUsd: number;
  durations: DurationHistogram;
}

function emptyRollup(dimensions: Dimension[], timestamp: Date): Rollup {
  return { dimensions, timestamp, calls: 0, errors: 0, slaBreaches: 0, costUsd: 0, durations: new Map() };
}

function addTo(rollup: Rollup, aggregate: MetricAggregate): void {
  rollup.calls += aggregate.calls;
  rollup.errors += aggregate.errors;
  rollup.slaBreaches += aggregate.slaBreaches;
  rollup.costUsd += aggregate.costUsd;
  for (const [valueMs, count] of durationHistogram(aggregate.duration)) addDuration(rollup.durations, valueMs, count);
}

function rollupDatums(rollup: Rollup): MetricDatum[] {
  const base = { Dimensions: rollup.dimensions, Timestamp: rollup.timestamp };
  const datums: MetricDatum[] = [
    { ...base, MetricName: CallMetric.calls, Unit: 'Count', Value: rollup.calls },
    { ...base, MetricName: CallMetric.errors, Unit: 'Count', Value: rollup.errors },
    { ...base, MetricName: CallMetric.slaBreaches, Unit: 'Count', Value: rollup.slaBreaches },
    { ...base, MetricName: CallMetric.costUsd, Unit: 'None', Value: rollup.costUsd },
  ];
  if (rollup.durations.size > 0) {
    datums.push({ ...base, MetricName: CallMetric.durationMs, Unit: 'Milliseconds', ...fitDurationHistogram(rollup.durations) });
  }
  return datums;
}

/** Every datum for one interval's aggregates. */
export function toMetricDatums(aggregates: readonly MetricAggregate[]): MetricDatum[] {
  const byModel = new Map<string, Rollup>();
  const byInterval = new Map<number, Rollup>();
  const datums: MetricDatum[] = [];
  for (const aggregate of aggregates) {
    const timestamp = new Date(aggregate.intervalEndMs);
    const modelDimensions = [
      { Name: MetricDimension.model, Value: aggregate.model || 'unknown' },
      { Name: MetricDimension.provider, Value: aggregate.provider || 'unknown' },
    ];
    const modelKey = JSON.stringify([aggregate.intervalEndMs, aggregate.model, aggregate.provider]);
    let modelRollup = byModel.get(modelKey);
    if (!modelRollup) byModel.set(modelKey, (modelRollup = emptyRollup(modelDimensions, timestamp)));
    addTo(modelRollup, aggregate);
    let intervalRollup = byInterval.get(aggregate.intervalEndMs);
    if (!intervalRollup) byInterval.set(aggregate.intervalEndMs, (intervalRollup = emptyRollup([], timestamp)));
    addTo(intervalRollup, aggregate);

    const tokenDimensions = [...modelDimensions, { Name: MetricDimension.workload, Value: aggregate.workload || 'unknown' }];
    for (const [MetricName, Value] of [
      [CallMetric.inputTokens, aggregate.inputTokens],
      [CallMetric.outputTokens, aggregate.outputTokens],
      [CallMetric.totalTokens, aggregate.totalTokens],
    ] as const) {
      datums.push({ MetricName, Dimensions: tokenDimensions, Timestamp: timestamp, Unit: 'Count', Value });
    }
  }
  for (const rollup of [...byModel.values(), ...byInterval.values()]) datums.push(...rollupDatums(rollup));
  // Account-wide token totals, for token-budget alarms.
  const totalTokens = new Map<number, number>();
  for (const aggregate of aggregates) totalTokens.set(aggregate.intervalEndMs, (totalTokens.get(aggregate.intervalEndMs) ?? 0) + aggregate.totalTokens);
  for (const [endMs, Value] of totalTokens) datums.push({ MetricName: CallMetric.totalTokens, Dimensions: [], Timestamp: new Date(endMs), Unit: 'Count', Value });
  return datums;
}

export class CloudWatchExporter implements Exporter<MetricAggregate> {
  readonly name = 'cloudwatch';
  readonly namespace: string;
  private readonly client: CloudWatchClient;

  constructor(options: CloudWatchExporterOptions = {}) {
    this.namespace = options.namespace ?? DEFAULT_CLOUDWATCH_NAMESPACE;
    this.client = options.client ?? new CloudWatchClient(options.clientConfig ?? {});
  }

  async export(aggregates: MetricAggregate[]): Promise<void> {
    const datums = toMetricDatums(aggregates);
    for (let start = 0; start < datums.length; start += MAX_DATUMS_PER_PUT) {
      try {
        await this.client.send(new PutMetricDataCommand({ Namespace: this.namespace, MetricData: datums.slice(start, start + MAX_DATUMS_PER_PUT) }));
      } catch (error) {
        const name = (error as { name?: string })?.name;
        if (name === 'InvalidParameterValueException' || name === 'InvalidParameterCombinationException' || name === 'MissingRequiredParameterException') {
          throw new PermanentExportError(`CloudWatch refused PutMetricData: ${(error as Error).message}`, aggregates.length);
        }
        throw error;
      }
    }
  }

  async shutdown(): Promise<void> {
    this.client.destroy();
  }
}
