/** Facts every adapter reads off the HTTP exchange the same way: where the call went, when, and its path. */
import type { HttpExchange } from '../http/http-exchange';

/** TLS capture only sees HTTPS, so an authority without a port means 443. */
const DEFAULT_TLS_PORT = 443;

export interface ServerEndpoint {
  serverAddress: string;
  serverPort: number;
}

/**
 * The server the call was addressed to: the Host header or `:authority`. The socket's peer stands in only when
 * there is no authority at all, since it may be a proxy or a load balancer rather than the server named.
 */
export function serverEndpoint(exchange: HttpExchange): ServerEndpoint {
  const authority = exchange.request.authority.trim();
  if (!authority) {
    const peer = exchange.connection.peer;
    return { serverAddress: peer?.address ?? '', serverPort: peer?.port ?? DEFAULT_TLS_PORT };
  }
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority);
  if (bracketed) return { serverAddress: bracketed[1], serverPort: portOrDefault(bracketed[2]) };
  const hostPort = /^([^:]+):(\d+)$/.exec(authority);
  if (hostPort) return { serverAddress: hostPort[1], serverPort: portOrDefault(hostPort[2]) };
  return { serverAddress: authority, serverPort: DEFAULT_TLS_PORT };
}

function portOrDefault(text: string | undefined): number {
  const port = text === undefined ? NaN : Number(text);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULT_TLS_PORT;
}

export interface CallTimes {
  startTsMs: number;
  endTsMs: number;
  timeToFirstChunkMs?: number;
}

/** The call spans first request byte to last response byte; time to first chunk only means something when streaming. */
export function callTimes(exchange: HttpExchange, stream: boolean): CallTimes {
  const { request, response } = exchange;
  const times: CallTimes = {
    startTsMs: request.startTsMs,
    endTsMs: Math.max(request.startTsMs, response?.endTsMs ?? request.endTsMs),
  };
  if (stream && response?.firstBodyByteTsMs !== undefined) {
    times.timeToFirstChunkMs = Math.max(0, response.firstBodyByteTsMs - request.endTsMs);
  }
  return times;
}

/** The path without its query string. */
export function pathOnly(path: string): string {
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

export function queryParameter(path: string, name: string): string | undefined {
  const query = path.indexOf('?');
  if (query === -1) return undefined;
  const value = new URLSearchParams(path.slice(query + 1)).get(name);
  return value ?? undefined;
}

export function contentType(headers: Record<string, string> | undefined): string {
  return (headers?.['content-type'] ?? '').toLowerCase();
}

/** True when the response body is SSE, judged by the header or, when a proxy dropped it, by the first field. */
export function looksLikeSse(headers: Record<string, string> | undefined, body: Buffer): boolean {
  if (contentType(headers).startsWith('text/event-stream')) return true;
  // A JSON body, the usual answer, is told at its first byte, without decoding any of it.
  if (body.length > 0 && (body[0] === 0x7b /* { */ || body[0] === 0x5b) /* [ */) return false;
  const start = body.toString('utf8', 0, Math.min(body.length, 16)).trimStart();
  return start.startsWith('data:') || start.startsWith('event:') || start.startsWith(':');
}
