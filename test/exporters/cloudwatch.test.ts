import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchExporter, toMetricDatums } from '../../sensor/exporters/cloudwatch-exporter';
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
    expect(find(datums, 'DurationMs', model)[0]).toMatchObject({ Unit: 'Milliseconds', StatisticValues: { SampleCount: 5, Sum: 4450, Minimum: 50, Maximum: 2000 } });
    expect(find(datums, 'DurationMs', model)[0].Value).toBeUndefined();
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
