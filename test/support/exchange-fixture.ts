/** Builds HttpExchange values for provider and span tests, from JSON objects or raw bodies. */
import type { HeaderMap, HttpExchange, HttpResponse } from '../../sensor/http/http-exchange';

export type Body = Buffer | string | object;

export interface ExchangeSpec {
  method?: string;
  path: string;
  authority?: string;
  requestHeaders?: HeaderMap;
  requestBody: Body;
  requestTruncated?: boolean;
  /** Omit to model a connection that ended before any response. */
  status?: number;
  responseHeaders?: HeaderMap;
  responseBody?: Body;
  responseTruncated?: boolean;
  responseComplete?: boolean;
  /** Request written from t0 to t0+requestMs; response head at +headMs after that, first body byte at +firstByteMs, end at +endMs. */
  t0?: number;
  requestMs?: number;
  headMs?: number;
  firstByteMs?: number;
  endMs?: number;
  peer?: { address: string; port: number };
}

export function toBuffer(body: Body): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

export function makeExchange(spec: ExchangeSpec): HttpExchange {
  const t0 = spec.t0 ?? 1_700_000_000_000;
  const requestEnd = t0 + (spec.requestMs ?? 5);
  const exchange: HttpExchange = {
    connection: {
      conn: 'conn-1',
      connectionId: 1,
      pid: 4242,
      tid: 4242,
      comm: 'python3',
      cgroupId: 1n,
      fd: 7,
      ...(spec.peer ? { peer: spec.peer } : {}),
    },
    protocol: 'http/1.1',
    request: {
      method: spec.method ?? 'POST',
      path: spec.path,
      authority: spec.authority ?? 'api.openai.com',
      headers: { 'content-type': 'application/json', ...spec.requestHeaders },
      body: toBuffer(spec.requestBody),
      bodyTruncated: spec.requestTruncated ?? false,
      startTsMs: t0,
      endTsMs: requestEnd,
    },
  };
  if (spec.status !== undefined) {
    const body = toBuffer(spec.responseBody ?? '');
    const response: HttpResponse = {
      status: spec.status,
      headers: { 'content-type': 'application/json', ...spec.responseHeaders },
      body,
      bodyTruncated: spec.responseTruncated ?? false,
      startTsMs: requestEnd + (spec.headMs ?? 100),
      endTsMs: requestEnd + (spec.endMs ?? 900),
      complete: spec.responseComplete ?? true,
    };
    if (body.length > 0) response.firstBodyByteTsMs = requestEnd + (spec.firstByteMs ?? spec.headMs ?? 100);
    exchange.response = response;
  }
  return exchange;
}

/** An SSE body: each entry is one event (`data` objects are JSON-encoded; strings are sent as is). */
export function sseBody(events: Array<{ event?: string; data: object | string }>): string {
  return events
    .map(({ event, data }) => `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
    .join('');
}

export const SSE_HEADERS: HeaderMap = { 'content-type': 'text/event-stream; charset=utf-8' };

export function ndjsonBody(lines: object[]): string {
  return lines.map((line) => `${JSON.stringify(line)}\n`).join('');
}
