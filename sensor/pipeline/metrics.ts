/**
 * Rate, errors, duration, usage and cost metrics from GenAI spans: the seed's token metrics under `sightline_`,
 * the OTel GenAI client histograms, and a per-interval aggregate for the CloudWatch and Timestream exporters.
 */
import { Registry } from 'prom-client';
import { z } from 'zod';
import type { GenAiSpan } from '../span/gen-ai-span';
import { LabelCardinalityLimiter, DEFAULT_MAX_VALUES_PER_LABEL } from './cardinality';
import { COST_ATTRIBUTE, tokenCountsOf } from './cost';
import { add, SeriesCounter, SeriesHistogram, type CounterCell, type HistogramCell } from './metric-series';

/** OTel GenAI semconv advisory bucket boundaries for `gen_ai.client.token.usage` ({token}). */
export const TOKEN_USAGE_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
/** OTel GenAI semconv advisory bucket boundaries for `gen_ai.client.operation.duration` (s). */
export const OPERATION_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

export const metricsConfigSchema = z
  .object({
    slaThresholdMs: z.number().positive().default(1000).describe('A call slower than this counts as an SLA breach in the per-interval aggregates.'),
    maxLabelValues: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_MAX_VALUES_PER_LABEL)
      .describe('Distinct values kept per metric label; further values are reported as `_other`.'),
  })
  .describe('Metrics derived from GenAI spans.');
export type MetricsConfig = z.input<typeof metricsConfigSchema>;

const WORKLOAD_LABELS = ['workload', 'namespace', 'cluster', 'gen_ai_request_model', 'gen_ai_system', 'client', 'server', 'status_code'] as const;
const GLOBAL_LABELS = ['cluster', 'gen_ai_request_model', 'gen_ai_system', 'client', 'server', 'status_code'] as const;
const OTEL_COMMON_LABELS = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model', 'server_address'] as const;

type WorkloadLabel = (typeof WORKLOAD_LABELS)[number];
type GlobalLabel = (typeof GLOBAL_LABELS)[number];
type OtelLabel = (typeof OTEL_COMMON_LABELS)[number];

function text(attributes: GenAiSpan['attributes'], ...names: string[]): string {
  for (const name of names) {
    const value = attributes[name];
    if (typeof value === 'string' && value !== '') return value;
    if (typeof value === 'number') return String(value);
  }
  return '';
}

/** Facts about a span that every metric and aggregate needs, read once. */
export interface SpanFacts {
  workload: string;
  namespace: string;
  cluster: string;
  client: string;
  server: string;
  requestModel: string;
  responseModel: string;
  /** The model calls are grouped under (see groupingModel). */
  model: string;
  provider: string;
  operation: string;
  statusCode: string;
  errorType: string;
  isError: boolean;
  durationSeconds: number;
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
  costUsd?: number;
}

/**
 * The model a call is grouped under: the request model, except when that is an ARN (a Bedrock inference profile,
 * an address rather than a name), where the model that answered is the one users look for, and the one it is priced as.
 */
export function groupingModel(requestModel: string, responseModel: string): string {
  if (requestModel.startsWith('arn:') && responseModel !== '') return responseModel;
  return requestModel || responseModel;
}

