/**
 * Rate, errors, duration, usage and cost metrics from GenAI spans: the seed's token metrics under `sightline_`,
 * the OTel GenAI client histograms, and a per-interval aggregate for the CloudWatch and Timestream exporters.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import type { GenAiSpan } from '../span/gen-ai-span';
import { LabelCardinalityLimiter, DEFAULT_MAX_VALUES_PER_LABEL } from './cardinality';
import { COST_ATTRIBUTE, tokenCountsOf } from './cost';

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

/** Prometheus metrics over GenAI spans, on a registry the `/metrics` handler serves. */
export class GenAiMetrics {
  readonly registry: Registry;
  private readonly cardinality: LabelCardinalityLimiter;
  private readonly workloadInputTokens: Counter<WorkloadLabel>;
  private readonly workloadOutputTokens: Counter<WorkloadLabel>;
  private readonly workloadTotalTokens: Counter<WorkloadLabel>;
  private readonly globalInputTokens: Counter<GlobalLabel>;
  private readonly globalOutputTokens: Counter<GlobalLabel>;
  private readonly globalTotalTokens: Counter<GlobalLabel>;
  private readonly requests: Counter<WorkloadLabel>;
  private readonly errors: Counter<WorkloadLabel>;
  private readonly requestDuration: Histogram<WorkloadLabel>;
  private readonly cost: Counter<WorkloadLabel>;
  private readonly unpricedRequests: Counter<'gen_ai_request_model'>;
  private readonly otelTokenUsage: Histogram<OtelLabel | 'gen_ai_token_type'>;
  private readonly otelOperationDuration: Histogram<OtelLabel | 'error_type'>;

  constructor(options: GenAiMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.cardinality = options.cardinality ?? new LabelCardinalityLimiter({ registry: this.registry, maxValuesPerLabel: options.maxLabelValues });
    const registers = [this.registry];
    const workloadCounter = (name: string, help: string) => new Counter({ name, help, labelNames: WORKLOAD_LABELS, registers });
    const globalCounter = (name: string, help: string) => new Counter({ name, help, labelNames: GLOBAL_LABELS, registers });

    this.workloadInputTokens = workloadCounter('sightline_workload_gen_ai_response_usage_input_tokens', 'Input token count, aggregated by Kubernetes workload.');
    this.workloadOutputTokens = workloadCounter('sightline_workload_gen_ai_response_usage_output_tokens', 'Output token count, aggregated by Kubernetes workload.');
    this.workloadTotalTokens = workloadCounter('sightline_workload_gen_ai_response_usage_total_tokens', 'Total token usage, aggregated by Kubernetes workload.');
    this.globalInputTokens = globalCounter('sightline_gen_ai_response_usage_input_tokens', 'Global input token count (cluster-wide).');
    this.globalOutputTokens = globalCounter('sightline_gen_ai_response_usage_output_tokens', 'Global output token count (cluster-wide).');
    this.globalTotalTokens = globalCounter('sightline_gen_ai_response_usage_total_tokens', 'Global total token usage (cluster-wide).');
    this.requests = workloadCounter('sightline_gen_ai_requests_total', 'LLM calls.');
    this.errors = workloadCounter('sightline_gen_ai_errors_total', 'LLM calls that ended in an error (provider error, HTTP error status or transport failure).');
    this.cost = workloadCounter('sightline_gen_ai_cost_usd_total', 'Cost of LLM calls in USD at list prices.');
    this.requestDuration = new Histogram({
      name: 'sightline_gen_ai_request_duration_seconds',
      help: 'LLM call duration, request start to last response byte.',
      labelNames: WORKLOAD_LABELS,
      buckets: OPERATION_DURATION_BUCKETS,
      registers,
    });
    this.unpricedRequests = new Counter({
      name: 'sightline_gen_ai_unpriced_requests_total',
      help: 'LLM calls with token usage whose model is not in the price table (add it under pricing.models).',
      labelNames: ['gen_ai_request_model'],
      registers,
    });
    this.otelTokenUsage = new Histogram({
      name: 'gen_ai_client_token_usage',
      help: 'Number of input and output tokens used (OTel gen_ai.client.token.usage, unit {token}).',
      labelNames: [...OTEL_COMMON_LABELS, 'gen_ai_token_type'],
      buckets: TOKEN_USAGE_BUCKETS,
      registers,
    });
    this.otelOperationDuration = new Histogram({
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'GenAI operation duration (OTel gen_ai.client.operation.duration).',
      labelNames: [...OTEL_COMMON_LABELS, 'error_type'],
      buckets: OPERATION_DURATION_BUCKETS,
      registers,
    });
  }

  record(span: GenAiSpan): void {
    const facts = spanFacts(span);
    const limit = (label: string, value: string) => this.cardinality.limit(label, value);
    const global: Record<GlobalLabel, string> = {
      cluster: limit('cluster', facts.cluster),
      gen_ai_request_model: limit('gen_ai_request_model', facts.model),
      gen_ai_system: limit('gen_ai_system', facts.provider),
      client: limit('client', facts.client),
      server: limit('server', facts.server),
      status_code: limit('status_code', facts.statusCode),
    };
    const workload: Record<WorkloadLabel, string> = {
      ...global,
      workload: limit('workload', facts.workload),
      namespace: limit('namespace', facts.namespace),
    };

    this.requests.inc(workload);
    if (facts.isError) this.errors.inc(workload);
    this.requestDuration.observe(workload, facts.durationSeconds);
    if (facts.inputTokens !== undefined) {
      this.workloadInputTokens.inc(workload, facts.inputTokens);
      this.globalInputTokens.inc(global, facts.inputTokens);
    }
    if (facts.outputTokens !== undefined) {
      this.workloadOutputTokens.inc(workload, facts.outputTokens);
      this.globalOutputTokens.inc(global, facts.outputTokens);
    }
    if (facts.totalTokens !== undefined) {
      this.workloadTotalTokens.inc(workload, facts.totalTokens);
      this.globalTotalTokens.inc(global, facts.totalTokens);
    }
    if (facts.costUsd !== undefined) this.cost.inc(workload, facts.costUsd);
    else if (facts.inputTokens !== undefined || facts.outputTokens !== undefined) this.unpricedRequests.inc({ gen_ai_request_model: global.gen_ai_request_model });

    const otel: Record<OtelLabel, string> = {
      gen_ai_operation_name: limit('gen_ai_operation_name', facts.operation),
      gen_ai_provider_name: global.gen_ai_system,
      // Semantic-convention meaning here: the request model as sent, next to the response model.
      gen_ai_request_model: limit('gen_ai_request_model', facts.requestModel),
      gen_ai_response_model: limit('gen_ai_response_model', facts.responseModel),
      server_address: global.server,
    };
    this.otelOperationDuration.observe({ ...otel, error_type: limit('error_type', facts.errorType) }, facts.durationSeconds);
    if (facts.inputTokens !== undefined) this.otelTokenUsage.observe({ ...otel, gen_ai_token_type: 'input' }, facts.inputTokens);
    if (facts.outputTokens !== undefined) this.otelTokenUsage.observe({ ...otel, gen_ai_token_type: 'output' }, facts.outputTokens);
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
