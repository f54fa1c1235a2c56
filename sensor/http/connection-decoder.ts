/** The contract every HTTP decoder (HTTP/1.1, HTTP/2) implements: bytes of one TLS connection in, exchanges out. */
import type { Direction } from '../capture/capture-event';
import type { ConnectionContext, HeaderMap, HttpExchange, HttpProtocol } from './http-exchange';

export interface HttpDecodeLimits {
  /** Largest body kept per message; bytes beyond are skipped and the body marked truncated. */
  maxBodyBytes: number;
  /** Largest decompressed size of one body (gzip/deflate/br); a bigger one is cut and counted (gzip bomb guard). */
  maxDecompressedBytes: number;
  /** Largest request or response head (HTTP/1.1) or header block (HTTP/2). */
  maxHeaderBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpDecodeLimits = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxDecompressedBytes: 32 * 1024 * 1024,
  maxHeaderBytes: 256 * 1024,
};

/** What a decoder knows of a request once its head is parsed, before any body byte. */
export interface RequestHead {
  method: string;
  path: string;
  authority: string;
  headers: HeaderMap;
}

/** Counters every decoder updates; the sensor exports them as metrics. Never reset by decoders. */
export interface HttpDecodeStats {
  exchanges: number;
  /** Requests skipped because `isInteresting` said no (bodies not buffered). */
  ignoredExchanges: number;
  /** Bytes that could not be parsed as HTTP (the decoder then gives up on the connection or resynchronises). */
  malformed: number;
  bodiesTruncated: number;
  decompressionLimitHits: number;
  decompressionErrors: number;
}

export function newHttpDecodeStats(): HttpDecodeStats {
  return { exchanges: 0, ignoredExchanges: 0, malformed: 0, bodiesTruncated: 0, decompressionLimitHits: 0, decompressionErrors: 0 };
}

export interface HttpDecoderOptions {
  limits: HttpDecodeLimits;
  stats: HttpDecodeStats;
  /** Decides from the request head alone whether bodies are kept; uninteresting traffic costs framing only. */
  isInteresting: (head: RequestHead) => boolean;
  /** Told of every request head and what `isInteresting` said of it: how whole connections are judged. Never throws. */
  onRequestHead?: (connection: ConnectionContext, protocol: HttpProtocol, head: RequestHead, interesting: boolean) => void;
  /** Told once when nothing more of a connection can be decoded (it is not HTTP, or HTTP/2 lost both directions). */
  onUndecodable?: (connection: ConnectionContext, reason: string) => void;
  /** Receives each finished exchange (complete, or flushed at connection end). */
  onExchange: (exchange: HttpExchange) => void;
  /** Receives a human-readable reason whenever input is malformed; never throws. */
  onError?: (reason: string) => void;
}

/**
 * Why a connection's decoding ends. Only `closed` (the process closed the socket or exited) means the peer's
 * last byte was seen, so only it completes a body delimited by the connection close; `evicted` (idle or table
 * full) and `shutdown` (the sensor stopping) leave such a body truncated.
 */
export type ConnectionEndReason = 'closed' | 'evicted' | 'shutdown';

export interface ConnectionDecoder {
  /**
   * Feed bytes in capture order: `out` is what the client wrote, `in` what it read. Never throws. The decoder may
   * keep views of `data` (a body that came whole in one chunk): the caller hands it over and must not change it.
   */
  push(dir: Direction, data: Buffer, tsMs: number): void;
  /** Capture lost `lostBytes` in this direction at this point; the decoder marks affected bodies truncated or gives up. */
  gap(dir: Direction, lostBytes: number, tsMs: number): void;
  /** Decoding of the connection ends: flush pending exchanges, unfinished ones with `response.complete = false`. */
  end(tsMs: number, reason: ConnectionEndReason): void;
}