export function spanFacts(span: GenAiSpan): SpanFacts {
  const { attributes, resource } = span;
  const errorType = text(attributes, 'error.type', 'gen_ai.error.type');
  const status = attributes['http.response.status_code'];
  const tokens = tokenCountsOf(span);
  const cost = attributes[COST_ATTRIBUTE];
  const durationNs = span.endTimeUnixNano - span.startTimeUnixNano;
  const requestModel = text(attributes, 'gen_ai.request.model');
  const responseModel = text(attributes, 'gen_ai.response.model');
  return {
    workload: text(resource, 'sightline.workload', 'k8s.deployment.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.job.name'),
    namespace: text(resource, 'k8s.namespace.name'),
    cluster: text(resource, 'k8s.cluster.name'),
    // The calling program: its workload's pods share an executable, so this stays bounded on the global metrics.
    client: text(resource, 'process.executable.name', 'service.name'),
    server: text(attributes, 'server.address'),
    requestModel,
    responseModel,
    model: groupingModel(requestModel, responseModel),
    provider: text(attributes, 'gen_ai.provider.name', 'gen_ai.system'),
    operation: text(attributes, 'gen_ai.operation.name'),
    statusCode: typeof status === 'number' || typeof status === 'string' ? String(status) : '',
    errorType,
    isError: span.status.code === 'error' || errorType !== '',
    durationSeconds: durationNs > 0n ? Number(durationNs) / 1e9 : 0,
    ...tokens,
    costUsd: typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : undefined,
  };
}

export interface GenAiMetricsOptions {
  /** Registry to register on; a fresh one by default (never the global registry). */
  registry?: Registry;
  /** Shared limiter; by default one on this registry with `maxLabelValues`. */
  cardinality?: LabelCardinalityLimiter;
  maxLabelValues?: number;
}

/** Every series one span updates, found together by one key. */
interface SpanSeries {
  requests: CounterCell;
  errors: CounterCell;
  cost: CounterCell;
  requestDuration: HistogramCell;
  workloadInputTokens: CounterCell;
  workloadOutputTokens: CounterCell;
  workloadTotalTokens: CounterCell;
  globalInputTokens: CounterCell;
  globalOutputTokens: CounterCell;
  globalTotalTokens: CounterCell;
  unpricedRequests: CounterCell;
  otelOperationDuration: HistogramCell;
  otelInputTokens: HistogramCell;
  otelOutputTokens: HistogramCell;
}

/** Distinct label combinations remembered; past it the map starts over (the series themselves are kept). */
const MAX_REMEMBERED_COMBINATIONS = 10_000;

/** Prometheus metrics over GenAI spans, on a registry the `/metrics` handler serves. */
export class GenAiMetrics {
  readonly registry: Registry;
  private readonly cardinality: LabelCardinalityLimiter;
  private readonly workloadInputTokens: SeriesCounter<WorkloadLabel>;
  private readonly workloadOutputTokens: SeriesCounter<WorkloadLabel>;
  private readonly workloadTotalTokens: SeriesCounter<WorkloadLabel>;
  private readonly globalInputTokens: SeriesCounter<GlobalLabel>;
  private readonly globalOutputTokens: SeriesCounter<GlobalLabel>;
  private readonly globalTotalTokens: SeriesCounter<GlobalLabel>;
  private readonly requests: SeriesCounter<WorkloadLabel>;
  private readonly errors: SeriesCounter<WorkloadLabel>;
  private readonly requestDuration: SeriesHistogram<WorkloadLabel>;
  private readonly cost: SeriesCounter<WorkloadLabel>;
  private readonly unpricedRequests: SeriesCounter<'gen_ai_request_model'>;
  private readonly otelTokenUsage: SeriesHistogram<OtelLabel | 'gen_ai_token_type'>;
  private readonly otelOperationDuration: SeriesHistogram<OtelLabel | 'error_type'>;
  private readonly combinations = new Map<string, SpanSeries>();

