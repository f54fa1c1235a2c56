/** The span stage's output, and what the pipeline and exporters consume: one CLIENT span per LLM call. */

export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];
export type Attributes = Record<string, AttributeValue>;

export interface GenAiSpan {
  /** 32 lower-case hex chars. */
  traceId: string;
  /** 16 lower-case hex chars. */
  spanId: string;
  parentSpanId?: string;
  /** `{gen_ai.operation.name} {gen_ai.request.model}`, e.g. `chat gpt-4o`. */
  name: string;
  kind: 'client' | 'internal' | 'server';
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  /** Span attributes: the seed table's names and the OTel GenAI semantic-convention names. */
  attributes: Attributes;
  /** Resource attributes: process, container and Kubernetes context (filled by the pipeline's enrichment). */
  resource: Attributes;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  /** Where the span came from: captured by the sensor, or received over OTLP. */
  source: 'ebpf' | 'otlp';
}
