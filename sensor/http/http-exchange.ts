/** The HTTP stage's output: one request and its response, whatever the HTTP version. */

/** Header names are lower-case. Credential headers are already removed (see sensor/http/credentials.ts). */
export type HeaderMap = Record<string, string>;

export interface HttpRequest {
  method: string;
  /** Path and query as sent (`/v1/chat/completions?api-version=...`), credential query parameters removed. */
  path: string;
  /** `Host` (HTTP/1.1) or `:authority` (HTTP/2), without credentials. */
  authority: string;
  headers: HeaderMap;
  /** Body after transfer decoding and Content-Encoding decompression. */
  body: Buffer;
  /** True when the body was cut (capture limit, decompression limit, or truncated stream). */
  bodyTruncated: boolean;
  /** When the first byte of the request was written. */
  startTsMs: number;
  /** When the last byte of the request was written. */
  endTsMs: number;
}

export interface HttpResponse {
  status: number;
  headers: HeaderMap;
  /** Body after transfer decoding and decompression (an SSE or event-stream body stays in its framing). */
  body: Buffer;
  bodyTruncated: boolean;
  /** When the response head arrived. */
  startTsMs: number;
  /** When the first body byte arrived (undefined for an empty body). */
  firstBodyByteTsMs?: number;
  /** When the last byte arrived, or the connection ended. */
  endTsMs: number;
  /** False when the stream ended before the response was complete. */
  complete: boolean;
}

/** Identity of the process and connection that made the call, carried from the capture stage. */
export type HttpProtocol = 'http/1.1' | 'h2';

export interface ConnectionContext {
  conn: string;
  /** The capture's number for the connection: what verdicts about it are keyed by. */
  connectionId: number;
  pid: number;
  tid: number;
  comm: string;
  cgroupId: bigint;
  fd: number;
  /** Remote peer, when it could be resolved from the socket. */
  peer?: { address: string; port: number };
}

export interface HttpExchange {
  connection: ConnectionContext;
  protocol: HttpProtocol;
  /** HTTP/2 stream id; undefined for HTTP/1.1. */
  streamId?: number;
  request: HttpRequest;
  /** Missing when the connection ended without a response. */
  response?: HttpResponse;
}
