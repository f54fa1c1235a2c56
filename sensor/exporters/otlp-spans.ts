/**
 * GenAiSpans as OTLP request bodies, and batch codecs whose items are already OTLP, so a spooled batch is the
 * request itself and is sent without being decoded and encoded again.
 */
import type { GenAiSpan } from '../span/gen-ai-span';
import { encodeSpanJson, encodeSpanProtobuf } from './otlp-span-encoding';
import { decodeSpanArray, type BatchCodec } from './span-json';

const OTLP_JSON_OPEN = '{"resourceSpans":[';
const OTLP_JSON_CLOSE = ']}';

/** OTLP protobuf `ExportTraceServiceRequest` bytes. */
export function encodeOtlpProtobuf(spans: readonly GenAiSpan[]): Uint8Array {
  // Each span's bytes are copied before the next is encoded (the encoder reuses its buffer).
  return Buffer.concat(spans.map((span) => Buffer.from(encodeSpanProtobuf(span))));
}

/** OTLP/JSON `ExportTraceServiceRequest` text (hex ids, decimal-string times), one line. */
export function encodeOtlpJson(spans: readonly GenAiSpan[]): string {
  return `${OTLP_JSON_OPEN}${spans.map(encodeSpanJson).join(',')}${OTLP_JSON_CLOSE}`;
}

/** Items are OTLP/JSON `ResourceSpans` objects, one per span; a batch is one `ExportTraceServiceRequest`. */
export const otlpJsonBatchCodec: BatchCodec<GenAiSpan> = {
  format: 'otlp-json',
  framing: { open: OTLP_JSON_OPEN, separator: ',', close: OTLP_JSON_CLOSE },
  // The batching exporter copies the text into its batch at once (see BatchBuilder): nothing of it waits on the heap.
  encodeItem: encodeSpanJson,
  decodeEarlierFormat: decodeSpanArray,
};

/**
 * Items are one-span `ExportTraceServiceRequest` messages: `resource_spans` is a repeated field, so the items
 * concatenated are one request.
 */
export const otlpProtobufBatchCodec: BatchCodec<GenAiSpan> = {
  format: 'otlp-protobuf',
  framing: { open: '', separator: '', close: '' },
  encodeItem: encodeSpanProtobuf,
  decodeEarlierFormat: decodeSpanArray,
};
