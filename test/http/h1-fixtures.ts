/** Shared fixtures for the HTTP/1.1 decoder tests: a recording decoder and byte builders. */
import type { Direction } from '../../sensor/capture/capture-event';
import {
  type ConnectionEndReason,
  DEFAULT_HTTP_LIMITS,
  type HttpDecodeLimits,
  type HttpDecoderOptions,
  newHttpDecodeStats,
  type RequestHead,
} from '../../sensor/http/connection-decoder';
import type { ConnectionContext, HttpExchange } from '../../sensor/http/http-exchange';

export const testConnection: ConnectionContext = {
  conn: 'conn-1',
  connectionId: 1,
  pid: 4242,
  tid: 4243,
  comm: 'python3',
  cgroupId: 77n,
  fd: 9,
  peer: { address: '203.0.113.7', port: 443 },
};

export interface Recorder {
  options: HttpDecoderOptions;
  exchanges: HttpExchange[];
  errors: string[];
  heads: RequestHead[];
}

export function recorder(overrides: { limits?: Partial<HttpDecodeLimits>; isInteresting?: (head: RequestHead) => boolean } = {}): Recorder {
  const exchanges: HttpExchange[] = [];
  const errors: string[] = [];
  const heads: RequestHead[] = [];
  const isInteresting = overrides.isInteresting ?? (() => true);
  const options: HttpDecoderOptions = {
    limits: { ...DEFAULT_HTTP_LIMITS, ...overrides.limits },
    stats: newHttpDecodeStats(),
    isInteresting: (head) => {
      heads.push(head);
      return isInteresting(head);
    },
    onExchange: (exchange) => exchanges.push(exchange),
    onError: (reason) => errors.push(reason),
  };
  return { options, exchanges, errors, heads };
}

export interface Decoder {
  push(dir: Direction, data: Buffer, tsMs: number): void;
  gap(dir: Direction, lostBytes: number, tsMs: number): void;
  end(tsMs: number, reason: ConnectionEndReason): void;
}

/** Feeds `data` in pieces of `pieceSize` bytes, one millisecond apart starting at `tsMs`; returns the next free time. */
export function feed(decoder: Decoder, dir: Direction, data: Buffer | string, tsMs: number, pieceSize = Infinity): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  let ts = tsMs;
  for (let offset = 0; offset < bytes.length; offset += pieceSize) {
    decoder.push(dir, bytes.subarray(offset, Math.min(bytes.length, offset + pieceSize)), ts++);
  }
  return ts;
}

/** A chunked body with the given chunk payloads, a last chunk and optional trailer lines. */
export function chunked(chunks: (string | Buffer)[], trailers: string[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    parts.push(Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\n${trailers.map((line) => `${line}\r\n`).join('')}\r\n`));
  return Buffer.concat(parts);
}

export function message(head: string, body: Buffer | string = ''): Buffer {
  return Buffer.concat([Buffer.from(head.replace(/\n/g, '\r\n') + '\r\n\r\n', 'latin1'), typeof body === 'string' ? Buffer.from(body) : body]);
}

/** JSON of an exchange with bigints and buffers readable, for "no secret anywhere" assertions. */
export function exchangeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return v.toString();
    if (v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return Buffer.from((v as { data: number[] }).data).toString('latin1');
    return v;
  });
}

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
