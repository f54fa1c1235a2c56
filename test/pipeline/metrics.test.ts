import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { LabelCardinalityLimiter } from '../../sensor/pipeline/cardinality';
import { CostCalculator } from '../../sensor/pipeline/cost';
import { GenAiMetrics, MetricsAggregator } from '../../sensor/pipeline/metrics';
import { prometheusHandler } from '../../sensor/exporters/prometheus-handler';
import { genAiSpan } from '../exporters/span-fixture';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition sample lines. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const hit = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hit.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hit.length} samples`);
  return hit[0]?.value;
}

const checkoutLabels = {
  workload: 'checkout',
  namespace: 'shop',
  cluster: 'prod-eu',
  gen_ai_request_model: 'gpt-4o',
  gen_ai_system: 'openai',
  client: 'node',
  server: 'api.openai.com',
  status_code: '200',
};
const globalLabels = { cluster: 'prod-eu', gen_ai_request_model: 'gpt-4o', gen_ai_system: 'openai', client: 'node', server: 'api.openai.com', status_code: '200' };

describe('GenAiMetrics', () => {
  async function recorded() {
    const metrics = new GenAiMetrics();
    const cost = new CostCalculator();
    const spans = [
      genAiSpan({ index: 1, inputTokens: 100, outputTokens: 50, durationMs: 250 }),
      genAiSpan({ index: 2, inputTokens: 300, outputTokens: 25, durationMs: 300 }),
      genAiSpan({ index: 3, workload: 'billing', namespace: 'fin', statusCode: 429, errorType: 'rate_limit_exceeded', durationMs: 1500 }),
    ];
    for (const span of spans) {
      cost.applyCost(span);
      metrics.record(span);
    }
    return { metrics, text: await metrics.metricsText() };
  }

  it('exposes the six seed token metrics under sightline_ with workload and global labels', async () => {
    const samples = parseSamples((await recorded()).text);
    expect(valueOf(samples, 'sightline_workload_gen_ai_response_usage_input_tokens', checkoutLabels)).toBe(400);
    expect(valueOf(samples, 'sightline_workload_gen_ai_response_usage_output_tokens', checkoutLabels)).toBe(75);
    expect(valueOf(samples, 'sightline_workload_gen_ai_response_usage_total_tokens', checkoutLabels)).toBe(475);
    expect(valueOf(samples, 'sightline_gen_ai_response_usage_input_tokens', globalLabels)).toBe(400);
    expect(valueOf(samples, 'sightline_gen_ai_response_usage_output_tokens', globalLabels)).toBe(75);
    expect(valueOf(samples, 'sightline_gen_ai_response_usage_total_tokens', globalLabels)).toBe(475);
    const globalSample = samples.find((s) => s.name === 'sightline_gen_ai_response_usage_input_tokens')!;
    expect(Object.keys(globalSample.labels).sort()).toEqual(Object.keys(globalLabels).sort());
  });

  it('counts requests, errors, duration and cost', async () => {
    const samples = parseSamples((await recorded()).text);
    const billing = { ...checkoutLabels, workload: 'billing', namespace: 'fin', status_code: '429' };
    expect(valueOf(samples, 'sightline_gen_ai_requests_total', checkoutLabels)).toBe(2);
    expect(valueOf(samples, 'sightline_gen_ai_requests_total', billing)).toBe(1);
    expect(valueOf(samples, 'sightline_gen_ai_errors_total', billing)).toBe(1);
    expect(valueOf(samples, 'sightline_gen_ai_errors_total', checkoutLabels)).toBeUndefined();
    expect(valueOf(samples, 'sightline_gen_ai_request_duration_seconds_bucket', { ...checkoutLabels, le: '0.16' })).toBe(0);
    expect(valueOf(samples, 'sightline_gen_ai_request_duration_seconds_bucket', { ...checkoutLabels, le: '0.32' })).toBe(2);
    expect(valueOf(samples, 'sightline_gen_ai_request_duration_seconds_sum', checkoutLabels)).toBeCloseTo(0.55, 9);
    expect(valueOf(samples, 'sightline_gen_ai_request_duration_seconds_bucket', { ...billing, le: '1.28' })).toBe(0);
    expect(valueOf(samples, 'sightline_gen_ai_request_duration_seconds_bucket', { ...billing, le: '2.56' })).toBe(1);
    // gpt-4o at $2.50 in / $10 out per million: (100*2.5 + 50*10 + 300*2.5 + 25*10) / 1e6.
    expect(valueOf(samples, 'sightline_gen_ai_cost_usd_total', checkoutLabels)).toBeCloseTo(0.00175, 12);
  });

  it('exposes the OTel GenAI client histograms with the semconv buckets', async () => {
    const { text } = await recorded();
    expect(text).toContain('# TYPE gen_ai_client_token_usage histogram');
    expect(text).toContain('# TYPE gen_ai_client_operation_duration_seconds histogram');
    const samples = parseSamples(text);
    const otel = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o', server_address: 'api.openai.com' };
    const input = { ...otel, gen_ai_token_type: 'input' };
    const bounds = samples.filter((s) => s.name === 'gen_ai_client_token_usage_bucket' && s.labels.gen_ai_token_type === 'input').map((s) => s.labels.le);
    expect(bounds).toEqual(['1', '4', '16', '64', '256', '1024', '4096', '16384', '65536', '262144', '1048576', '4194304', '16777216', '67108864', '+Inf']);
    expect(valueOf(samples, 'gen_ai_client_token_usage_bucket', { ...input, le: '64' })).toBe(0);
    expect(valueOf(samples, 'gen_ai_client_token_usage_bucket', { ...input, le: '256' })).toBe(1);
    expect(valueOf(samples, 'gen_ai_client_token_usage_bucket', { ...input, le: '1024' })).toBe(2);
    expect(valueOf(samples, 'gen_ai_client_token_usage_sum', input)).toBe(400);
    expect(valueOf(samples, 'gen_ai_client_token_usage_count', { ...otel, gen_ai_token_type: 'output' })).toBe(2);
    const durationBounds = samples.filter((s) => s.name === 'gen_ai_client_operation_duration_seconds_bucket' && s.labels.error_type === '').map((s) => s.labels.le);
    expect(durationBounds).toEqual(['0.01', '0.02', '0.04', '0.08', '0.16', '0.32', '0.64', '1.28', '2.56', '5.12', '10.24', '20.48', '40.96', '81.92', '+Inf']);
    expect(valueOf(samples, 'gen_ai_client_operation_duration_seconds_count', { ...otel, error_type: 'rate_limit_exceeded' })).toBe(1);
  });

  it('uses its own registry, not the global one', async () => {
    const { metrics } = await recorded();
    const { register } = await import('prom-client');
    expect(metrics.registry).not.toBe(register);
    expect(await register.getSingleMetricAsString('sightline_gen_ai_requests_total').catch(() => 'absent')).toBe('absent');
  });

  it('folds label values past the cap into _other and counts the overflow', async () => {
    const metrics = new GenAiMetrics({ maxLabelValues: 2 });
    for (const [index, workload] of ['a', 'b', 'c', 'd'].entries()) metrics.record(genAiSpan({ index, workload, inputTokens: 10, outputTokens: 1 }));
    const samples = parseSamples(await metrics.metricsText());
    expect(valueOf(samples, 'sightline_gen_ai_requests_total', { workload: 'a' })).toBe(1);
    expect(valueOf(samples, 'sightline_gen_ai_requests_total', { workload: 'b' })).toBe(1);
    expect(valueOf(samples, 'sightline_gen_ai_requests_total', { workload: '_other' })).toBe(2);
    expect(valueOf(samples, 'sightline_workload_gen_ai_response_usage_input_tokens', { workload: '_other' })).toBe(20);
    expect(valueOf(samples, 'sightline_label_overflow_total', { label: 'workload' })).toBe(2);
  });
});

describe('LabelCardinalityLimiter', () => {
  it('keeps known values after the cap and folds only new ones', async () => {
    const registry = new Registry();
    const limiter = new LabelCardinalityLimiter({ maxValuesPerLabel: 2, registry });
    expect(['x', 'y', 'z', 'x', 'y', 'w'].map((v) => limiter.limit('model', v))).toEqual(['x', 'y', '_other', 'x', 'y', '_other']);
    expect(limiter.limit('workload', 'z')).toBe('z');
    expect(limiter.overflows().get('model')).toBe(2);
    expect(await registry.metrics()).toContain('sightline_label_overflow_total{label="model"} 2');
  });
});

describe('MetricsAggregator', () => {
  it('groups one interval by model, provider and workload, with SLA breaches over the threshold', () => {
    let now = 1_000_000;
    const aggregator = new MetricsAggregator({ slaThresholdMs: 1000, now: () => now });
    aggregator.record(genAiSpan({ index: 1, durationMs: 200, inputTokens: 10, outputTokens: 5 }));
    aggregator.record(genAiSpan({ index: 2, durationMs: 900, inputTokens: 20, outputTokens: 5, cacheReadTokens: 8 }));
    aggregator.record(genAiSpan({ index: 3, durationMs: 1500, statusCode: 500, errorType: 'server_error' }));
    aggregator.record(genAiSpan({ index: 4, durationMs: 100, provider: 'anthropic', requestModel: 'claude-3-5-haiku-20241022', inputTokens: 7, outputTokens: 3 }));
    now += 60_000;
    const drained = aggregator.drain();
    expect(drained).toHaveLength(2);
    const gpt = drained.find((a) => a.model === 'gpt-4o')!;
    expect(gpt).toMatchObject({
      intervalStartMs: 1_000_000,
      intervalEndMs: 1_060_000,
      provider: 'openai',
      workload: 'checkout',
      namespace: 'shop',
      cluster: 'prod-eu',
      calls: 3,
      errors: 1,
      slaBreaches: 1,
      inputTokens: 30,
      outputTokens: 10,
      totalTokens: 40,
      cacheReadInputTokens: 8,
    });
    expect(gpt.duration).toEqual({ count: 3, sumMs: 2600, minMs: 200, maxMs: 1500, p50Ms: 900, p90Ms: 1500, p99Ms: 1500 });
    expect(drained.find((a) => a.provider === 'anthropic')!.calls).toBe(1);
    expect(aggregator.drain()).toEqual([]);
  });
});

describe('calls addressed by a Bedrock ARN', () => {
  const PROFILE_ARN = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0';
  const RESOLVED = 'anthropic.claude-3-5-haiku-20241022-v1:0';
  const bedrockCall = (index: number, requestModel: string, responseModel?: string) =>
    genAiSpan({ index, provider: 'aws.bedrock', requestModel, responseModel, inputTokens: 100, outputTokens: 10, durationMs: 200 });

  it('are grouped and priced under the model that answered, with calls that named it directly', async () => {
    const metrics = new GenAiMetrics();
    const cost = new CostCalculator();
    for (const span of [bedrockCall(1, PROFILE_ARN, RESOLVED), bedrockCall(2, RESOLVED, RESOLVED)]) {
      cost.applyCost(span);
      metrics.record(span);
    }
    const samples = parseSamples(await metrics.metricsText());
    const requests = samples.filter((sample) => sample.name === 'sightline_gen_ai_requests_total');
    expect(requests.map((sample) => [sample.labels.gen_ai_request_model, sample.value])).toEqual([[RESOLVED, 2]]);
    expect(samples.filter((sample) => sample.name === 'sightline_gen_ai_cost_usd_total').map((sample) => sample.labels.gen_ai_request_model)).toEqual([RESOLVED]);
    expect(samples.some((sample) => sample.name === 'sightline_gen_ai_unpriced_requests_total' && sample.value > 0)).toBe(false);
    // The OTel histograms keep the semantic-convention meaning: the request model as sent, the response model apart.
    const otel = samples.filter((sample) => sample.name === 'gen_ai_client_operation_duration_seconds_count');
    expect(otel.map((sample) => [sample.labels.gen_ai_request_model, sample.labels.gen_ai_response_model]).sort()).toEqual([[PROFILE_ARN, RESOLVED], [RESOLVED, RESOLVED]].sort());
  });

  it('are aggregated for CloudWatch and Timestream under the model that answered', () => {
    const aggregator = new MetricsAggregator();
    aggregator.record(bedrockCall(1, PROFILE_ARN, RESOLVED));
    aggregator.record(bedrockCall(2, RESOLVED, RESOLVED));
    // An opaque application profile whose model is unknown stays under its ARN.
    const opaque = 'arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5';
    aggregator.record(bedrockCall(3, opaque));
    expect(aggregator.drain().map((aggregate) => [aggregate.model, aggregate.calls]).sort()).toEqual([[RESOLVED, 2], [opaque, 1]].sort());
  });
});

describe('prometheusHandler', () => {
  it('serves the registry as Prometheus text and refuses other methods', async () => {
    const metrics = new GenAiMetrics();
    metrics.record(genAiSpan({ inputTokens: 12, outputTokens: 3 }));
    const server = http.createServer(prometheusHandler(metrics.registry));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    try {
      const ok = await fetch(base);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toContain('text/plain');
      expect(valueOf(parseSamples(await ok.text()), 'sightline_gen_ai_response_usage_input_tokens', globalLabels)).toBe(12);
      expect((await fetch(base, { method: 'POST' })).status).toBe(405);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('values a client can send over OTLP', () => {
  test('negative token counts and cost are ignored instead of breaking the counters', async () => {
    const metrics = new GenAiMetrics();
    const span = genAiSpan({ index: 9, inputTokens: -5, outputTokens: 7, extraAttributes: { 'sightline.cost.usd': -1 } });
    expect(() => metrics.record(span)).not.toThrow();
    const text = await metrics.metricsText();
    expect(text).toMatch(/^sightline_gen_ai_requests_total\{[^}]*\} 1$/m);
    expect(text).toMatch(/^sightline_gen_ai_response_usage_output_tokens\{[^}]*\} 7$/m);
    expect(text).not.toMatch(/^sightline_gen_ai_response_usage_input_tokens\{/m);
    expect(text).not.toMatch(/^sightline_gen_ai_cost_usd_total\{/m);
  });
});
