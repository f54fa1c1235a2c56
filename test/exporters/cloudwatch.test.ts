import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchExporter, durationHistogram, fitDurationHistogram, MAX_AGGREGATES_PER_PUT, MAX_DATUMS_PER_PUT, MAX_VALUES_PER_DATUM, toMetricDatums } from '../../sensor/exporters/cloudwatch-exporter';
import { LabelCardinalityLimiter } from '../../sensor/pipeline/cardinality';
import { MetricsAggregator } from '../../sensor/pipeline/metrics';
import { aggregate } from './aggregate-fixture';
import { genAiSpan } from './span-fixture';

const cloudwatch = mockClient(CloudWatchClient);
beforeEach(() => cloudwatch.reset());

const client = () => new CloudWatchClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });

function find(datums: MetricDatum[], name: string, dimensions: Record<string, string>): MetricDatum[] {
  return datums.filter(
    (d) =>
      d.MetricName === name &&
      (d.Dimensions ?? []).length === Object.keys(dimensions).length &&
      (d.Dimensions ?? []).every((dim) => dimensions[dim.Name!] === dim.Value),
  );
}

const sum = (numbers: number[]): number => numbers.reduce((a, b) => a + b, 0);

/** Nearest-rank percentile of plain samples. */
function samplePercentile(samples: number[], percent: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((percent / 100) * sorted.length)) - 1];
}

/** Nearest-rank percentile of a Values/Counts datum, the way a percentile statistic reads it. */
function datumPercentile(datum: MetricDatum, percent: number): number {
  const pairs = datum.Values!.map((value, i) => [value, datum.Counts![i]] as const).sort(([a], [b]) => a - b);
  const rank = (percent / 100) * sum(pairs.map(([, count]) => count));
  let seen = 0;
  for (const [value, count] of pairs) {
    seen += count;
    if (seen >= rank) return value;
  }
  return pairs[pairs.length - 1][0];
}

describe('DurationMs as Values/Counts', () => {
  const lognormalDurations = (n: number, seed: number): number[] => {
    let state = seed;
    const uniform = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) + 1) / (2 ** 31 + 1);
    return Array.from({ length: n }, () => Math.round(Math.exp(6 + 0.8 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())) * 10) / 10);
  };

  it.each([1, 2, 3, 7, 40, 250, 1000])('keeps min, max, count, p50/p90/p99 and the sum of %i calls', (calls) => {
    const durations = lognormalDurations(calls, calls);
    const aggregator = new MetricsAggregator({ now: () => 0 });
    durations.forEach((durationMs, index) => aggregator.record(genAiSpan({ index, durationMs })));
    const [datum] = find(toMetricDatums(aggregator.drain()), 'DurationMs', {});
    expect(datum.Values!.length).toBeLessThanOrEqual(MAX_VALUES_PER_DATUM);
    expect(datum.Values).toHaveLength(datum.Counts!.length);
    expect(sum(datum.Counts!)).toBe(calls);
    expect(datum.Counts!.every((count) => Number.isInteger(count) && count > 0)).toBe(true);
    expect(Math.min(...datum.Values!)).toBeCloseTo(Math.min(...durations), 6);
    expect(Math.max(...datum.Values!)).toBeCloseTo(Math.max(...durations), 6);
    for (const percent of [50, 90, 99]) expect(datumPercentile(datum, percent)).toBeCloseTo(samplePercentile(durations, percent), 6);
    // Sum (and so Average) of the rebuilt distribution is the real one.
    const histogramSum = sum(datum.Values!.map((value, i) => value * datum.Counts![i]));
    expect(Math.abs(histogramSum - sum(durations)) / sum(durations)).toBeLessThan(1e-9);
  });

  it('rounds the durations of many groups to at most 150 distinct values and loses no call', () => {
    const durations = Array.from({ length: 400 }, (_, i) => 10 + i * 9.7);
    const aggregates = durations.map((durationMs, i) => aggregate({
      workload: `w${i}`, calls: 1, duration: { count: 1, sumMs: durationMs, minMs: durationMs, maxMs: durationMs, p50Ms: durationMs, p90Ms: durationMs, p99Ms: durationMs },
    }));
    const [datum] = find(toMetricDatums(aggregates), 'DurationMs', { Model: 'gpt-4o', Provider: 'openai' });
    expect(datum.Values!.length).toBeLessThanOrEqual(MAX_VALUES_PER_DATUM);
    expect(new Set(datum.Values).size).toBe(datum.Values!.length);
    expect(sum(datum.Counts!)).toBe(400);
    for (const percent of [50, 90, 99]) {
      const exact = samplePercentile(durations, percent);
      expect(Math.abs(datumPercentile(datum, percent) - exact) / exact).toBeLessThan(0.05);
    }
  });

  it('keeps exact values while they fit, merging equal ones', () => {
    const fitted = fitDurationHistogram(new Map([[1234.5, 2], [0, 1], [87.25, 3]]));
    expect(fitted).toEqual({ Values: [0, 87.25, 1234.5], Counts: [1, 3, 2] });
    const merged = fitDurationHistogram(new Map([[1001, 1], [1002, 2], [5000, 1]]), 2);
    expect(merged).toEqual({ Values: [1000, 5000], Counts: [3, 1] });
  });

  it('builds nothing for an empty summary', () => {
    expect(durationHistogram({ count: 0, sumMs: 0, minMs: Infinity, maxMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0 }).size).toBe(0);
  });
});