  constructor(options: GenAiMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.cardinality = options.cardinality ?? new LabelCardinalityLimiter({ registry: this.registry, maxValuesPerLabel: options.maxLabelValues });
    const registry = this.registry;
    const workloadCounter = (name: string, help: string) => new SeriesCounter<WorkloadLabel>(name, help, registry);
    const globalCounter = (name: string, help: string) => new SeriesCounter<GlobalLabel>(name, help, registry);

    this.workloadInputTokens = workloadCounter('sightline_workload_gen_ai_response_usage_input_tokens', 'Input token count, aggregated by Kubernetes workload.');
    this.workloadOutputTokens = workloadCounter('sightline_workload_gen_ai_response_usage_output_tokens', 'Output token count, aggregated by Kubernetes workload.');
    this.workloadTotalTokens = workloadCounter('sightline_workload_gen_ai_response_usage_total_tokens', 'Total token usage, aggregated by Kubernetes workload.');
    this.globalInputTokens = globalCounter('sightline_gen_ai_response_usage_input_tokens', 'Global input token count (cluster-wide).');
    this.globalOutputTokens = globalCounter('sightline_gen_ai_response_usage_output_tokens', 'Global output token count (cluster-wide).');
    this.globalTotalTokens = globalCounter('sightline_gen_ai_response_usage_total_tokens', 'Global total token usage (cluster-wide).');
    this.requests = workloadCounter('sightline_gen_ai_requests_total', 'LLM calls.');
    this.errors = workloadCounter('sightline_gen_ai_errors_total', 'LLM calls that ended in an error (provider error, HTTP error status or transport failure).');
    this.cost = workloadCounter('sightline_gen_ai_cost_usd_total', 'Cost of LLM calls in USD at list prices.');
    this.requestDuration = new SeriesHistogram<WorkloadLabel>(
      'sightline_gen_ai_request_duration_seconds',
      'LLM call duration, request start to last response byte.',
      registry,
      OPERATION_DURATION_BUCKETS,
    );
    this.unpricedRequests = new SeriesCounter<'gen_ai_request_model'>(
      'sightline_gen_ai_unpriced_requests_total',
      'LLM calls with token usage whose model is not in the price table (add it under pricing.models).',
      registry,
    );
    this.otelTokenUsage = new SeriesHistogram<OtelLabel | 'gen_ai_token_type'>(
      'gen_ai_client_token_usage',
      'Number of input and output tokens used (OTel gen_ai.client.token.usage, unit {token}).',
      registry,
      TOKEN_USAGE_BUCKETS,
    );
    this.otelOperationDuration = new SeriesHistogram<OtelLabel | 'error_type'>(
      'gen_ai_client_operation_duration_seconds',
      'GenAI operation duration (OTel gen_ai.client.operation.duration).',
      registry,
      OPERATION_DURATION_BUCKETS,
    );
  }

  record(span: GenAiSpan): void {
    const facts = spanFacts(span);
    const limit = (label: string, value: string) => this.cardinality.limit(label, value);
    const values = [
      limit('cluster', facts.cluster),
      limit('gen_ai_request_model', facts.model),
      limit('gen_ai_system', facts.provider),
      limit('client', facts.client),
      limit('server', facts.server),
      limit('status_code', facts.statusCode),
      limit('workload', facts.workload),
      limit('namespace', facts.namespace),
      limit('gen_ai_operation_name', facts.operation),
      limit('gen_ai_response_model', facts.responseModel),
      limit('error_type', facts.errorType),
      // The OTel histograms keep the semantic-convention meaning: the request model as sent, next to the response model.
      limit('gen_ai_request_model', facts.requestModel),
    ];
    const key = values.join('\u0000');
    let series = this.combinations.get(key);
    if (!series) {
      if (this.combinations.size >= MAX_REMEMBERED_COMBINATIONS) this.combinations.clear();
      series = this.seriesFor(values);
      this.combinations.set(key, series);
    }

    add(series.requests, 1);
    if (facts.isError) add(series.errors, 1);
    this.requestDuration.observe(series.requestDuration, facts.durationSeconds);
    if (facts.inputTokens !== undefined) {
      add(series.workloadInputTokens, facts.inputTokens);
      add(series.globalInputTokens, facts.inputTokens);
      this.otelTokenUsage.observe(series.otelInputTokens, facts.inputTokens);
    }
    if (facts.outputTokens !== undefined) {
      add(series.workloadOutputTokens, facts.outputTokens);
      add(series.globalOutputTokens, facts.outputTokens);
      this.otelTokenUsage.observe(series.otelOutputTokens, facts.outputTokens);
    }
    if (facts.totalTokens !== undefined) {
      add(series.workloadTotalTokens, facts.totalTokens);
      add(series.globalTotalTokens, facts.totalTokens);
    }
    if (facts.costUsd !== undefined) add(series.cost, facts.costUsd);
    else if (facts.inputTokens !== undefined || facts.outputTokens !== undefined) add(series.unpricedRequests, 1);
    this.otelOperationDuration.observe(series.otelOperationDuration, facts.durationSeconds);
  }

