/** GenAiSpan -> the ReadableSpan shape `@opentelemetry/otlp-transformer`'s serializers take. */
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { GenAiSpan } from '../span/gen-ai-span';

type ReadableSpan = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0][number];
type HrTime = [number, number];

export const INSTRUMENTATION_SCOPE = { name: 'sightline', version: '0.1.0' };

const KIND: Record<GenAiSpan['kind'], SpanKind> = { client: SpanKind.CLIENT, internal: SpanKind.INTERNAL, server: SpanKind.SERVER };
const STATUS: Record<GenAiSpan['status']['code'], SpanStatusCode> = { unset: SpanStatusCode.UNSET, ok: SpanStatusCode.OK, error: SpanStatusCode.ERROR };

function hrTime(unixNano: bigint): HrTime {
  return [Number(unixNano / 1_000_000_000n), Number(unixNano % 1_000_000_000n)];
}

/** Spans with equal resource attributes share one resource object: the serializers group by identity. */
export function toReadableSpans(spans: readonly GenAiSpan[]): ReadableSpan[] {
  const resources = new Map<string, { attributes: GenAiSpan['resource'] }>();
  return spans.map((span) => {
    const resourceKey = JSON.stringify(span.resource);
    let resource = resources.get(resourceKey);
    if (!resource) {
      resource = { attributes: span.resource };
      resources.set(resourceKey, resource);
    }
    const spanContext = { traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED };
    const duration = span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0n;
    const readable = {
      name: span.name,
      kind: KIND[span.kind],
      spanContext: () => spanContext,
      parentSpanContext: span.parentSpanId ? { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED } : undefined,
      startTime: hrTime(span.startTimeUnixNano),
      endTime: hrTime(span.endTimeUnixNano),
      duration: hrTime(duration),
      ended: true,
      status: { code: STATUS[span.status.code], message: span.status.message },
      attributes: span.attributes,
      links: [],
      events: [],
      resource,
      instrumentationScope: INSTRUMENTATION_SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
    return readable as unknown as ReadableSpan;
  });
}

/** OTLP protobuf `ExportTraceServiceRequest` bytes. */
export function encodeOtlpProtobuf(spans: readonly GenAiSpan[]): Uint8Array {
  return ProtobufTraceSerializer.serializeRequest(toReadableSpans(spans)) ?? new Uint8Array();
}

/** OTLP/JSON `ExportTraceServiceRequest` text (hex ids, decimal-string times), one line. */
export function encodeOtlpJson(spans: readonly GenAiSpan[]): string {
  const bytes = JsonTraceSerializer.serializeRequest(toReadableSpans(spans));
  return bytes ? Buffer.from(bytes).toString('utf8') : '{}';
}
