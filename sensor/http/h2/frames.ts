/**
 * HTTP/2 framing (RFC 9113 section 4 and 6): an incremental reader that cuts a byte stream into frames, and
 * payload parsers per frame type. Parsers validate lengths and padding and throw Http2FrameError.
 */

export const FRAME_HEADER_LENGTH = 9;
/** SETTINGS_MAX_FRAME_SIZE before the peer announces one, and the smallest it may announce. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
/** The largest SETTINGS_MAX_FRAME_SIZE a peer may announce (2^24 - 1). */
export const LARGEST_MAX_FRAME_SIZE = 0xffffff;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FrameFlag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export class Http2FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Http2FrameError';
  }
}

export interface Http2Frame {
  type: number;
  flags: number;
  streamId: number;
  /** The whole payload, padding included; a view into captured buffers where possible. */
  payload: Buffer;
  /** Capture time of the chunk holding the frame's first byte, and of the one that completed it. */
  startTsMs: number;
  endTsMs: number;
}

/**
 * Cuts a byte stream into frames. Chunks are kept as a list and joined once per frame, so a frame split
 * over many small reads costs one copy.
 */
export class Http2FrameReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private firstByteTsMs = 0;
  private maxFrameSize: number;

  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  /** The receiving peer announced SETTINGS_MAX_FRAME_SIZE; as with HPACK, the largest value seen stays allowed. */
  allowFrameSize(announced: number): void {
    this.maxFrameSize = Math.min(Math.max(this.maxFrameSize, announced), LARGEST_MAX_FRAME_SIZE);
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Appends captured bytes and hands over every frame they complete, in order. Throws Http2FrameError on an
   * oversized frame; if `onFrame` throws, the bytes after that frame stay buffered (see `discard`).
   */
  push(data: Buffer, tsMs: number, onFrame: (frame: Http2Frame) => void): void {
    if (data.length === 0) return;
    if (this.buffered === 0) this.firstByteTsMs = tsMs;
    this.chunks.push(data);
    this.buffered += data.length;
    while (this.buffered >= FRAME_HEADER_LENGTH) {
      const header = this.peekHeader();
      const length = header.readUIntBE(0, 3);
      if (length > this.maxFrameSize) {
        throw new Http2FrameError(`frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`);
      }
      const total = FRAME_HEADER_LENGTH + length;
      if (this.buffered < total) break;
      const bytes = this.take(total);
      const frame: Http2Frame = {
        type: bytes[3],
        flags: bytes[4],
        streamId: bytes.readUInt32BE(5) & 0x7fffffff,
        payload: bytes.subarray(FRAME_HEADER_LENGTH),
        startTsMs: this.firstByteTsMs,
        endTsMs: tsMs,
      };
      // Whatever is left started arriving in this chunk at the latest.
      this.firstByteTsMs = tsMs;
      onFrame(frame);
    }
  }

  /** Drops buffered bytes (after a capture gap) and returns how many there were. */
  discard(): number {
    const dropped = this.buffered;
    this.chunks.length = 0;
    this.buffered = 0;
    return dropped;
  }

  private peekHeader(): Buffer {
    if (this.chunks[0].length < FRAME_HEADER_LENGTH) this.mergeFront(FRAME_HEADER_LENGTH);
    return this.chunks[0];
  }

  private take(length: number): Buffer {
    if (this.chunks[0].length < length) this.mergeFront(length);
    const first = this.chunks[0];
    const taken = first.subarray(0, length);
    if (first.length === length) this.chunks.shift();
    else this.chunks[0] = first.subarray(length);
    this.buffered -= length;
    return taken;
  }

  /** Joins leading chunks until the first one holds at least `length` bytes (the caller checked they exist). */
  private mergeFront(length: number): void {
    let count = 0;
    let joined = 0;
    while (joined < length) joined += this.chunks[count++].length;
    this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count), joined));
  }
}

/** Removes the padding of a PADDED frame: a pad-length byte, then `extra` fixed bytes, then content, then padding. */
function unpad(frame: Http2Frame, extra: number, what: string): { fixed: Buffer; content: Buffer } {
  const payload = frame.payload;
  if ((frame.flags & FrameFlag.PADDED) === 0) {
    if (payload.length < extra) throw new Http2FrameError(`${what} frame of ${payload.length} bytes is too short`);
    return { fixed: payload.subarray(0, extra), content: payload.subarray(extra) };
  }
  if (payload.length < 1 + extra) throw new Http2FrameError(`padded ${what} frame of ${payload.length} bytes is too short`);
  const padLength = payload[0];
  if (1 + extra + padLength > payload.length) {
    throw new Http2FrameError(`${what} frame padding of ${padLength} bytes exceeds its ${payload.length}-byte payload`);
  }
  return { fixed: payload.subarray(1, 1 + extra), content: payload.subarray(1 + extra, payload.length - padLength) };
}