  /** The series of one label combination, created where new; each family keys its own label subset. */
  private seriesFor(values: string[]): SpanSeries {
    const [cluster, model, system, client, server, statusCode, workload, namespace, operation, responseModel, errorType, requestModel] = values;
    const global: Record<GlobalLabel, string> = { cluster, gen_ai_request_model: model, gen_ai_system: system, client, server, status_code: statusCode };
    const workloadLabels: Record<WorkloadLabel, string> = { ...global, workload, namespace };
    const otel: Record<OtelLabel, string> = {
      gen_ai_operation_name: operation,
      gen_ai_provider_name: system,
      gen_ai_request_model: requestModel,
      gen_ai_response_model: responseModel,
      server_address: server,
    };
    const workloadKey = values.slice(0, 8).join('\u0000');
    const globalKey = values.slice(0, 6).join('\u0000');
    const otelKey = [operation, system, requestModel, responseModel, server].join('\u0000');
    return {
      requests: this.requests.cell(workloadKey, () => workloadLabels),
      errors: this.errors.cell(workloadKey, () => workloadLabels),
      cost: this.cost.cell(workloadKey, () => workloadLabels),
      requestDuration: this.requestDuration.cell(workloadKey, () => workloadLabels),
      workloadInputTokens: this.workloadInputTokens.cell(workloadKey, () => workloadLabels),
      workloadOutputTokens: this.workloadOutputTokens.cell(workloadKey, () => workloadLabels),
      workloadTotalTokens: this.workloadTotalTokens.cell(workloadKey, () => workloadLabels),
      globalInputTokens: this.globalInputTokens.cell(globalKey, () => global),
      globalOutputTokens: this.globalOutputTokens.cell(globalKey, () => global),
      globalTotalTokens: this.globalTotalTokens.cell(globalKey, () => global),
      unpricedRequests: this.unpricedRequests.cell(model, () => ({ gen_ai_request_model: model })),
      otelOperationDuration: this.otelOperationDuration.cell(`${otelKey}\u0000${errorType}`, () => ({ ...otel, error_type: errorType })),
      otelInputTokens: this.otelTokenUsage.cell(`${otelKey}\u0000input`, () => ({ ...otel, gen_ai_token_type: 'input' })),
      otelOutputTokens: this.otelTokenUsage.cell(`${otelKey}\u0000output`, () => ({ ...otel, gen_ai_token_type: 'output' })),
    };
  }

  /** Prometheus text exposition of every metric on the registry. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface DurationSummary {
  count: number;
  sumMs: number;
  minMs: number;
  maxMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

/** One model/provider/workload group over one interval. */
export interface MetricAggregate {
  intervalStartMs: number;
  intervalEndMs: number;
  model: string;
  provider: string;
  workload: string;
  namespace: string;
  cluster: string;
  calls: number;
  errors: number;
  /** Calls slower than the SLA threshold. */
  slaBreaches: number;
  slaThresholdMs: number;
  duration: DurationSummary;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  costUsd: number;
}

export interface MetricsAggregatorOptions {
  slaThresholdMs?: number;
  /** Bounds the model/provider/workload values, and so the number of groups per interval. */
  cardinality?: LabelCardinalityLimiter;
  /** Duration samples kept per group for percentiles; beyond that a uniform reservoir sample. */
  maxSamplesPerGroup?: number;
  now?: () => number;
}

interface Group {
  aggregate: MetricAggregate;
  samples: number[];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Accumulates spans into per-interval groups; `drain()` hands the interval over and starts the next. */
export class MetricsAggregator {
  readonly slaThresholdMs: number;
  private readonly cardinality: LabelCardinalityLimiter;
  private readonly maxSamples: number;
  private readonly now: () => number;
  private groups = new Map<string, Group>();
  private intervalStartMs: number;

