/**
 * Chooses the decoder for a captured TLS connection from the first bytes the client wrote: the HTTP/2 client
 * preface, an HTTP/1.x request line, or anything else, which is ignored without buffering.
 */
import type { Direction } from '../capture/capture-event';
import type { ConnectionDecoder, ConnectionEndReason, HttpDecoderOptions } from './connection-decoder';
import { Http1ConnectionDecoder } from './h1/http1-decoder';
import { HTTP2_CLIENT_PREFACE, Http2ConnectionDecoder } from './h2/http2-decoder';
import type { ConnectionContext } from './http-exchange';

/** Longest request method recognised; registered methods are far shorter. */
const MAX_METHOD_LENGTH = 20;
/** Server bytes held before the client has said anything (an h2 server may send SETTINGS first). */
const MAX_EARLY_SERVER_BYTES = 64 * 1024;

export type DetectedProtocol = 'http/1.1' | 'h2' | 'not-http' | 'undecided';

function isMethodChar(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || byte === 0x2d || byte === 0x5f;
}

/** Classifies the first client bytes; `undecided` until enough of them are there. */
export function detectProtocol(firstClientBytes: Buffer): DetectedProtocol {
  const prefaceBytes = Math.min(firstClientBytes.length, HTTP2_CLIENT_PREFACE.length);
  if (firstClientBytes.subarray(0, prefaceBytes).equals(HTTP2_CLIENT_PREFACE.subarray(0, prefaceBytes))) {
    return prefaceBytes === HTTP2_CLIENT_PREFACE.length ? 'h2' : 'undecided';
  }
  // An HTTP/1.x request starts with an upper-case method token and a space.
  for (let i = 0; i < firstClientBytes.length; i++) {
    const byte = firstClientBytes[i];
    if (byte === 0x20) return i > 0 ? 'http/1.1' : 'not-http';
    if (!isMethodChar(byte) || i >= MAX_METHOD_LENGTH) return 'not-http';
  }
  return 'undecided';
}

interface EarlyEvent {
  dir: Direction;
  data?: Buffer;
  lostBytes?: number;
  tsMs: number;
}

/** Holds the first few bytes until the protocol is known, then hands everything to the chosen decoder in order. */
class ProtocolDetectingDecoder implements ConnectionDecoder {
  private decoder: ConnectionDecoder | undefined;
  private ignored = false;
  private readonly early: EarlyEvent[] = [];
  private earlyClientBytes = Buffer.alloc(0);
  private earlyServerBytes = 0;

  constructor(
    private readonly ctx: ConnectionContext,
    private readonly options: HttpDecoderOptions,
  ) {}

  push(dir: Direction, data: Buffer, tsMs: number): void {
    if (this.decoder !== undefined) {
      this.decoder.push(dir, data, tsMs);
      return;
    }
    if (this.ignored || data.length === 0) return;
    if (dir === 'in') {
      this.earlyServerBytes += data.length;
      if (this.earlyServerBytes > MAX_EARLY_SERVER_BYTES) {
        this.ignore(`server sent ${this.earlyServerBytes} bytes before the client wrote anything; not HTTP`, this.earlyServerBytes);
        return;
      }
      this.early.push({ dir, data: Buffer.from(data), tsMs });
      return;
    }
    const clientBytes = this.earlyClientBytes.length === 0 ? data : Buffer.concat([this.earlyClientBytes, data]);
    const protocol = detectProtocol(clientBytes.subarray(0, HTTP2_CLIENT_PREFACE.length));
    if (protocol === 'undecided') {
      this.earlyClientBytes = Buffer.from(clientBytes);
      this.early.push({ dir, data: Buffer.from(data), tsMs });
      return;
    }
    if (protocol === 'not-http') {
      this.ignore('first client bytes are neither an HTTP/1.x request line nor the HTTP/2 preface', clientBytes.length);
      return;
    }
    this.decoder = protocol === 'h2' ? new Http2ConnectionDecoder(this.ctx, this.options) : new Http1ConnectionDecoder(this.ctx, this.options);
    this.replayEarly();
    this.decoder.push(dir, data, tsMs);
  }

  gap(dir: Direction, lostBytes: number, tsMs: number): void {
    if (this.decoder !== undefined) {
      this.decoder.gap(dir, lostBytes, tsMs);
      return;
    }
    if (this.ignored) return;
    if (dir === 'out') {
      // Without the client's first bytes the protocol cannot be told.
      this.ignore(`capture gap of ${lostBytes} bytes before the protocol was known`, this.earlyClientBytes.length + lostBytes);
      return;
    }
    this.early.push({ dir, lostBytes, tsMs });
  }

  end(tsMs: number, reason: ConnectionEndReason): void {
    if (this.decoder !== undefined) this.decoder.end(tsMs, reason);
    this.early.length = 0;
  }

  private replayEarly(): void {
    const decoder = this.decoder as ConnectionDecoder;
    for (const event of this.early.splice(0, this.early.length)) {
      if (event.data !== undefined) decoder.push(event.dir, event.data, event.tsMs);
      else decoder.gap(event.dir, event.lostBytes ?? 0, event.tsMs);
    }
    this.earlyClientBytes = Buffer.alloc(0);
  }

  /** Counts the bytes that decided against HTTP once; everything after costs nothing. */
  private ignore(reason: string, undecodableBytes: number): void {
    this.ignored = true;
    this.early.length = 0;
    this.earlyClientBytes = Buffer.alloc(0);
    this.options.stats.malformed += undecodableBytes;
    try {
      this.options.onError?.(`${this.ctx.conn}: connection ignored: ${reason}`);
      this.options.onUndecodable?.(this.ctx, reason);
    } catch {
      // A callback failing must not break capture.
    }
  }
}

/** The decoder for a new connection; it picks HTTP/1.1 or HTTP/2 from the client's first bytes. */
export function createConnectionDecoder(ctx: ConnectionContext, options: HttpDecoderOptions): ConnectionDecoder {
  return new ProtocolDetectingDecoder(ctx, options);
}
