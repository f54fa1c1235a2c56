/** OTLP/HTTP protobuf trace exporter (to the Sightline gateway or any OTLP collector). */
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { GenAiSpan } from '../span/gen-ai-span';
import { encodeOtlpProtobuf } from './otlp-spans';
import { isRetryableHttpStatus, PermanentExportError, silentLogger, type ExportLogger, type ExportOutcome, type SpanExporter } from './span-exporter';

export interface OtlpHttpExporterOptions {
  /** Base URL (`http://gateway:4318`) or full traces URL (`.../v1/traces`). */
  endpoint: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  logger?: ExportLogger;
}

export function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

export class OtlpHttpExporter implements SpanExporter {
  readonly name = 'otlp';
  readonly encodedFormat = 'otlp-protobuf';
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly safeUrl: string;
  private readonly timeoutMs: number;
  private readonly logger: ExportLogger;

  constructor(options: OtlpHttpExporterOptions) {
    this.url = tracesUrl(options.endpoint);
    // For messages: an endpoint may carry userinfo or a token in its query, which must not reach a log.
    const parsed = new URL(this.url);
    this.safeUrl = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
    this.headers = { ...options.headers, 'content-type': 'application/x-protobuf' };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.logger = options.logger ?? silentLogger;
  }

  async export(spans: GenAiSpan[]): Promise<ExportOutcome | void> {
    if (spans.length === 0) return;
    return this.exportEncoded(encodeOtlpProtobuf(spans), spans.length);
  }

  /** `request`: protobuf `ExportTraceServiceRequest` bytes (a batch of `otlpProtobufBatchCodec`). */
  async exportEncoded(request: Uint8Array, spanCount: number): Promise<ExportOutcome | void> {
    if (spanCount === 0) return;
    const response = await fetch(this.url, {
      method: 'POST',
      headers: this.headers,
      body: request,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const body = new Uint8Array(await response.arrayBuffer());
    if (response.ok) return { refusedItems: this.readPartialSuccess(body, spanCount) };
    const message = `OTLP endpoint ${this.safeUrl} answered HTTP ${response.status}`;
    if (isRetryableHttpStatus(response.status)) throw new Error(message);
    throw new PermanentExportError(`${message}; the batch of ${spanCount} spans is dropped`);
  }

  async shutdown(): Promise<void> {}

  /** Spans the endpoint refused in a partial success (logged); 0 when the body says nothing of it. */
  private readPartialSuccess(body: Uint8Array, sent: number): number {
    if (body.length === 0) return 0;
    try {
      const partial = ProtobufTraceSerializer.deserializeResponse(body).partialSuccess;
      const rejectedSpans = Number(partial?.rejectedSpans ?? 0);
      if (rejectedSpans > 0) {
        this.logger.warn({ exporter: this.name, rejectedSpans, sent, reason: partial?.errorMessage }, 'OTLP endpoint rejected some spans');
      }
      return Number.isFinite(rejectedSpans) ? rejectedSpans : 0;
    } catch {
      return 0; // a non-protobuf success body (some proxies) carries no partial-success information
    }
  }
}