  constructor(options: MetricsAggregatorOptions = {}) {
    this.slaThresholdMs = options.slaThresholdMs ?? 1000;
    this.cardinality = options.cardinality ?? new LabelCardinalityLimiter();
    this.maxSamples = options.maxSamplesPerGroup ?? 4096;
    this.now = options.now ?? Date.now;
    this.intervalStartMs = this.now();
  }

  record(span: GenAiSpan): void {
    const facts = spanFacts(span);
    const model = this.cardinality.limit('model', facts.model || 'unknown');
    const provider = this.cardinality.limit('provider', facts.provider || 'unknown');
    const workload = this.cardinality.limit('workload', facts.workload);
    const namespace = this.cardinality.limit('namespace', facts.namespace);
    const cluster = this.cardinality.limit('cluster', facts.cluster);
    const key = JSON.stringify([model, provider, workload, namespace, cluster]);
    let group = this.groups.get(key);
    if (!group) {
      group = {
        samples: [],
        aggregate: {
          intervalStartMs: this.intervalStartMs,
          intervalEndMs: this.intervalStartMs,
          model,
          provider,
          workload,
          namespace,
          cluster,
          calls: 0,
          errors: 0,
          slaBreaches: 0,
          slaThresholdMs: this.slaThresholdMs,
          duration: { count: 0, sumMs: 0, minMs: Infinity, maxMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0 },
          inputTokens: 0,
          outputTokens: 0,
          totalTokens: 0,
          cacheReadInputTokens: 0,
          cacheCreationInputTokens: 0,
          costUsd: 0,
        },
      };
      this.groups.set(key, group);
    }
    const aggregate = group.aggregate;
    const durationMs = facts.durationSeconds * 1000;
    aggregate.calls++;
    if (facts.isError) aggregate.errors++;
    if (durationMs > this.slaThresholdMs) aggregate.slaBreaches++;
    const duration = aggregate.duration;
    duration.count++;
    duration.sumMs += durationMs;
    duration.minMs = Math.min(duration.minMs, durationMs);
    duration.maxMs = Math.max(duration.maxMs, durationMs);
    if (group.samples.length < this.maxSamples) group.samples.push(durationMs);
    else {
      const slot = Math.floor(Math.random() * duration.count);
      if (slot < this.maxSamples) group.samples[slot] = durationMs;
    }
    aggregate.inputTokens += facts.inputTokens ?? 0;
    aggregate.outputTokens += facts.outputTokens ?? 0;
    aggregate.totalTokens += facts.totalTokens ?? 0;
    aggregate.cacheReadInputTokens += facts.cacheReadInputTokens ?? 0;
    aggregate.cacheCreationInputTokens += facts.cacheCreationInputTokens ?? 0;
    aggregate.costUsd += facts.costUsd ?? 0;
  }

  /** The groups of the interval that ends now; the next interval starts empty. */
  drain(): MetricAggregate[] {
    const endMs = this.now();
    const drained: MetricAggregate[] = [];
    for (const { aggregate, samples } of this.groups.values()) {
      samples.sort((a, b) => a - b);
      aggregate.intervalEndMs = endMs;
      aggregate.duration.p50Ms = percentile(samples, 50);
      aggregate.duration.p90Ms = percentile(samples, 90);
      aggregate.duration.p99Ms = percentile(samples, 99);
      drained.push(aggregate);
    }
    this.groups = new Map();
    this.intervalStartMs = endMs;
    return drained;
  }
}
