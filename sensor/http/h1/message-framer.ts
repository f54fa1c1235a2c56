/**
 * Byte-level HTTP/1.x message framing for one direction of a connection: finds heads, then delimits bodies by
 * Content-Length, chunked transfer coding (with trailers) or connection close, across arbitrary push boundaries.
 *
 * Hand-written because the decoder needs an incremental, push-based parser over captured bytes in both
 * directions with capture-gap handling; Node's llhttp binding is internal and exposes none of that.
 */
import type { HttpDecodeLimits } from '../connection-decoder';

const CR = 0x0d;
const LF = 0x0a;

/** Longest chunk-size line accepted (size plus chunk extensions). */
const MAX_CHUNK_SIZE_LINE = 4096;
/** 13 hex digits keep every chunk size a safe integer. */
const MAX_CHUNK_SIZE_HEX_DIGITS = 13;

/** How the body after a head is delimited, as decided by whoever interprets the head. */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'until-close' }
  /** A 1xx interim response: no body, and the final head follows. */
  | { kind: 'interim' }
  /** The message ends here and the connection stops being HTTP/1.x (101 Switching Protocols, CONNECT tunnel). */
  | { kind: 'switch' };

/** What the framer reports; the head is handed over as raw bytes so uninteresting traffic is never turned into strings. */
export interface MessageSink {
  /** A complete head (`bytes[start..end)`, ending with its blank line); returns the body framing or why the head is malformed. */
  head(bytes: Buffer, start: number, end: number, firstByteTsMs: number, tsMs: number): BodyFraming | string;
  /** Body bytes after transfer decoding. */
  bodyData(data: Buffer, start: number, end: number, tsMs: number): void;
  /** Capture lost bytes inside the current body; framing continues. */
  bodyGap(): void;
  /** The trailer section of a chunked body (`bytes[start..end)`), when it is not empty. */
  trailers(bytes: Buffer, start: number, end: number): void;
  messageEnd(tsMs: number): void;
  /** Called once when the framer cannot continue (malformed input or unrecoverable gap). */
  fail(reason: string): void;
}

type FramerState =
  | 'head'
  | 'body-length'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-data-cr'
  | 'chunk-data-lf'
  | 'trailers'
  | 'body-until-close'
  /** Failed, switched protocols, or ended: further bytes are ignored. */
  | 'stopped';

/** Growable holding area for a head, chunk-size line or trailer section that spans pushes. */
class PartialSection {
  bytes: Buffer = Buffer.alloc(0);
  length = 0;

  append(data: Buffer, start: number, end: number): void {
    const needed = this.length + (end - start);
    if (needed > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.bytes.length * 2, 256));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    data.copy(this.bytes, this.length, start, end);
    this.length = needed;
  }

  clear(): void {
    this.length = 0;
    // Release a large head's buffer instead of keeping it for the life of the connection.
    if (this.bytes.length > 16 * 1024) this.bytes = Buffer.alloc(0);
  }
}

/**
 * Index just past the blank line that ends a header section starting at `sectionStart`, searching
 * `buf[from..to)`, or -1. Bare LF line ends are accepted as RFC 9112 §2.2 allows.
 */
function findSectionEnd(buf: Buffer, sectionStart: number, from: number, to: number): number {
  let i = Math.max(from, sectionStart);
  while (i < to) {
    const lf = buf.indexOf(LF, i);
    if (lf < 0 || lf >= to) return -1;
    if (
      lf === sectionStart ||
      buf[lf - 1] === LF ||
      (buf[lf - 1] === CR && (lf - 1 === sectionStart || buf[lf - 2] === LF))
    ) {
      return lf + 1;
    }
    i = lf + 1;
  }
  return -1;
}

function findLineEnd(buf: Buffer, from: number, to: number): number {
  const lf = buf.indexOf(LF, from);
  return lf < 0 || lf >= to ? -1 : lf + 1;
}

