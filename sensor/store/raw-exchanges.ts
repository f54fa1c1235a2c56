/**
 * The raw HTTP request and response of recent calls, for the call page. The runtime remembers each captured
 * exchange by its span id (a reference, no copy); the store exporter takes it when the span arrives, after the
 * pipeline, and only then renders it as text. Credential headers were dropped when the exchange was parsed;
 * bodies follow the privacy settings (left out under obfuscation, redacted as configured).
 */
import type { HttpExchange } from '../http/http-exchange';
import type { RawExchange } from './stored-call';

export interface RawExchangeOptions {
  /** Bytes kept of each body; 0 keeps headers only. */
  bodyBytes: number;
  /** False while any obfuscation is configured: the raw body would show what the span hides. */
  includeBodies: boolean;
  /** Applied to every line of text kept (secrets, configured redaction patterns). */
  redact: (text: string) => string;
  /** Exchanges remembered at most; the oldest are forgotten first. @default 4096 */
  maxEntries?: number;
}

export class RawExchanges {
  private readonly exchanges = new Map<string, HttpExchange>();
  private readonly maxEntries: number;

  constructor(private readonly options: RawExchangeOptions) {
    this.maxEntries = options.maxEntries ?? 4096;
  }

  remember(spanId: string, exchange: HttpExchange): void {
    this.exchanges.set(spanId, exchange);
    // A span that never reaches the store (a failed stage) must not pin its bodies for long.
    if (this.exchanges.size > this.maxEntries) this.exchanges.delete(this.exchanges.keys().next().value!);
  }

  take(spanId: string): RawExchange | undefined {
    const exchange = this.exchanges.get(spanId);
    if (!exchange) return undefined;
    this.exchanges.delete(spanId);
    return renderExchange(exchange, this.options);
  }

  get size(): number {
    return this.exchanges.size;
  }
}

export function renderExchange(exchange: HttpExchange, options: RawExchangeOptions): RawExchange {
  const { request, response } = exchange;
  const version = exchange.protocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1';
  const requestHead = [`${request.method} ${request.path} ${version}`, ...(request.authority && !request.headers.host ? [`host: ${request.authority}`] : []), ...headerLines(request.headers)];
  const rendered: RawExchange = { request: options.redact(`${requestHead.join('\n')}\n\n${bodyText(request.body, request.bodyTruncated, request.headers['content-type'], options)}`) };
  if (response) {
    const responseHead = [`${version} ${response.status}`, ...headerLines(response.headers)];
    rendered.response = options.redact(`${responseHead.join('\n')}\n\n${bodyText(response.body, response.bodyTruncated || !response.complete, response.headers['content-type'], options)}`);
  }
  return rendered;
}

function headerLines(headers: Record<string, string>): string[] {
  return Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
}

function bodyText(body: Buffer, truncated: boolean, contentType: string | undefined, options: RawExchangeOptions): string {
  if (body.length === 0) return '';
  if (!options.includeBodies) return `<${body.length} bytes, hidden: privacy.obfuscation is on>`;
  if (options.bodyBytes === 0) return `<${body.length} bytes; store.rawBodyBytes is 0>`;
  // AWS event streams are binary frames; their decoded events are in the span's output messages.
  if (contentType?.includes('eventstream') || looksBinary(body)) return `<${body.length} bytes of ${contentType ?? 'binary data'}>`;
  const kept = body.subarray(0, options.bodyBytes).toString('utf8');
  const cut = body.length > options.bodyBytes ? `\n… ${body.length - options.bodyBytes} more bytes not kept (store.rawBodyBytes)` : '';
  return `${kept}${cut}${truncated ? '\n… the captured body was incomplete' : ''}`;
}

function looksBinary(body: Buffer): boolean {
  const sample = body.subarray(0, 512);
  return sample.includes(0);
}
