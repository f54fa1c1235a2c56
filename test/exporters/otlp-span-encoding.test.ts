/**
 * The hand-written OTLP span encoding against @opentelemetry/otlp-transformer's, for the same spans: both decode
 * to the same request, in protobuf and in JSON.
 */
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import * as protobuf from 'protobufjs';
import { encodeOtlpJson, encodeOtlpProtobuf } from '../../sensor/exporters/otlp-spans';
import { INSTRUMENTATION_SCOPE, encodeSpanProtobuf } from '../../sensor/exporters/otlp-span-encoding';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';
import { genAiSpan } from './span-fixture';

type ReadableSpan = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0][number];

/** The SDK span shape the transformer takes, for one GenAiSpan. */
function readable(span: GenAiSpan): ReadableSpan {
  const hr = (nanos: bigint): [number, number] => [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];
  return {
    name: span.name,
    kind: { internal: 0, server: 1, client: 2 }[span.kind],
    spanContext: () => ({ traceId: span.traceId, spanId: span.spanId, traceFlags: 1 }),
    parentSpanContext: span.parentSpanId ? { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: 1 } : undefined,
    startTime: hr(span.startTimeUnixNano),
    endTime: hr(span.endTimeUnixNano),
    duration: hr(span.endTimeUnixNano - span.startTimeUnixNano),
    ended: true,
    status: { code: { unset: 0, ok: 1, error: 2 }[span.status.code], message: span.status.message },
    attributes: span.attributes,
    links: [],
    events: [],
    resource: { attributes: span.resource },
    instrumentationScope: INSTRUMENTATION_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  } as unknown as ReadableSpan;
}

const PROTO = `
syntax = "proto3";
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16; string name = 5;
  int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10; uint32 dropped_events_count = 12; uint32 dropped_links_count = 14; Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;
const Request = protobuf.parse(PROTO).root.lookupType('ExportTraceServiceRequest');
const decodeProtobuf = (bytes: Uint8Array) => Request.toObject(Request.decode(bytes), { longs: String, bytes: String, defaults: false });

const spans: GenAiSpan[] = [
  genAiSpan({ index: 1, inputTokens: 100, outputTokens: 50, durationMs: 250 }),
  genAiSpan({ index: 2, statusCode: 429, errorType: 'rate_limit_exceeded', durationMs: 1500 }),
  {
    ...genAiSpan({ index: 3 }),
    parentSpanId: '00f067aa0ba902b7',
    attributes: {
      'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'héllo "quoted" \\ back\nslash 日本語 🎉' }] }]),
      'gen_ai.response.finish_reasons': ['stop', 'length'],
      'gen_ai.request.temperature': 0.25,
      'gen_ai.usage.input_tokens': 12,
      'negative.int': -7,
      'big.int': 2 ** 40,
      'gen_ai.request.stream': false,
      'numbers': [1, 2.5],
      'flags': [true, false],
      [`long.${'k'.repeat(100)}`]: 'v'.repeat(70_000),
    },
    resource: { 'process.pid': 4242, 'process.command_line': 'node app.js --é', 'k8s.pod.name': 'checkout-7d9f' },
    status: { code: 'error', message: 'Bedrock said: AccessDeniedException' },
  },
];

test('protobuf: each span, and spans concatenated, decode as the transformer encodes them', () => {
  for (const span of spans) expect(decodeProtobuf(encodeOtlpProtobuf([span]))).toEqual(decodeProtobuf(ProtobufTraceSerializer.serializeRequest([readable(span)])!));
  // A batch is the concatenation of one-span requests: `resource_spans` repeated, one per span.
  const batch = decodeProtobuf(encodeOtlpProtobuf(spans));
  expect(batch.resourceSpans).toHaveLength(spans.length);
  expect(batch.resourceSpans.map((r: { scopeSpans: Array<{ spans: Array<{ name: string }> }> }) => r.scopeSpans[0].spans[0].name)).toEqual(spans.map((s) => s.name));
});

test('protobuf: the bytes of each span, copied before the next is encoded, are its own, around a span larger than the encoder buffer', () => {
  const many = Array.from({ length: 400 }, (_, index) => genAiSpan({ index: index + 10 }));
  const large = { ...spans[2], attributes: { ...spans[2].attributes, 'gen_ai.input.messages': 'x'.repeat(3 * 1024 * 1024) } };
  const sequence = [...many.slice(0, 200), large, ...many.slice(200)];
  const encoded = sequence.map((span) => Buffer.from(encodeSpanProtobuf(span)));
  const names = encoded.map((bytes) => decodeProtobuf(bytes).resourceSpans[0].scopeSpans[0].spans[0].spanId);
  expect(names).toEqual(sequence.map((span) => Buffer.from(span.spanId, 'hex').toString('base64')));
  expect(decodeProtobuf(encoded[200])).toEqual(decodeProtobuf(ProtobufTraceSerializer.serializeRequest([readable(large)])!));
  expect(decodeProtobuf(encoded[201])).toEqual(decodeProtobuf(ProtobufTraceSerializer.serializeRequest([readable(many[200])])!));
});

test('JSON: each span decodes as the transformer encodes it', () => {
  for (const span of spans) {
    const ours = JSON.parse(encodeOtlpJson([span]));
    const theirs = JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest([readable(span)])!).toString());
    expect(ours).toEqual(theirs);
  }
  expect(JSON.parse(encodeOtlpJson(spans)).resourceSpans).toHaveLength(spans.length);
});

test('JSON: numbers JSON cannot hold are spelled as OTLP/JSON strings, not lost as null', () => {
  const span = { ...genAiSpan({ index: 4 }), attributes: { ratio: Number.NaN, limit: Infinity } };
  const values = JSON.parse(encodeOtlpJson([span])).resourceSpans[0].scopeSpans[0].spans[0].attributes.map((a: { value: unknown }) => a.value);
  expect(values).toEqual([{ doubleValue: 'NaN' }, { doubleValue: 'Infinity' }]);
});

test('protobuf: attribute values that repeat from span to span (copied from remembered bytes) and values that change decode right in every order', () => {
  // `test.values` takes values in turn: one twice in a row (its bytes then remembered), the same again, a change, a
  // value of another type that compares unequal (1 and true), a long string, and back. `test.shared` has the same
  // value as a resource attribute, which is another field number.
  const values: Array<string | number | boolean> = ['a', 'a', 'a', 'b', 'b', 'a', 'a', 1, 1, true, true, 1, 0.5, 0.5, -3, -3, 'x'.repeat(80), 'x'.repeat(80), 'a'];
  const sequence = values.map((value, index) => ({
    ...genAiSpan({ index: 100 + index }),
    attributes: { 'test.values': value, 'test.shared': 'a', 'gen_ai.system': 'openai', 'test.index': index },
    resource: { 'test.shared': 'a' },
  }));
  for (const span of sequence) {
    expect(decodeProtobuf(Buffer.from(encodeSpanProtobuf(span)))).toEqual(decodeProtobuf(ProtobufTraceSerializer.serializeRequest([readable(span)])!));
  }
});
