/** Lossless JSON form of GenAiSpan (bigint times as decimal strings) for the spool and for tests. */
import type { GenAiSpan } from '../span/gen-ai-span';

type SpanJson = Omit<GenAiSpan, 'startTimeUnixNano' | 'endTimeUnixNano'> & { startTimeUnixNano: string; endTimeUnixNano: string };

export function encodeSpans(spans: readonly GenAiSpan[]): Buffer {
  const plain: SpanJson[] = spans.map((span) => ({
    ...span,
    startTimeUnixNano: span.startTimeUnixNano.toString(),
    endTimeUnixNano: span.endTimeUnixNano.toString(),
  }));
  return Buffer.from(JSON.stringify(plain));
}

export function decodeSpans(bytes: Uint8Array): GenAiSpan[] {
  const plain = JSON.parse(Buffer.from(bytes).toString('utf8')) as SpanJson[];
  return plain.map((span) => ({ ...span, startTimeUnixNano: BigInt(span.startTimeUnixNano), endTimeUnixNano: BigInt(span.endTimeUnixNano) }));
}

/** Encodes and decodes a batch of items for the spool. */
export interface BatchCodec<T> {
  encode(items: readonly T[]): Buffer;
  decode(bytes: Uint8Array): T[];
}

export const spanBatchCodec: BatchCodec<GenAiSpan> = { encode: encodeSpans, decode: decodeSpans };

/** For items that are plain JSON already (metric aggregates). */
export function jsonBatchCodec<T>(): BatchCodec<T> {
  return {
    encode: (items) => Buffer.from(JSON.stringify(items)),
    decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')) as T[],
  };
}

/** Unix nanoseconds to milliseconds (float, sub-ms kept). */
export function nanosToMillis(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}
