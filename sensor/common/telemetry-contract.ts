/**
 * What the gateway writes and where: the names the data-plane infrastructure, the dashboards and the
 * saved queries share with the exporters. A rename here is a breaking change for deployed accounts.
 */

/** CloudWatch namespace of every Sightline metric. */
export const METRIC_NAMESPACE = 'Sightline';

/** Per-call metrics, published with the `Model` and `Provider` dimensions (token metrics also with `Workload`). */
export const CallMetric = {
  calls: 'Calls',
  errors: 'Errors',
  durationMs: 'DurationMs',
  inputTokens: 'InputTokens',
  outputTokens: 'OutputTokens',
  totalTokens: 'TotalTokens',
  costUsd: 'CostUsd',
  slaBreaches: 'SlaBreaches',
} as const;

/** Health metrics of the sensor fleet and the gateway, published by the gateway with the `Component` dimension. */
export const HealthMetric = {
  captureDrops: 'CaptureDrops',
  spoolBytes: 'SpoolBytes',
  /** Every interval: 1 from each gateway process (`gateway`), and the number of sensors that reported (`sensor`). */
  heartbeat: 'Heartbeat',
  /** Items a gateway sink lost for good (refused by the sink, spool full, spool write failed), per interval. */
  exportDroppedItems: 'ExportDroppedItems',
  /** Deliveries to a sink that failed and will be retried (the sink is down or throttling), per interval. */
  exportFailedAttempts: 'ExportFailedAttempts',
  /**
   * OTLP requests and connections the gateway refused before reading them (no token, a wrong token, a failed TLS
   * handshake), per interval: a sensor with a stale token, or someone else knocking.
   */
  rejectedRequests: 'RejectedRequests',
} as const;

export const MetricDimension = {
  model: 'Model',
  provider: 'Provider',
  workload: 'Workload',
  component: 'Component',
  /** The gateway sink (`s3`, `timestream`, `cloudwatch`, ...) of the export health metrics. */
  exporter: 'Exporter',
} as const;

/** Values of the `Component` dimension. */
export type HealthComponent = 'sensor' | 'gateway';

/** Key prefixes the gateway writes to in the span bucket. */
export const SpanObjectPrefix = {
  spans: 'spans/',
  payloads: 'payloads/',
} as const;

/** Where Athena writes query results inside the span bucket; never written by the gateway. */
export const ATHENA_RESULTS_PREFIX = 'athena-results/';

/** Columns of one span row (gzip JSON lines under `spans/dt=YYYY-MM-DD/hour=HH/`), in Glue types. */
export const SPAN_COLUMNS: ReadonlyArray<{ readonly name: string; readonly type: string; readonly comment: string }> = [
  { name: 'trace_id', type: 'string', comment: 'W3C trace id, hex' },
  { name: 'span_id', type: 'string', comment: 'span id, hex' },
  { name: 'parent_span_id', type: 'string', comment: 'parent span id, hex; empty for a root span' },
  { name: 'name', type: 'string', comment: '{operation} {request model}' },
  { name: 'start_time', type: 'string', comment: 'ISO-8601 start of the call' },
  { name: 'end_time', type: 'string', comment: 'ISO-8601 end of the call' },
  { name: 'duration_ms', type: 'double', comment: 'call latency in milliseconds' },
  { name: 'provider', type: 'string', comment: 'openai, anthropic, aws.bedrock, ...' },
  { name: 'operation', type: 'string', comment: 'chat, embeddings, ...' },
  { name: 'request_model', type: 'string', comment: 'model the client asked for' },
  { name: 'response_model', type: 'string', comment: 'model that answered' },
  { name: 'input_tokens', type: 'bigint', comment: 'input tokens, cached ones included' },
  { name: 'output_tokens', type: 'bigint', comment: 'output tokens' },
  { name: 'total_tokens', type: 'bigint', comment: 'input plus output tokens' },
  { name: 'cost_usd', type: 'double', comment: 'estimated cost from the price table' },
  { name: 'status_code', type: 'int', comment: 'HTTP status of the provider response' },
  { name: 'error_type', type: 'string', comment: 'provider error type, empty on success' },
  { name: 'workload', type: 'string', comment: 'owning Deployment/StatefulSet/DaemonSet/Job' },
  { name: 'namespace', type: 'string', comment: 'Kubernetes namespace of the calling pod' },
  { name: 'cluster', type: 'string', comment: 'cluster name of the calling pod' },
  { name: 'pod', type: 'string', comment: 'calling pod' },
  { name: 'source', type: 'string', comment: 'ebpf (captured by a sensor) or otlp (sent by an instrumented app)' },
  { name: 'attributes', type: 'string', comment: 'all span attributes as a JSON string' },
];

/** Timestream tables inside the Sightline database. */
export const TimestreamTable = {
  llmCalls: 'llm_calls',
  sensorHealth: 'sensor_health',
} as const;

/** Ports of the `sightline` container image. */
export const SightlinePort = {
  /** OTLP/HTTP receiver of the gateway, and the node-local receiver of the sensor. */
  otlp: 4318,
  /** `/readyz`, `/healthz` and Prometheus `/metrics`. */
  http: 9464,
} as const;

/** Kubernetes namespace both charts install into. */
export const KUBERNETES_NAMESPACE = 'sightline';
