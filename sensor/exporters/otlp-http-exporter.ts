/** OTLP/HTTP protobuf trace exporter (to the Sightline gateway or any OTLP collector). */
import * as http from 'node:http';
import * as https from 'node:https';
import type { GenAiSpan } from '../span/gen-ai-span';
import { encodeOtlpProtobuf } from './otlp-spans';
import { isRetryableHttpStatus, PermanentExportError, silentLogger, type ExportLogger, type ExportOutcome, type SpanExporter } from './span-exporter';

/**
 * Loaded at the first response that has a body (one reporting a partial success; the gateway sends none
 * otherwise): the transformer brings OpenTelemetry's SDK metrics, resources and core packages, about 4 MB of heap
 * that nothing else in a sensor uses.
 */
const traceResponseSerializer = () =>
  (require('@opentelemetry/otlp-transformer') as typeof import('@opentelemetry/otlp-transformer')).ProtobufTraceSerializer;

export interface OtlpHttpExporterOptions {
  /** Base URL (`https://gateway:4318`) or full traces URL (`.../v1/traces`). */
  endpoint: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  logger?: ExportLogger;
  /**
   * PEM certificates trusted for an `https` endpoint instead of the system's roots (the gateway's own CA).
   * @default - the system's roots
   */
  ca?: Buffer | string;
  /**
   * Name the endpoint's certificate must carry, when it differs from the URL's host (a VPC endpoint's DNS name in
   * front of a gateway whose certificate names the gateway); also sent as SNI.
   * @default - the URL's host
   */
  serverName?: string;
  /**
   * The bearer token sent as `Authorization: Bearer <token>`, asked for on every request so that a rotated token
   * file is taken up; `reloadIfChanged` is called when the endpoint refused it, to look at the file again at once.
   * @default - no Authorization header
   */
  bearerToken?: { current(): string; reloadIfChanged(): boolean };
}

export function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

/** TLS failures that mean "this is not the gateway we trust", as opposed to a network fault. */
const CERTIFICATE_ERRORS = /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)$/;

interface HttpReply {
  status: number;
  body: Buffer;
}

export class OtlpHttpExporter implements SpanExporter {
  readonly name = 'otlp';
  readonly encodedFormat = 'otlp-protobuf';
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly safeUrl: string;
  private readonly timeoutMs: number;
  private readonly logger: ExportLogger;
  private readonly bearerToken?: OtlpHttpExporterOptions['bearerToken'];
  private readonly agent: http.Agent;
  private readonly tlsOptions: https.RequestOptions;

  constructor(options: OtlpHttpExporterOptions) {
    this.url = new URL(tracesUrl(options.endpoint));
    // For messages: an endpoint may carry userinfo or a token in its query, which must not reach a log.
    this.safeUrl = `${this.url.protocol}//${this.url.host}${this.url.pathname}`;
    this.headers = { ...options.headers, 'content-type': 'application/x-protobuf' };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.logger = options.logger ?? silentLogger;
    this.bearerToken = options.bearerToken;
    const secure = this.url.protocol === 'https:';
    if (!secure && (options.ca !== undefined || options.serverName !== undefined || options.bearerToken !== undefined)) {
      // The config schema refuses this already; a programmatic caller must not get a token sent in clear text either.
      throw new Error(`OTLP exporter: ${this.safeUrl} is not https, but a CA, server name or bearer token was given; use an https endpoint`);
    }
    this.tlsOptions = secure
      ? { ...(options.ca === undefined ? {} : { ca: options.ca }), ...(options.serverName === undefined ? {} : { servername: options.serverName }), minVersion: 'TLSv1.2' }
      : {};
    // Connections are kept open between batches: a TLS handshake per batch would cost both ends.
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 4 }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  async export(spans: GenAiSpan[]): Promise<ExportOutcome | void> {
    if (spans.length === 0) return;
    return this.exportEncoded(encodeOtlpProtobuf(spans), spans.length);
  }