export function parseData(frame: Http2Frame): { data: Buffer; endStream: boolean } {
  return { data: unpad(frame, 0, 'DATA').content, endStream: (frame.flags & FrameFlag.END_STREAM) !== 0 };
}

export interface HeadersPayload {
  fragment: Buffer;
  endStream: boolean;
  endHeaders: boolean;
}

export function parseHeaders(frame: Http2Frame): HeadersPayload {
  // The PRIORITY flag adds a stream dependency (4 bytes) and a weight (1 byte) that a passive reader ignores.
  const priorityBytes = frame.flags & FrameFlag.PRIORITY ? 5 : 0;
  return {
    fragment: unpad(frame, priorityBytes, 'HEADERS').content,
    endStream: (frame.flags & FrameFlag.END_STREAM) !== 0,
    endHeaders: (frame.flags & FrameFlag.END_HEADERS) !== 0,
  };
}

export function parsePushPromise(frame: Http2Frame): { promisedStreamId: number; fragment: Buffer; endHeaders: boolean } {
  const { fixed, content } = unpad(frame, 4, 'PUSH_PROMISE');
  return {
    promisedStreamId: fixed.readUInt32BE(0) & 0x7fffffff,
    fragment: content,
    endHeaders: (frame.flags & FrameFlag.END_HEADERS) !== 0,
  };
}

/** SETTINGS parameters in order; an ACK carries none. */
export function parseSettings(frame: Http2Frame): Array<{ id: number; value: number }> {
  const payload = frame.payload;
  if (frame.streamId !== 0) throw new Http2FrameError(`SETTINGS frame on stream ${frame.streamId}`);
  if (payload.length % 6 !== 0) throw new Http2FrameError(`SETTINGS payload of ${payload.length} bytes is not a multiple of 6`);
  if (frame.flags & FrameFlag.ACK && payload.length > 0) throw new Http2FrameError('SETTINGS ACK with a payload');
  const settings: Array<{ id: number; value: number }> = [];
  for (let offset = 0; offset < payload.length; offset += 6) {
    settings.push({ id: payload.readUInt16BE(offset), value: payload.readUInt32BE(offset + 2) });
  }
  return settings;
}

function expectLength(frame: Http2Frame, length: number, what: string): void {
  if (frame.payload.length !== length) {
    throw new Http2FrameError(`${what} payload is ${frame.payload.length} bytes, expected ${length}`);
  }
}

export function parseRstStream(frame: Http2Frame): { errorCode: number } {
  expectLength(frame, 4, 'RST_STREAM');
  return { errorCode: frame.payload.readUInt32BE(0) };
}

export function parseGoaway(frame: Http2Frame): { lastStreamId: number; errorCode: number; debugData: Buffer } {
  if (frame.payload.length < 8) throw new Http2FrameError(`GOAWAY payload of ${frame.payload.length} bytes is shorter than 8`);
  return {
    lastStreamId: frame.payload.readUInt32BE(0) & 0x7fffffff,
    errorCode: frame.payload.readUInt32BE(4),
    debugData: frame.payload.subarray(8),
  };
}

export function parseWindowUpdate(frame: Http2Frame): { increment: number } {
  expectLength(frame, 4, 'WINDOW_UPDATE');
  return { increment: frame.payload.readUInt32BE(0) & 0x7fffffff };
}

export function parsePing(frame: Http2Frame): { opaque: Buffer; ack: boolean } {
  expectLength(frame, 8, 'PING');
  return { opaque: frame.payload, ack: (frame.flags & FrameFlag.ACK) !== 0 };
}

export function parsePriority(frame: Http2Frame): { dependsOn: number; exclusive: boolean; weight: number } {
  expectLength(frame, 5, 'PRIORITY');
  const word = frame.payload.readUInt32BE(0);
  return { dependsOn: word & 0x7fffffff, exclusive: (word & 0x80000000) !== 0, weight: frame.payload[4] + 1 };
}

/** Serialises one frame (test fixtures and fuzzing build traffic with it). */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_LENGTH);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}
