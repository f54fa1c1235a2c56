/** Lossless JSON form of GenAiSpan (bigint times as decimal strings) for the spool and for tests. */
import type { GenAiSpan } from '../span/gen-ai-span';

type SpanJson = Omit<GenAiSpan, 'startTimeUnixNano' | 'endTimeUnixNano'> & { startTimeUnixNano: string; endTimeUnixNano: string };

function spanToJson(span: GenAiSpan): string {
  const plain: SpanJson = { ...span, startTimeUnixNano: span.startTimeUnixNano.toString(), endTimeUnixNano: span.endTimeUnixNano.toString() };
  return JSON.stringify(plain);
}

export function decodeSpans(bytes: Uint8Array): GenAiSpan[] {
  const plain = JSON.parse(Buffer.from(bytes).toString('utf8')) as SpanJson[];
  return plain.map((span) => ({ ...span, startTimeUnixNano: BigInt(span.startTimeUnixNano), endTimeUnixNano: BigInt(span.endTimeUnixNano) }));
}

/** What a batch's bytes are around and between its encoded items. */
export interface BatchFraming {
  open: string;
  separator: string;
  close: string;
}

/** A JSON array of the items. */
export const JSON_ARRAY_FRAMING: BatchFraming = { open: '[', separator: ',', close: ']' };

/**
 * Encodes and decodes a batch of items for the spool. Items are encoded one at a time, as they are offered, so a
 * batch waiting to fill holds one flat string (or byte array) per item instead of the item's object graph, and its
 * size in bytes is known before it is cut. A codec may encode straight to a sink's wire format (OTLP), so the
 * spooled batch is the very request the sink sends and is never decoded again.
 */
export interface BatchCodec<T> {
  /** The wire format of a batch, when it is one a sink can send as it is (see Exporter.encodedFormat). */
  format?: string;
  /** One item's bytes; bytes may be a view the next call overwrites (callers copy what they keep). */
  encodeItem(item: T): string | Uint8Array;
  framing: BatchFraming;
  /** Items back from a batch; only needed by sinks that take items rather than the batch's bytes. */
  decode?(bytes: Uint8Array): T[];
  /** Items of a batch spooled by an earlier version in another format, or undefined for a batch of this one. */
  decodeEarlierFormat?(bytes: Uint8Array): T[] | undefined;
}

/** UTF-8 bytes of one encoded item. */
export function encodedItemBytes(item: string | Uint8Array): number {
  return typeof item === 'string' ? Buffer.byteLength(item) : item.length;
}

export const spanBatchCodec: BatchCodec<GenAiSpan> = { encodeItem: spanToJson, framing: JSON_ARRAY_FRAMING, decode: decodeSpans };

/** A batch that is a JSON array of spans (how every span sink spooled before OTLP sinks spooled their own format). */
export function decodeSpanArray(bytes: Uint8Array): GenAiSpan[] | undefined {
  return bytes[0] === 0x5b ? decodeSpans(bytes) : undefined;
}

/** For items that are plain JSON already (metric aggregates). */
export function jsonBatchCodec<T>(): BatchCodec<T> {
  return {
    encodeItem: (item) => JSON.stringify(item),
    framing: JSON_ARRAY_FRAMING,
    decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')) as T[],
  };
}

/** Unix nanoseconds to milliseconds (float, sub-ms kept). */
export function nanosToMillis(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}