describe('CloudWatchExporter', () => {
  it('puts Calls, Errors, DurationMs, tokens, cost and SLA breaches in the Sightline namespace', async () => {
    cloudwatch.on(PutMetricDataCommand).resolves({});
    await new CloudWatchExporter({ client: client() }).export([aggregate(), aggregate({ workload: 'billing', calls: 1, errors: 0, slaBreaches: 0, inputTokens: 10, outputTokens: 5, totalTokens: 15, costUsd: 0.001, duration: { count: 1, sumMs: 50, minMs: 50, maxMs: 50, p50Ms: 50, p90Ms: 50, p99Ms: 50 } })]);
    const input = cloudwatch.commandCalls(PutMetricDataCommand)[0].args[0].input;
    expect(input.Namespace).toBe('Sightline');
    const datums = input.MetricData!;
    const model = { Model: 'gpt-4o', Provider: 'openai' };
    const timestamp = new Date(Date.UTC(2026, 10, 25, 14, 1, 0));
    expect(find(datums, 'Calls', model)).toEqual([{ MetricName: 'Calls', Dimensions: [{ Name: 'Model', Value: 'gpt-4o' }, { Name: 'Provider', Value: 'openai' }], Timestamp: timestamp, Unit: 'Count', Value: 5 }]);
    expect(find(datums, 'Errors', model)[0].Value).toBe(1);
    expect(find(datums, 'SlaBreaches', model)[0].Value).toBe(2);
    expect(find(datums, 'CostUsd', model)[0].Value).toBeCloseTo(0.006, 12);
    const duration = find(datums, 'DurationMs', model)[0];
    expect(duration).toMatchObject({ Unit: 'Milliseconds' });
    expect(duration.Value).toBeUndefined();
    expect(duration.StatisticValues).toBeUndefined();
    // Both groups' calls, the fastest (50) and the slowest (2000) among them.
    expect(sum(duration.Counts!)).toBe(5);
    expect(Math.min(...duration.Values!)).toBe(50);
    expect(Math.max(...duration.Values!)).toBe(2000);
    expect(sum(duration.Values!.map((value, i) => value * duration.Counts![i]))).toBeCloseTo(4450, 6);
    expect(find(datums, 'InputTokens', { ...model, Workload: 'checkout' })[0].Value).toBe(1000);
    expect(find(datums, 'OutputTokens', { ...model, Workload: 'billing' })[0].Value).toBe(5);
    expect(find(datums, 'TotalTokens', { ...model, Workload: 'checkout' })[0].Value).toBe(1250);
    // Account-wide rollups for alarms.
    expect(find(datums, 'Calls', {})[0].Value).toBe(5);
    expect(find(datums, 'TotalTokens', {})[0].Value).toBe(1265);
  });

  it('sends at most 1000 datums per PutMetricData call', async () => {
    cloudwatch.on(PutMetricDataCommand).resolves({});
    const aggregates = Array.from({ length: 400 }, (_, i) => aggregate({ model: `m${i}` }));
    const expectedDatums = toMetricDatums(aggregates).length;
    expect(expectedDatums).toBeGreaterThan(2000);
    await new CloudWatchExporter({ client: client(), namespace: 'Custom' }).export(aggregates);
    const sizes = cloudwatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input.MetricData!.length);
    expect(Math.max(...sizes)).toBe(1000);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(expectedDatums);
    expect(cloudwatch.commandCalls(PutMetricDataCommand).every((call) => call.args[0].input.Namespace === 'Custom')).toBe(true);
  });

  it('fits a batch of MAX_AGGREGATES_PER_PUT aggregates, however varied, in one PutMetricData call', () => {
    // The worst case: every aggregate its own model and its own interval, so none shares a rollup.
    const varied = Array.from({ length: MAX_AGGREGATES_PER_PUT }, (_, i) => aggregate({ model: `m${i}`, intervalEndMs: Date.UTC(2026, 10, 25, 14, i + 1) }));
    const datums = toMetricDatums(varied).length;
    expect(datums).toBeLessThanOrEqual(MAX_DATUMS_PER_PUT);
    expect(toMetricDatums([...varied, aggregate({ model: 'one-more', intervalEndMs: Date.UTC(2026, 10, 26) })]).length).toBeGreaterThan(MAX_DATUMS_PER_PUT - 14);
  });

  it('keeps dimension values bounded through the aggregator', () => {
    const aggregator = new MetricsAggregator({ cardinality: new LabelCardinalityLimiter({ maxValuesPerLabel: 3 }) });
    for (let i = 0; i < 20; i++) aggregator.record(genAiSpan({ index: i, requestModel: `fine-tune-${i}`, inputTokens: 1, outputTokens: 1 }));
    const models = new Set(toMetricDatums(aggregator.drain()).flatMap((d) => (d.Dimensions ?? []).filter((x) => x.Name === 'Model').map((x) => x.Value)));
    expect([...models].sort()).toEqual(['_other', 'fine-tune-0', 'fine-tune-1', 'fine-tune-2']);
  });

  it('surfaces a refused request as permanent and a service error as retryable', async () => {
    const sink = new CloudWatchExporter({ client: client() });
    cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('bad value'), { name: 'InvalidParameterValueException' }));
    await expect(sink.export([aggregate()])).rejects.toMatchObject({ name: 'PermanentExportError' });
    cloudwatch.reset();
    cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('boom'), { name: 'InternalServiceFault' }));
    await expect(sink.export([aggregate()])).rejects.toMatchObject({ name: 'InternalServiceFault' });
  });
});
