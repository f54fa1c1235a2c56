import type { MetricAggregate } from '../../sensor/pipeline/metrics';

export function aggregate(overrides: Partial<MetricAggregate> = {}): MetricAggregate {
  return {
    intervalStartMs: Date.UTC(2026, 10, 25, 14, 0, 0),
    intervalEndMs: Date.UTC(2026, 10, 25, 14, 1, 0),
    model: 'gpt-4o',
    provider: 'openai',
    workload: 'checkout',
    namespace: 'shop',
    cluster: 'prod-eu',
    calls: 4,
    errors: 1,
    slaBreaches: 2,
    slaThresholdMs: 1000,
    duration: { count: 4, sumMs: 4400, minMs: 200, maxMs: 2000, p50Ms: 1000, p90Ms: 2000, p99Ms: 2000 },
    inputTokens: 1000,
    outputTokens: 250,
    totalTokens: 1250,
    cacheReadInputTokens: 100,
    cacheCreationInputTokens: 0,
    costUsd: 0.005,
    ...overrides,
  };
}
