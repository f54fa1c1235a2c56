/**
 * S3 span exporter: gzip-compressed JSON lines, one flat row per span, under Hive-style `dt=`/`hour=` partitions
 * so an Athena/Glue table can prune by date.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { GenAiSpan } from '../span/gen-ai-span';
import { nanosToMillis } from './span-json';
import type { SpanExporter } from './span-exporter';

/** One span as an Athena row; column names are the Glue table's. */
export interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  start_time: string;
  end_time: string;
  duration_ms: number;
  provider: string | null;
  operation: string | null;
  request_model: string | null;
  response_model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
  cost_usd: number | null;
  status_code: number | null;
  error_type: string | null;
  workload: string | null;
  namespace: string | null;
  cluster: string | null;
  pod: string | null;
  source: string;
  /** Every span attribute and resource attribute, as JSON text. */
  attributes: string;
}

function stringOf(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function numberOf(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

export function toSpanRow(span: GenAiSpan): SpanRow {
  const a = span.attributes;
  const r = span.resource;
  const input = numberOf(a['gen_ai.usage.input_tokens'] ?? a['gen_ai.response.usage.input_tokens']);
  const output = numberOf(a['gen_ai.usage.output_tokens'] ?? a['gen_ai.response.usage.output_tokens']);
  const total = numberOf(a['gen_ai.response.usage.total_tokens']) ?? (input !== null || output !== null ? (input ?? 0) + (output ?? 0) : null);
  const startMs = nanosToMillis(span.startTimeUnixNano);
  const endMs = nanosToMillis(span.endTimeUnixNano);
  return {
    trace_id: span.traceId,
    span_id: span.spanId,
    parent_span_id: span.parentSpanId ?? null,
    name: span.name,
    start_time: new Date(startMs).toISOString(),
    end_time: new Date(endMs).toISOString(),
    duration_ms: Math.max(0, endMs - startMs),
    provider: stringOf(a['gen_ai.provider.name']) ?? stringOf(a['gen_ai.system']),
    operation: stringOf(a['gen_ai.operation.name']),
    request_model: stringOf(a['gen_ai.request.model']),
    response_model: stringOf(a['gen_ai.response.model']),
    input_tokens: input,
    output_tokens: output,
    total_tokens: total,
    cost_usd: numberOf(a['sightline.cost.usd']),
    status_code: numberOf(a['http.response.status_code']),
    error_type: stringOf(a['error.type']) ?? stringOf(a['gen_ai.error.type']),
    workload: stringOf(r['sightline.workload']),
    namespace: stringOf(r['k8s.namespace.name']),
    cluster: stringOf(r['k8s.cluster.name']),
    pod: stringOf(r['k8s.pod.name']),
    source: span.source,
    attributes: JSON.stringify({ span: a, resource: r, status: span.status }),
  };
}

/** `{prefix}spans/dt=YYYY-MM-DD/hour=HH/` of a span's start time (UTC). */
export function partitionOf(prefix: string, startTimeMs: number): string {
  const iso = new Date(startTimeMs).toISOString();
  return `${prefix}spans/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}

export interface S3ExporterOptions {
  bucket: string;
  /** Key prefix; a trailing `/` is added when missing. */
  prefix?: string;
  client?: S3Client;
  clientConfig?: S3ClientConfig;
}

export class S3SpanExporter implements SpanExporter {
  readonly name = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3ExporterOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix && !options.prefix.endsWith('/') ? `${options.prefix}/` : (options.prefix ?? '');
    this.client = options.client ?? new S3Client(options.clientConfig ?? {});
  }

  /**
   * One object per partition the batch touches. Keys derive from the content (earliest start, hash of span ids),
   * so a batch retried after a partial failure overwrites its own objects instead of duplicating rows.
   */
  async export(spans: GenAiSpan[]): Promise<void> {
    const byPartition = new Map<string, GenAiSpan[]>();
    for (const span of spans) {
      const partition = partitionOf(this.prefix, nanosToMillis(span.startTimeUnixNano));
      const members = byPartition.get(partition) ?? [];
      members.push(span);
      byPartition.set(partition, members);
    }
    for (const [partition, members] of byPartition) {
      const earliestMs = members.reduce((min, span) => Math.min(min, nanosToMillis(span.startTimeUnixNano)), Infinity);
      const time = new Date(earliestMs).toISOString().replace(/[-:.]/g, '');
      const contentId = createHash('sha256')
        .update(members.map((span) => `${span.traceId}${span.spanId}`).join(','))
        .digest('hex')
        .slice(0, 16);
      const body = gzipSync(members.map((span) => JSON.stringify(toSpanRow(span))).join('\n') + '\n');
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: `${partition}${time}-${contentId}.jsonl.gz`,
          Body: body,
          ContentType: 'application/gzip',
        }),
      );
    }
  }

  async shutdown(): Promise<void> {
    this.client.destroy();
  }
}
