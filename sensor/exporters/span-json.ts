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

/**
 * Encodes and decodes a batch of items for the spool. Items are encoded one at a time, as they are offered, so a
 * batch waiting to fill holds one flat string per item instead of the item's object graph, and its size in bytes
 * is known before it is cut; the batch is the JSON array of those items.
 */
export interface BatchCodec<T> {
  encodeItem(item: T): string;
  decode(bytes: Uint8Array): T[];
}

/**
 * The batch bytes for items encoded by `encodeItem`: one JSON array, written straight into one buffer (no joined
 * string beside it). `totalBytes`, when the caller has counted it, saves measuring every item again.
 */
export function joinEncodedItems(encoded: readonly string[], totalBytes?: number): Buffer {
  const size = totalBytes ?? encoded.reduce((sum, item) => sum + Buffer.byteLength(item) + 1, 1);
  const batch = Buffer.allocUnsafe(Math.max(size, 2));
  let offset = batch.write('[', 0, 'latin1');
  encoded.forEach((item, index) => {
    if (index > 0) offset += batch.write(',', offset, 'latin1');
    offset += batch.write(item, offset, 'utf8');
  });
  offset += batch.write(']', offset, 'latin1');
  if (offset !== batch.length) throw new Error(`batch encoding: wrote ${offset} bytes, expected ${batch.length}`);
  return batch;
}

export const spanBatchCodec: BatchCodec<GenAiSpan> = { encodeItem: spanToJson, decode: decodeSpans };

/** For items that are plain JSON already (metric aggregates). */
export function jsonBatchCodec<T>(): BatchCodec<T> {
  return {
    encodeItem: (item) => JSON.stringify(item),
    decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')) as T[],
  };
}

/** Unix nanoseconds to milliseconds (float, sub-ms kept). */
export function nanosToMillis(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}
