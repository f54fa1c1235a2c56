/** Builds HTTP/2 traffic for decoder tests: header blocks, frames and a decoder wired to collecting callbacks. */
import { DEFAULT_HTTP_LIMITS, newHttpDecodeStats, type HttpDecodeLimits, type HttpDecoderOptions, type RequestHead } from '../../../sensor/http/connection-decoder';
import type { ConnectionContext, HttpExchange } from '../../../sensor/http/http-exchange';
import { FrameFlag, FrameType, encodeFrame } from '../../../sensor/http/h2/frames';
import { huffmanEncode } from '../../../sensor/http/h2/hpack-huffman';
import { Http2ConnectionDecoder, HTTP2_CLIENT_PREFACE } from '../../../sensor/http/h2/http2-decoder';

export const TEST_CONNECTION: ConnectionContext = { conn: 'conn-h2', connectionId: 2, pid: 100, tid: 101, comm: 'node', cgroupId: 7n, fd: 12 };

/** RFC 7541 5.1 integer with an N-bit prefix; `firstByteBits` are the representation's pattern bits. */
export function encodeInteger(value: number, prefixBits: number, firstByteBits = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteBits | value]);
  const bytes = [firstByteBits | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

export function encodeString(text: string, huffman: boolean): Buffer {
  const raw = Buffer.from(text, 'latin1');
  const octets = huffman ? huffmanEncode(raw) : raw;
  return Buffer.concat([encodeInteger(octets.length, 7, huffman ? 0x80 : 0), octets]);
}

export type Representation = 'incremental' | 'without-indexing' | 'never-indexed';

/** A header block of literal fields with new names (the representation picks whether the table grows). */
export function encodeHeaderBlock(
  fields: Array<[string, string]>,
  options: { representation?: Representation; huffman?: boolean } = {},
): Buffer {
  const representation = options.representation ?? 'without-indexing';
  const huffman = options.huffman ?? false;
  const pattern = representation === 'incremental' ? 0x40 : representation === 'never-indexed' ? 0x10 : 0x00;
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([pattern]), encodeString(name, huffman), encodeString(value, huffman)]));
}

/** A reference to HPACK index `index` (static 1..61, dynamic from 62). */
export const indexed = (index: number): Buffer => encodeInteger(index, 7, 0x80);

export const headersFrame = (streamId: number, block: Buffer, flags: number = FrameFlag.END_HEADERS): Buffer =>
  encodeFrame(FrameType.HEADERS, flags, streamId, block);
export const dataFrame = (streamId: number, data: Buffer | string, endStream = false): Buffer =>
  encodeFrame(FrameType.DATA, endStream ? FrameFlag.END_STREAM : 0, streamId, Buffer.from(data));
export const settingsFrame = (settings: Array<[number, number]> = []): Buffer => {
  const payload = Buffer.alloc(settings.length * 6);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, payload);
};
export const rstStreamFrame = (streamId: number, errorCode = 8): Buffer => {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(errorCode);
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, payload);
};
export const goawayFrame = (lastStreamId: number, errorCode = 0): Buffer => {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(errorCode, 4);
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload);
};

export const requestBlock = (method: string, path: string, authority: string, extra: Array<[string, string]> = []): Buffer =>
  encodeHeaderBlock([[':method', method], [':scheme', 'https'], [':path', path], [':authority', authority], ...extra]);
export const responseBlock = (status: number, extra: Array<[string, string]> = []): Buffer =>
  encodeHeaderBlock([[':status', String(status)], ...extra]);

/** The `out` direction's first bytes: preface and an empty SETTINGS frame. */
export const clientStart = (): Buffer => Buffer.concat([HTTP2_CLIENT_PREFACE, settingsFrame()]);

export interface DecoderHarness {
  decoder: Http2ConnectionDecoder;
  exchanges: HttpExchange[];
  errors: string[];
  heads: RequestHead[];
  options: HttpDecoderOptions;
}

export function newHarness(
  overrides: { limits?: Partial<HttpDecodeLimits>; isInteresting?: (head: RequestHead) => boolean } = {},
): DecoderHarness {
  const exchanges: HttpExchange[] = [];
  const errors: string[] = [];
  const heads: RequestHead[] = [];
  const options: HttpDecoderOptions = {
    limits: { ...DEFAULT_HTTP_LIMITS, ...overrides.limits },
    stats: newHttpDecodeStats(),
    isInteresting: (head) => {
      heads.push(head);
      return overrides.isInteresting ? overrides.isInteresting(head) : true;
    },
    onExchange: (exchange) => exchanges.push(exchange),
    onError: (reason) => errors.push(reason),
  };
  return { decoder: new Http2ConnectionDecoder(TEST_CONNECTION, options), exchanges, errors, heads, options };
}
