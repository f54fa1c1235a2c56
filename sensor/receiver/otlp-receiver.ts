/**
 * OTLP/HTTP trace receiver: POST /v1/traces, protobuf or JSON, optionally gzip-compressed. Every accepted span
 * is normalised into the sensor's attribute set and handed to `onSpans`; the reply waits for it, so a slow or
 * failing sink pushes back on the sender (503 is retryable for OTLP exporters) instead of losing spans.
 *
 * With `tls` it serves HTTPS only; with `auth` a request must carry one of the accepted bearer tokens, checked before
 * its body is read, or it gets 401 and is counted (`sightline_receiver_rejected_requests_total`).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import * as zlib from 'node:zlib';
import { Counter, type Registry } from 'prom-client';
import { SecretFileError, watchFiles, watchTokenDirectory } from '../common/secret-file';
import type { GenAiSpan } from '../span/gen-ai-span';
import { BearerTokenAuth, type RejectionReason } from './bearer-auth';
import { receiverConfigSchema, type ReceiverConfig, type ReceiverConfigInput } from './config';
import { decodeTraceRequest, encodeErrorStatus, encodeTraceResponse, OtlpDecodeError, type OtlpEncoding } from './otlp-codec';
import { normaliseSpan } from './normalise';

export const TRACES_PATH = '/v1/traces';

/** The subset of a pino logger the receiver writes to. */
export interface ReceiverLog {
  warn(message: string): void;
  debug(message: string): void;
}

/** Who sent a request, as far as the receiver knows. */
export interface SenderIdentity {
  /** The client whose token authenticated the request (the token file's name); undefined without `auth`. */
  client?: string;
}

export interface OtlpReceiverOptions {
  config?: ReceiverConfigInput;
  onSpans: (spans: GenAiSpan[], sender: SenderIdentity) => Promise<void> | void;
  log?: ReceiverLog;
  /** Where the receiver's counters (rejected requests, TLS handshake failures) are registered. */
  registry?: Registry;
}

/** Requests refused before their body was read, by reason; cumulative. */
export interface ReceiverRejections {
  missingToken: number;
  invalidToken: number;
  tlsHandshakeFailures: number;
}

interface RequestHandlerOptions extends OtlpReceiverOptions {
  auth?: BearerTokenAuth;
  onRejected?: (reason: RejectionReason) => void;
}

const CONTENT_TYPES: Record<string, OtlpEncoding> = {
  'application/x-protobuf': 'protobuf',
  'application/protobuf': 'protobuf',
  'application/json': 'json',
};

// google.rpc.Code values used in OTLP error bodies.
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const UNAVAILABLE = 14;

class RequestRejection extends Error {
  constructor(readonly httpStatus: number, readonly rpcCode: number, message: string) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, encoding: OtlpEncoding, body: Buffer, extraHeaders: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, {
    'Content-Type': encoding === 'json' ? 'application/json' : 'application/x-protobuf',
    'Content-Length': body.length,
    ...extraHeaders,
  });
  res.end(body);
}

function sendPlain(res: http.ServerResponse, status: number, message: string, extraHeaders: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...extraHeaders });
  res.end(`${message}\n`);
}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > maxBytes) {
        done = true;
        chunks.length = 0;
        reject(new RequestRejection(413, RESOURCE_EXHAUSTED, `request body exceeds the limit of ${maxBytes} bytes (receiver.maxBodyBytes)`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (error) => {
      if (!done) reject(new RequestRejection(400, INVALID_ARGUMENT, `reading the request body failed: ${error.message}`));
      done = true;
    });
  });
}

function gunzip(body: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.gunzip(body, { maxOutputLength: maxBytes }, (error, result) => {
      if (!error) return resolve(result);
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
        return reject(new RequestRejection(413, RESOURCE_EXHAUSTED, `decompressed request body exceeds the limit of ${maxBytes} bytes (receiver.maxBodyBytes)`));
      }
      reject(new RequestRejection(400, INVALID_ARGUMENT, `Content-Encoding is gzip but the body cannot be decompressed: ${error.message}`));
    });
  });
}

