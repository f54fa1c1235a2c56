/**
 * OTLP/HTTP trace receiver: POST /v1/traces, protobuf or JSON, optionally gzip-compressed. Every accepted span
 * is normalised into the sensor's attribute set and handed to `onSpans`; the reply waits for it, so a slow or
 * failing sink pushes back on the sender (503 is retryable for OTLP exporters) instead of losing spans.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import type { GenAiSpan } from '../span/gen-ai-span';
import { receiverConfigSchema, type ReceiverConfigInput } from './config';
import { decodeTraceRequest, encodeErrorStatus, encodeTraceResponse, OtlpDecodeError, type OtlpEncoding } from './otlp-codec';
import { normaliseSpan } from './normalise';

export const TRACES_PATH = '/v1/traces';

/** The subset of a pino logger the receiver writes to. */
export interface ReceiverLog {
  warn(message: string): void;
  debug(message: string): void;
}

export interface OtlpReceiverOptions {
  config?: ReceiverConfigInput;
  onSpans: (spans: GenAiSpan[]) => Promise<void> | void;
  log?: ReceiverLog;
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
export function createOtlpRequestHandler(options: OtlpReceiverOptions): http.RequestListener {
  const config = receiverConfigSchema.parse(options.config ?? {});
  const log = options.log;

  return (req, res) => {
    void (async () => {
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
            await options.onSpans(spans);
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
  /**
   * Stops accepting, answers the requests in flight (their spans may already be queued: cutting them off would
   * make the senders resend stored spans), then closes. Connections still open after `graceMs` are cut.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts an http.Server with the receiver on the configured host and port. */
export async function startOtlpReceiver(options: OtlpReceiverOptions): Promise<RunningOtlpReceiver> {
  const config = receiverConfigSchema.parse(options.config ?? {});
  const handle = createOtlpRequestHandler({ ...options, config });
  const unanswered = new Set<http.ServerResponse>();
  let closing = false;
  let closed: Promise<void> | undefined;
  const server = http.createServer((req, res) => {
    unanswered.add(res);
    res.on('close', () => unanswered.delete(res));
    if (closing) res.setHeader('Connection', 'close');
    handle(req, res);
  });
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
