/**
 * CloudWatch exporter: PutMetricData from per-interval aggregates, for dashboards and alarms. Dimensions are Model and
 * Provider (plus Workload on token metrics); a rollup without dimensions serves account-wide alarms.
 */
import { CloudWatchClient, PutMetricDataCommand, type CloudWatchClientConfig, type Dimension, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { MetricAggregate } from '../pipeline/metrics';
import { PermanentExportError, type Exporter } from './span-exporter';

export const DEFAULT_CLOUDWATCH_NAMESPACE = 'Sightline';
/** PutMetricData accepts at most this many datums per call. */
export const MAX_DATUMS_PER_PUT = 1000;

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
  durationCount: number;
  durationSumMs: number;
  durationMinMs: number;
  durationMaxMs: number;
}

function emptyRollup(dimensions: Dimension[], timestamp: Date): Rollup {
  return { dimensions, timestamp, calls: 0, errors: 0, slaBreaches: 0, costUsd: 0, durationCount: 0, durationSumMs: 0, durationMinMs: Infinity, durationMaxMs: 0 };
}

function addTo(rollup: Rollup, aggregate: MetricAggregate): void {
  rollup.calls += aggregate.calls;
  rollup.errors += aggregate.errors;
  rollup.slaBreaches += aggregate.slaBreaches;
  rollup.costUsd += aggregate.costUsd;
  rollup.durationCount += aggregate.duration.count;
  rollup.durationSumMs += aggregate.duration.sumMs;
  rollup.durationMinMs = Math.min(rollup.durationMinMs, aggregate.duration.minMs);
  rollup.durationMaxMs = Math.max(rollup.durationMaxMs, aggregate.duration.maxMs);
}

function rollupDatums(rollup: Rollup): MetricDatum[] {
  const base = { Dimensions: rollup.dimensions, Timestamp: rollup.timestamp };
  const datums: MetricDatum[] = [
    { ...base, MetricName: 'Calls', Unit: 'Count', Value: rollup.calls },
    { ...base, MetricName: 'Errors', Unit: 'Count', Value: rollup.errors },
    { ...base, MetricName: 'SlaBreaches', Unit: 'Count', Value: rollup.slaBreaches },
    { ...base, MetricName: 'CostUsd', Unit: 'None', Value: rollup.costUsd },
  ];
  if (rollup.durationCount > 0) {
    datums.push({
      ...base,
      MetricName: 'DurationMs',
      Unit: 'Milliseconds',
      StatisticValues: { SampleCount: rollup.durationCount, Sum: rollup.durationSumMs, Minimum: rollup.durationMinMs, Maximum: rollup.durationMaxMs },
    });
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
      { Name: 'Model', Value: aggregate.model || 'unknown' },
      { Name: 'Provider', Value: aggregate.provider || 'unknown' },
    ];
    const modelKey = JSON.stringify([aggregate.intervalEndMs, aggregate.model, aggregate.provider]);
    let modelRollup = byModel.get(modelKey);
    if (!modelRollup) byModel.set(modelKey, (modelRollup = emptyRollup(modelDimensions, timestamp)));
    addTo(modelRollup, aggregate);
    let intervalRollup = byInterval.get(aggregate.intervalEndMs);
    if (!intervalRollup) byInterval.set(aggregate.intervalEndMs, (intervalRollup = emptyRollup([], timestamp)));
    addTo(intervalRollup, aggregate);

    const tokenDimensions = [...modelDimensions, { Name: 'Workload', Value: aggregate.workload || 'unknown' }];
    for (const [MetricName, Value] of [
      ['InputTokens', aggregate.inputTokens],
      ['OutputTokens', aggregate.outputTokens],
      ['TotalTokens', aggregate.totalTokens],
    ] as const) {
      datums.push({ MetricName, Dimensions: tokenDimensions, Timestamp: timestamp, Unit: 'Count', Value });
    }
  }
  for (const rollup of [...byModel.values(), ...byInterval.values()]) datums.push(...rollupDatums(rollup));
  // Account-wide token totals, for token-budget alarms.
  const totalTokens = new Map<number, number>();
  for (const aggregate of aggregates) totalTokens.set(aggregate.intervalEndMs, (totalTokens.get(aggregate.intervalEndMs) ?? 0) + aggregate.totalTokens);
  for (const [endMs, Value] of totalTokens) datums.push({ MetricName: 'TotalTokens', Dimensions: [], Timestamp: new Date(endMs), Unit: 'Count', Value });
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