/** A Node request listener serving the OTLP/HTTP traces endpoint; mount it on any http.Server. */
export function createOtlpRequestHandler(options: RequestHandlerOptions): http.RequestListener {
  const config = receiverConfigSchema.parse(options.config ?? {});
  const log = options.log;

  return (req, res) => {
    void (async () => {
      let sender: SenderIdentity = {};
      if (options.auth) {
        const outcome = options.auth.check(req.headers.authorization);
        if (!outcome.ok) {
          options.onRejected?.(outcome.reason);
          // The body is never read: the connection closes after the answer, so an unauthenticated sender cannot make
          // the receiver buffer or decode anything.
          const challenge = outcome.reason === 'missing' ? 'Bearer realm="sightline"' : 'Bearer realm="sightline", error="invalid_token"';
          return sendPlain(res, 401, outcome.reason === 'missing' ? 'unauthorized: send Authorization: Bearer <token>' : 'unauthorized: the token is not accepted', {
            'WWW-Authenticate': challenge,
            Connection: 'close',
          });
        }
        sender = { client: outcome.client };
      }
      const url = req.url ?? '/';
      const pathname = url.split('?')[0];
      if (pathname !== TRACES_PATH) return sendPlain(res, 404, `not found: the OTLP/HTTP receiver serves POST ${TRACES_PATH} only`);
      if (req.method !== 'POST') return sendPlain(res, 405, `method ${req.method} not allowed: use POST ${TRACES_PATH}`, { Allow: 'POST' });

      const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const encoding = CONTENT_TYPES[mediaType];
      if (!encoding) {
        req.resume();
        return sendPlain(res, 415, `unsupported Content-Type "${mediaType}": send application/x-protobuf or application/json`);
      }
      const contentEncoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (contentEncoding !== 'identity' && contentEncoding !== 'gzip') {
        req.resume();
        return send(res, 415, encoding, encodeErrorStatus(encoding, INVALID_ARGUMENT, `unsupported Content-Encoding "${contentEncoding}": send gzip or an uncompressed body`));
      }

      try {
        const declaredLength = Number(req.headers['content-length']);
        if (Number.isFinite(declaredLength) && declaredLength > config.maxBodyBytes) {
          throw new RequestRejection(413, RESOURCE_EXHAUSTED, `request body of ${declaredLength} bytes exceeds the limit of ${config.maxBodyBytes} bytes (receiver.maxBodyBytes)`);
        }
        const raw = await readBody(req, config.maxBodyBytes);
        const body = contentEncoding === 'gzip' ? await gunzip(raw, config.maxBodyBytes) : raw;
        let decoded;
        try {
          decoded = decodeTraceRequest(body, encoding);
        } catch (error) {
          if (error instanceof OtlpDecodeError) throw new RequestRejection(400, INVALID_ARGUMENT, error.message);
          throw error;
        }
        const spans = decoded.spans.flatMap(({ span, events }) => normaliseSpan(span, events, config) ?? []);
        if (spans.length > 0) {
          try {
            await options.onSpans(spans, sender);
          } catch (error) {
            log?.warn(`otlp receiver: handing ${spans.length} spans on failed (${(error as Error).message}); asked the sender to retry`);
            throw new RequestRejection(503, UNAVAILABLE, 'spans could not be stored right now; retry later');
          }
        }
        const reason = decoded.rejectedSpans > 0 ? `${decoded.rejectedSpans} spans rejected: ${decoded.rejectionReason}` : undefined;
        send(res, 200, encoding, encodeTraceResponse(encoding, decoded.rejectedSpans, reason));
      } catch (error) {
        if (!(error instanceof RequestRejection)) {
          log?.warn(`otlp receiver: unexpected error: ${(error as Error).message}`);
          return send(res, 500, encoding, encodeErrorStatus(encoding, 13, 'internal error in the receiver'));
        }
        log?.debug(`otlp receiver: ${error.httpStatus} ${error.message}`);
        // After a 413 the rest of the body is not read; closing the connection keeps the socket from being reused mid-body.
        const headers: http.OutgoingHttpHeaders = error.httpStatus === 413 ? { Connection: 'close' } : error.httpStatus === 503 ? { 'Retry-After': '5' } : {};
        if (error.httpStatus === 413) req.resume();
        send(res, error.httpStatus, encoding, encodeErrorStatus(encoding, error.rpcCode, error.message), headers);
      }
    })();
  };
}