  /** `request`: protobuf `ExportTraceServiceRequest` bytes (a batch of `otlpProtobufBatchCodec`). */
  async exportEncoded(request: Uint8Array, spanCount: number): Promise<ExportOutcome | void> {
    if (spanCount === 0) return;
    const reply = await this.post(request);
    if (reply.status >= 200 && reply.status < 300) return { refusedItems: this.readPartialSuccess(reply.body, spanCount) };
    const message = `OTLP endpoint ${this.safeUrl} answered HTTP ${reply.status}`;
    if (reply.status === 401 || reply.status === 403) {
      // A refused token is a deployment fault a retry outlives (the token is rotated, the gateway learns it): the
      // spans stay spooled. The file is looked at again now, in case it already holds the new token.
      this.bearerToken?.reloadIfChanged();
      throw new Error(`${message}: it refused ${this.bearerToken ? 'the token of exporters.otlp.auth.tokenFile' : 'a request without a token (set exporters.otlp.auth.tokenFile)'}; the spans stay spooled and are retried`);
    }
    if (isRetryableHttpStatus(reply.status)) throw new Error(message);
    throw new PermanentExportError(`${message}; the batch of ${spanCount} spans is dropped`);
  }

  async shutdown(): Promise<void> {
    this.agent.destroy();
  }

  private post(body: Uint8Array): Promise<HttpReply> {
    const headers: http.OutgoingHttpHeaders = { ...this.headers, 'content-length': body.byteLength };
    if (this.bearerToken) headers.authorization = `Bearer ${this.bearerToken.current()}`;
    const transport = this.url.protocol === 'https:' ? https : http;
    return new Promise<HttpReply>((resolve, reject) => {
      let reply: HttpReply | undefined;
      // Set by 'finish', the callback of the request's last write: the body is written out. (`writableFinished` is
      // not that: it is true once the body is handed to the socket, while the socket may still be writing it.)
      let written = false;
      // A success counts once the request is written out too: until then a write may still read `body`, whose memory
      // the caller uses for its next batch once a batch was delivered (Exporter.exportEncoded). A refusal keeps the
      // batch where it is, so it is acted on at once (an endpoint may refuse a request before reading it whole).
      const settle = () => {
        if (reply !== undefined && (written || reply.status < 200 || reply.status >= 300)) resolve(reply);
      };
      const request = transport.request(this.url, { method: 'POST', headers, agent: this.agent, ...this.tlsOptions }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          reply = { status: response.statusCode ?? 0, body: Buffer.concat(chunks) };
          settle();
        });
        response.on('error', reject);
      });
      const timer = setTimeout(() => request.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })), this.timeoutMs);
      request.on('finish', () => {
        written = true;
        settle();
      });
      request.on('close', () => {
        clearTimeout(timer);
        // An endpoint that said yes before it had read the whole request took only part of it: sent again.
        if (reply !== undefined && !written) reject(new Error(`OTLP endpoint ${this.safeUrl} answered HTTP ${reply.status} before it had read the whole request`));
      });
      request.on('error', (error: NodeJS.ErrnoException) => reject(this.explain(error)));
      request.end(body);
    });
  }

  /** A transport error as a message that says what to check; never the headers (they hold the token). */
  private explain(error: NodeJS.ErrnoException): Error {
    const code = error.code ?? error.message;
    if (CERTIFICATE_ERRORS.test(code)) {
      return new Error(`TLS to ${this.safeUrl} failed (${code}): the endpoint's certificate is not one this sensor trusts; check exporters.otlp.tls.caFile and exporters.otlp.tls.serverName`);
    }
    return new Error(`OTLP endpoint ${this.safeUrl} could not be reached (${code})`);
  }

  /** Spans the endpoint refused in a partial success (logged); 0 when the body says nothing of it. */
  private readPartialSuccess(body: Uint8Array, sent: number): number {
    if (body.length === 0) return 0;
    try {
      const partial = traceResponseSerializer().deserializeResponse(body).partialSuccess;
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