function isHexDigit(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

/** The chunk size on a chunk-size line (`1a;ext=1\r\n`), or -1 when the line is malformed. */
function parseChunkSize(buf: Buffer, start: number, end: number): number {
  let i = start;
  let size = 0;
  while (i < end && isHexDigit(buf[i])) {
    if (i - start >= MAX_CHUNK_SIZE_HEX_DIGITS) return -1;
    const byte = buf[i];
    const digit = byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10;
    size = size * 16 + digit;
    i++;
  }
  if (i === start) return -1;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  // Chunk extensions are ignored; what remains must be `;...` or the line end.
  if (i < end && buf[i] !== 0x3b && buf[i] !== CR && buf[i] !== LF) return -1;
  return size;
}

export class MessageFramer {
  private state: FramerState = 'head';
  private readonly partial = new PartialSection();
  /** Bytes left in the current Content-Length body or chunk. */
  private remaining = 0;
  private headFirstByteTsMs = 0;

  constructor(
    private readonly sink: MessageSink,
    private readonly limits: HttpDecodeLimits,
  ) {}

  /** True between messages, with nothing of the next head seen yet. */
  get idle(): boolean {
    return this.state === 'head' && this.partial.length === 0;
  }

  get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** True while the body runs until the connection closes, so the close completes it. */
  get readingUntilClose(): boolean {
    return this.state === 'body-until-close';
  }

  stop(): void {
    this.state = 'stopped';
    this.partial.clear();
  }

  push(data: Buffer, tsMs: number): void {
    let offset = 0;
    while (offset < data.length) {
      switch (this.state) {
        case 'stopped':
          return;
        case 'head':
          offset = this.readHead(data, offset, tsMs);
          break;
        case 'body-length': {
          const end = offset + Math.min(this.remaining, data.length - offset);
          this.sink.bodyData(data, offset, end, tsMs);
          this.remaining -= end - offset;
          offset = end;
          if (this.remaining === 0) this.finishMessage(tsMs);
          break;
        }
        case 'chunk-size':
          offset = this.readChunkSizeLine(data, offset);
          break;
        case 'chunk-data': {
          const end = offset + Math.min(this.remaining, data.length - offset);
          this.sink.bodyData(data, offset, end, tsMs);
          this.remaining -= end - offset;
          offset = end;
          if (this.remaining === 0) this.state = 'chunk-data-cr';
          break;
        }
        case 'chunk-data-cr':
        case 'chunk-data-lf': {
          const byte = data[offset++];
          if (byte === LF) this.state = 'chunk-size';
          else if (byte === CR && this.state === 'chunk-data-cr') this.state = 'chunk-data-lf';
          else this.fail('chunk data is not followed by CRLF');
          break;
        }
        case 'trailers':
          offset = this.readSection(data, offset, tsMs, 'trailers');
          break;
        case 'body-until-close':
          this.sink.bodyData(data, offset, data.length, tsMs);
          offset = data.length;
          break;
      }
    }
  }

  /** Capture lost `lostBytes` here: returns false when the message framing cannot survive it. */
  gap(lostBytes: number, tsMs: number): boolean {
    switch (this.state) {
      case 'stopped':
        return true;
      case 'body-until-close':
        this.sink.bodyGap();
        return true;
      case 'body-length':
      case 'chunk-data':
        if (lostBytes > this.remaining) return false;
        this.sink.bodyGap();
        this.remaining -= lostBytes;
        if (this.remaining === 0) {
          if (this.state === 'body-length') this.finishMessage(tsMs);
          else this.state = 'chunk-data-cr';
        }
        return true;
      default:
        return false;
    }
  }

  private fail(reason: string): void {
    this.stop();
    this.sink.fail(reason);
  }

  private finishMessage(tsMs: number): void {
    this.state = 'head';
    this.sink.messageEnd(tsMs);
  }

  private readHead(data: Buffer, offset: number, tsMs: number): number {
    if (this.partial.length === 0) {
      // Stray line ends between messages are tolerated (RFC 9112 §2.2).
      while (offset < data.length && (data[offset] === CR || data[offset] === LF)) offset++;
      if (offset === data.length) return offset;
      this.headFirstByteTsMs = tsMs;
    }
    return this.readSection(data, offset, tsMs, 'head');
  }

  /** Collects a head or trailer section, directly from `data` when it is whole there, else across pushes. */
  private readSection(data: Buffer, offset: number, tsMs: number, kind: 'head' | 'trailers'): number {
    const max = this.limits.maxHeaderBytes;
    if (this.partial.length === 0) {
      const end = findSectionEnd(data, offset, offset, data.length);
      if (end >= 0 && end - offset <= max) {
        this.completeSection(data, offset, end, tsMs, kind);
        return end;
      }
      if (end < 0 && data.length - offset <= max) {
        this.partial.append(data, offset, data.length);
        return data.length;
      }
      this.fail(`${kind === 'head' ? 'message head' : 'trailer section'} exceeds maxHeaderBytes (${max})`);
      return data.length;
    }
    const before = this.partial.length;
    const take = Math.min(data.length - offset, max + 1 - before);
    this.partial.append(data, offset, offset + take);
    const end = findSectionEnd(this.partial.bytes, 0, Math.max(0, before), this.partial.length);
    if (end >= 0 && end <= max) {
      this.completeSection(this.partial.bytes, 0, end, tsMs, kind);
      this.partial.clear();
      return offset + (end - before);
    }
    if (end < 0 && this.partial.length <= max) return offset + take;
    this.fail(`${kind === 'head' ? 'message head' : 'trailer section'} exceeds maxHeaderBytes (${max})`);
    return data.length;
  }

  private completeSection(bytes: Buffer, start: number, end: number, tsMs: number, kind: 'head' | 'trailers'): void {
    if (kind === 'trailers') {
      if (end - start > 2) this.sink.trailers(bytes, start, end);
      this.finishMessage(tsMs);
      return;
    }
    const framing = this.sink.head(bytes, start, end, this.headFirstByteTsMs, tsMs);
    if (typeof framing === 'string') {
      this.fail(framing);
      return;
    }
    switch (framing.kind) {
      case 'none':
        this.finishMessage(tsMs);
        break;
      case 'interim':
        break;
      case 'switch':
        this.stop();
        this.sink.messageEnd(tsMs);
        break;
      case 'length':
        if (framing.length === 0) this.finishMessage(tsMs);
        else {
          this.remaining = framing.length;
          this.state = 'body-length';
        }
        break;
      case 'chunked':
        this.state = 'chunk-size';
        break;
      case 'until-close':
        this.state = 'body-until-close';
        break;
    }
  }

  private readChunkSizeLine(data: Buffer, offset: number): number {
    let lineBytes: Buffer;
    let lineStart: number;
    let lineEnd: number;
    let next: number;
    if (this.partial.length === 0) {
      const end = findLineEnd(data, offset, data.length);
      if (end < 0) {
        if (data.length - offset > MAX_CHUNK_SIZE_LINE) {
          this.fail('chunk-size line too long');
          return data.length;
        }
        this.partial.append(data, offset, data.length);
        return data.length;
      }
      lineBytes = data;
      lineStart = offset;
      lineEnd = end;
      next = end;
    } else {
      const before = this.partial.length;
      const take = Math.min(data.length - offset, MAX_CHUNK_SIZE_LINE + 1 - before);
      this.partial.append(data, offset, offset + take);
      const end = findLineEnd(this.partial.bytes, before, this.partial.length);
      if (end < 0) {
        if (this.partial.length > MAX_CHUNK_SIZE_LINE) {
          this.fail('chunk-size line too long');
          return data.length;
        }
        return offset + take;
      }
      lineBytes = this.partial.bytes;
      lineStart = 0;
      lineEnd = end;
      next = offset + (end - before);
    }
    const size = parseChunkSize(lineBytes, lineStart, lineEnd);
    this.partial.clear();
    if (size < 0) {
      this.fail('invalid chunk size');
      return data.length;
    }
    if (size === 0) {
      this.state = 'trailers';
    } else {
      this.remaining = size;
      this.state = 'chunk-data';
    }
    return next;
  }
}