export interface RunningOtlpReceiver {
  server: http.Server;
  /** The bound port (useful when the config asked for port 0). */
  port: number;
  /** Whether it serves HTTPS. */
  tls: boolean;
  /** Requests and connections it refused, cumulative (the gateway publishes them with the fleet health). */
  rejections: ReceiverRejections;
  /** Looks at the certificate files now instead of at the next periodic check (30 s); true when a new one was taken. */
  reloadCertificate(): boolean;
  /**
   * Stops accepting, answers the requests in flight (their spans may already be queued: cutting them off would
   * make the senders resend stored spans), then closes. Connections still open after `graceMs` are cut.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * The receiver's TLS context from its certificate and key files, re-read when they change (a renewed certificate is
 * served to new connections without a restart). Throws SecretFileError when they cannot be read at start.
 */
function watchServerCertificate(config: ReceiverConfig, log: ReceiverLog | undefined, onChange: (context: tls.SecureContextOptions) => void) {
  const files = [
    { path: config.tls.certFile!, key: 'receiver.tls.certFile' },
    { path: config.tls.keyFile!, key: 'receiver.tls.keyFile' },
  ];
  const certificate = watchFiles(files, ([cert, key]) => {
    try {
      tls.createSecureContext({ cert, key });
    } catch (error) {
      throw new SecretFileError(
        `receiver.tls.certFile / receiver.tls.keyFile: ${config.tls.certFile} and ${config.tls.keyFile} are not a PEM certificate and its private key (${(error as Error).message})`,
      );
    }
    return { cert, key };
  }, {
    onReload: () => {
      log?.warn('otlp receiver: its TLS certificate changed on disk; new connections get the new one');
      onChange(certificate.current());
    },
    onReloadError: (error) => log?.warn(`otlp receiver: a changed TLS certificate was not taken (${error.message}); still serving the previous one`),
  });
  return certificate;
}

/**
 * Starts an http.Server (or https.Server with `tls`) with the receiver on the configured host and port. Throws a
 * SecretFileError, naming the key, when the configured certificate or tokens cannot be read.
 */
export async function startOtlpReceiver(options: OtlpReceiverOptions): Promise<RunningOtlpReceiver> {
  const config = receiverConfigSchema.parse(options.config ?? {});
  const log = options.log;
  const rejections: ReceiverRejections = { missingToken: 0, invalidToken: 0, tlsHandshakeFailures: 0 };
  const auth = config.auth.tokensDir === undefined
    ? undefined
    : new BearerTokenAuth(watchTokenDirectory(config.auth.tokensDir, 'receiver.auth.tokensDir', {
      onReload: () => log?.warn('otlp receiver: the accepted tokens changed on disk and were taken'),
      onReloadError: (error) => log?.warn(`otlp receiver: changed tokens were not taken (${error.message}); the previous ones stay accepted`),
    }));
  // Credentials are read first: a receiver that cannot start leaves nothing registered behind.
  let secure: https.Server | undefined;
  const certificate = config.tls.certFile === undefined ? undefined : watchServerCertificate(config, log, (context) => secure?.setSecureContext(context));
  const rejected = options.registry && new Counter({
    name: 'sightline_receiver_rejected_requests_total',
    help: 'OTLP requests refused before their body was read: reason "missing_token" (no bearer token), "invalid_token" (not an accepted one), "tls_handshake" (a connection that did not complete TLS: plain HTTP, an untrusting client)',
    labelNames: ['reason'],
    registers: [options.registry],
  });
  if (auth !== undefined && auth.clientCount() === 0) {
    log?.warn(`otlp receiver: no client token in ${config.auth.tokensDir}: every request is refused (401) until one is added`);
  }
  const onRejected = (reason: RejectionReason): void => {
    if (reason === 'missing') rejections.missingToken++;
    else rejections.invalidToken++;
    rejected?.inc({ reason: `${reason}_token` });
  };
  const handle = createOtlpRequestHandler({ ...options, config, auth, onRejected });
  const unanswered = new Set<http.ServerResponse>();
  let closing = false;
  let closed: Promise<void> | undefined;
  const listener: http.RequestListener = (req, res) => {
    unanswered.add(res);
    res.on('close', () => unanswered.delete(res));
    if (closing) res.setHeader('Connection', 'close');
    handle(req, res);
  };
  let server: http.Server;
  if (certificate !== undefined) {
    secure = https.createServer({ ...certificate.current(), minVersion: 'TLSv1.2' }, listener);
    // Picks up a renewed certificate even on a receiver that sees no traffic for a while.
    const recheck = setInterval(() => certificate.reloadIfChanged(), 30_000);
    recheck.unref();
    secure.on('close', () => clearInterval(recheck));
    secure.on('tlsClientError', (error: NodeJS.ErrnoException) => {
      rejections.tlsHandshakeFailures++;
      rejected?.inc({ reason: 'tls_handshake' });
      log?.debug(`otlp receiver: a TLS handshake failed (${error.code ?? error.message})`);
    });
    server = secure;
  } else {
    server = http.createServer(listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    tls: config.tls.certFile !== undefined,
    rejections,
    reloadCertificate: () => certificate?.reloadIfChanged() ?? false,
    // Safe to call twice: the second call waits for the same close.
    close: (graceMs = 10_000) =>
      (closed ??= new Promise<void>((resolve, reject) => {
        closing = true;
        // Each answer still to come ends its connection, so the server can finish closing after it.
        for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
        const cutOff = setTimeout(() => server.closeAllConnections(), graceMs);
        cutOff.unref();
        server.close((error) => {
          clearTimeout(cutOff);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      })),
  };
}
