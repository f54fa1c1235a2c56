/**
 * HTTP/2 connection decoder: both directions of one captured connection in, one HttpExchange per stream out.
 * Each direction has its own frame reader and HPACK context (a client's and a server's header blocks are
 * compressed against separate dynamic tables). HTTP/2 cannot resynchronise inside a frame stream, so a capture
 * gap or an HPACK error ends decoding of that direction; the other direction carries on.
 */
import type { Direction } from '../../capture/capture-event';
import type { ConnectionDecoder, HttpDecoderOptions, RequestHead } from '../connection-decoder';
import { decodeContentEncoding } from '../content-encoding';
import { stripCredentialAuthority, stripCredentialHeaders, stripCredentialQuery } from '../credentials';
import type { ConnectionContext, HeaderMap, HttpExchange, HttpRequest, HttpResponse } from '../http-exchange';
import {
  FRAME_HEADER_LENGTH,
  FrameFlag,
  FrameType,
  Http2FrameError,
  Http2FrameReader,
  SettingId,
  parseData,
  parseGoaway,
  parseHeaders,
  parsePing,
  parsePriority,
  parsePushPromise,
  parseRstStream,
  parseSettings,
  parseWindowUpdate,
  type Http2Frame,
} from './frames';
import { HpackDecoder, HpackError, type HeaderField } from './hpack';

export const HTTP2_CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Streams tracked at once per connection; beyond this the oldest is flushed (servers allow ~100 concurrent). */
const MAX_OPEN_STREAMS = 1024;

/**
 * Body bytes one connection may hold across its open streams, in units of limits.maxBodyBytes: without it,
 * MAX_OPEN_STREAMS streams could each hold a full body. Bytes past it are dropped and their bodies marked cut.
 */
const MAX_HELD_BODIES_PER_CONNECTION = 4;

/** A header block being assembled from HEADERS or PUSH_PROMISE plus CONTINUATION frames. */
interface OpenHeaderBlock {
  streamId: number;
  /** PUSH_PROMISE blocks are decoded only to keep the HPACK table in step. */
  isPushPromise: boolean;
  fragments: Buffer[];
  bytes: number;
  /**
   * `bytes` plus a frame header per CONTINUATION, checked against limits.maxHeaderBytes: empty CONTINUATION
   * frames add no fragment bytes, so an endless run of them (CVE-2024-27316) must still reach the limit.
   */
  chargedBytes: number;
  endStream: boolean;
  startTsMs: number;
}

interface DirectionState {
  readonly dir: Direction;
  readonly reader: Http2FrameReader;
  readonly hpack: HpackDecoder;
  /** Bytes of the client preface still to be matched (only the `out` direction starts with one). */
  prefaceMatched: number;
  prefaceLength: number;
  openBlock?: OpenHeaderBlock;
  /** Set once this direction can no longer be decoded; later bytes are counted as malformed. */
  abandoned: boolean;
}

/** Collects one message body up to the limit; bytes past it are counted, not kept. */
class BodyCollector {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  cutAtLimit = false;

  constructor(private readonly maxBytes: number) {}

  get length(): number {
    return this.size;
  }

  /** Keeps what fits within this body's limit and `connectionRoom`; returns the number of bytes kept. */
  append(data: Buffer, connectionRoom: number): number {
    // Empty DATA frames are legal and free to send; keeping a chunk for each would grow without bound.
    if (data.length === 0) return 0;
    const room = Math.min(this.maxBytes - this.size, connectionRoom);
    if (data.length > room) {
      this.cutAtLimit = true;
      if (room <= 0) return 0;
      data = data.subarray(0, room);
    }
    this.chunks.push(data);
    this.size += data.length;
    return data.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

interface RequestState {
  head: RequestHead;
  startTsMs: number;
  endTsMs: number;
  ended: boolean;
  body: BodyCollector;
}

interface ResponseState {
  status: number;
  headers: HeaderMap;
  startTsMs: number;
  firstBodyByteTsMs?: number;
  endTsMs: number;
  ended: boolean;
  body: BodyCollector;
}

interface StreamState {
  id: number;
  /** What `isInteresting` said; an uninteresting stream is framed and HPACK-decoded, never buffered or emitted. */
  interesting: boolean;
  request: RequestState;
  response?: ResponseState;
  /** A DATA frame of this stream was lost or unreadable. */
  requestBodyDamaged: boolean;
  responseBodyDamaged: boolean;
}

type FinishReason = 'complete' | 'reset' | 'goaway' | 'gap' | 'end' | 'evicted';

/** Header fields to a map: lower-case names, repeats joined, credentials removed. Pseudo-headers go to `pseudo`. */
function splitHeaderFields(fields: HeaderField[]): { pseudo: Map<string, string>; headers: HeaderMap } {
  const pseudo = new Map<string, string>();
  const headers: HeaderMap = {};
  for (const field of fields) {
    const name = field.name.toLowerCase();
    if (name.startsWith(':')) {
      if (!pseudo.has(name)) pseudo.set(name, field.value);
    } else if (Object.prototype.hasOwnProperty.call(headers, name)) {
      headers[name] = `${headers[name]}, ${field.value}`;
    } else {
      headers[name] = field.value;
    }
  }
  return { pseudo, headers: stripCredentialHeaders(headers) };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Protocol errors speak for themselves; anything else is a decoder bug and is labelled so. */
function describeFailure(err: unknown): string {
  if (err instanceof Http2FrameError || err instanceof HpackError) return err.message;
  return `internal decoder error (${err instanceof Error ? err.name : typeof err}: ${errorMessage(err)})`;
}

export class Http2ConnectionDecoder implements ConnectionDecoder {
  private readonly directions: Record<Direction, DirectionState>;
  private readonly streams = new Map<number, StreamState>();
  /** Client stream ids only grow, so a request block at or below this id belongs to a finished stream. */
  private highestRequestStreamId = 0;
  private ended = false;
  /** Body bytes held by the open streams, bounded by MAX_HELD_BODIES_PER_CONNECTION bodies. */
  private heldBodyBytes = 0;
  private heldBodyLimitReported = false;

  constructor(
    private readonly ctx: ConnectionContext,
    private readonly options: HttpDecoderOptions,
  ) {
    this.directions = {
      out: this.newDirection('out', HTTP2_CLIENT_PREFACE.length),
      in: this.newDirection('in', 0),
    };
  }

  push(dir: Direction, data: Buffer, tsMs: number): void {
    const state = this.directions[dir];
    if (this.ended || state.abandoned) {
      this.options.stats.malformed += data.length;
      return;
    }
    // Bytes taken out of the reader but not decoded when an error strikes; the reader's own are counted by abandon.
    let undecodedBytes = data.length;
    try {
      const frameBytes = this.matchPreface(state, data);
      undecodedBytes = 0;
      state.reader.push(frameBytes, tsMs, (frame) => {
        undecodedBytes = FRAME_HEADER_LENGTH + frame.payload.length;
        this.handleFrame(state, frame);
        undecodedBytes = 0;
      });
    } catch (err) {
      this.abandon(state, `h2: ${dir} direction of ${this.ctx.conn} no longer decodable: ${describeFailure(err)}`, tsMs, undecodedBytes);
    }
  }

  gap(dir: Direction, lostBytes: number, tsMs: number): void {
    const state = this.directions[dir];
    if (this.ended) return;
    if (state.abandoned) {
      this.options.stats.malformed += lostBytes;
      return;
    }
    this.abandon(state, `h2: capture lost ${lostBytes} bytes in the ${dir} direction of ${this.ctx.conn}; HTTP/2 cannot resynchronise`, tsMs, lostBytes);
  }

  /** Why the connection ended does not matter here: an HTTP/2 message is complete only with END_STREAM. */
  end(tsMs: number): void {
    if (this.ended) return;
    this.ended = true;
    try {
      for (const stream of [...this.streams.values()]) this.finish(stream, 'end', tsMs);
    } catch (err) {
      this.report(`h2: flushing ${this.ctx.conn} at connection end failed: ${errorMessage(err)}`);
    }
  }

  private newDirection(dir: Direction, prefaceLength: number): DirectionState {
    return {
      dir,
      reader: new Http2FrameReader(),
      hpack: new HpackDecoder(),
      prefaceMatched: 0,
      prefaceLength,
      abandoned: false,
    };
  }

  /** Consumes client-preface bytes and returns what follows them; throws when the preface does not match. */
  private matchPreface(state: DirectionState, data: Buffer): Buffer {
    if (state.prefaceMatched === state.prefaceLength) return data;
    const wanted = Math.min(state.prefaceLength - state.prefaceMatched, data.length);
    const expected = HTTP2_CLIENT_PREFACE.subarray(state.prefaceMatched, state.prefaceMatched + wanted);
    if (!data.subarray(0, wanted).equals(expected)) {
      throw new Http2FrameError('the client connection preface (PRI * HTTP/2.0) is missing; capture started mid-connection or this is not HTTP/2');
    }
    state.prefaceMatched += wanted;
    return data.subarray(wanted);
  }

  /**
   * Stops decoding one direction and flushes the streams it leaves unfinishable: after an `out` failure, those
   * whose request had not ended; after an `in` failure, every open stream (none can get its response), and from
   * then on each new stream as soon as its request ends.
   */
  private abandon(state: DirectionState, reason: string, tsMs: number, unreadBytes: number): void {
    try {
      state.abandoned = true;
      state.openBlock = undefined;
      this.options.stats.malformed += state.reader.discard() + unreadBytes;
      this.report(reason);
      for (const stream of [...this.streams.values()]) {
        if (state.dir === 'in' || !stream.request.ended) this.finish(stream, 'gap', tsMs);
      }
      if (this.directions.in.abandoned && this.directions.out.abandoned) this.options.onUndecodable?.(this.ctx, reason);
    } catch (err) {
      this.report(`h2: abandoning the ${state.dir} direction of ${this.ctx.conn} failed: ${errorMessage(err)}`);
    }
  }

  private handleFrame(state: DirectionState, frame: Http2Frame): void {
    if (state.openBlock !== undefined && frame.type !== FrameType.CONTINUATION) {
      throw new Http2FrameError(`frame type ${frame.type} interrupts the header block of stream ${state.openBlock.streamId}`);
    }
    switch (frame.type) {
      case FrameType.HEADERS: {
        const headers = parseHeaders(frame);
        this.startHeaderBlock(state, frame, headers.fragment, headers.endHeaders, headers.endStream, false);
        return;
      }
      case FrameType.PUSH_PROMISE: {
        const promise = parsePushPromise(frame);
        this.startHeaderBlock(state, frame, promise.fragment, promise.endHeaders, false, true);
        return;
      }
      case FrameType.CONTINUATION:
        this.continueHeaderBlock(state, frame);
        return;
      case FrameType.DATA:
        this.handleData(state, frame);
        return;
      default:
        this.handleControlFrame(state, frame);
    }
  }

  private startHeaderBlock(
    state: DirectionState,
    frame: Http2Frame,
    fragment: Buffer,
    endHeaders: boolean,
    endStream: boolean,
    isPushPromise: boolean,
  ): void {
    state.openBlock = { streamId: frame.streamId, isPushPromise, fragments: [], bytes: 0, chargedBytes: 0, endStream, startTsMs: frame.startTsMs };
    this.appendToHeaderBlock(state, fragment, 0);
    if (endHeaders) this.completeHeaderBlock(state, frame.endTsMs);
  }

  private continueHeaderBlock(state: DirectionState, frame: Http2Frame): void {
    const block = state.openBlock;
    if (block === undefined || block.streamId !== frame.streamId) {
      throw new Http2FrameError(`CONTINUATION on stream ${frame.streamId} without an open header block`);
    }
    this.appendToHeaderBlock(state, frame.payload, FRAME_HEADER_LENGTH);
    if (frame.flags & FrameFlag.END_HEADERS) this.completeHeaderBlock(state, frame.endTsMs);
  }

  private appendToHeaderBlock(state: DirectionState, fragment: Buffer, frameOverheadBytes: number): void {
    const block = state.openBlock!;
    if (fragment.length > 0) block.fragments.push(fragment);
    block.bytes += fragment.length;
    block.chargedBytes += fragment.length + frameOverheadBytes;
    if (block.chargedBytes > this.options.limits.maxHeaderBytes) {
      throw new Http2FrameError(
        `header block of stream ${block.streamId} exceeds limits.maxHeaderBytes (${this.options.limits.maxHeaderBytes}, counting ${FRAME_HEADER_LENGTH} bytes per CONTINUATION frame); raise the limit to decode it`,
      );
    }
  }

  private completeHeaderBlock(state: DirectionState, tsMs: number): void {
    const block = state.openBlock!;
    state.openBlock = undefined;
    const bytes = block.fragments.length === 1 ? block.fragments[0] : Buffer.concat(block.fragments, block.bytes);
    // Decoded even when the stream is ignored: every block updates the direction's HPACK table.
    const decoded = state.hpack.decode(bytes, this.options.limits.maxHeaderBytes);
    if (decoded.listTruncated) {
      this.report(`h2: headers of stream ${block.streamId} exceed limits.maxHeaderBytes once decoded; the rest were dropped`);
    }
    if (block.streamId === 0) this.report(`h2: header block on stream 0 of ${this.ctx.conn}; ignored`);
    if (block.isPushPromise || block.streamId === 0) return;
    if (state.dir === 'out') this.onRequestHeaders(block, decoded.fields, tsMs);
    else this.onResponseHeaders(block, decoded.fields, tsMs);
  }

  private onRequestHeaders(block: OpenHeaderBlock, fields: HeaderField[], tsMs: number): void {
    const { pseudo, headers } = splitHeaderFields(fields);
    const existing = this.streams.get(block.streamId);
    if (existing !== undefined) {
      // A second block on a request is its trailers.
      if (existing.interesting) Object.assign(existing.request.head.headers, headers);
      this.endRequestIf(existing, block.endStream, tsMs);
      return;
    }
    if (block.streamId <= this.highestRequestStreamId) return; // trailers of a stream already flushed
    this.highestRequestStreamId = block.streamId;
    const head: RequestHead = {
      method: pseudo.get(':method') ?? '',
      path: stripCredentialQuery(pseudo.get(':path') ?? ''),
      authority: stripCredentialAuthority(pseudo.get(':authority') ?? headers['host'] ?? ''),
      headers,
    };
    if (head.method === '') this.report(`h2: request on stream ${block.streamId} of ${this.ctx.conn} has no :method`);
    const stream: StreamState = {
      id: block.streamId,
      interesting: this.askInteresting(head),
      request: {
        head,
        startTsMs: block.startTsMs,
        endTsMs: tsMs,
        ended: false,
        body: new BodyCollector(this.options.limits.maxBodyBytes),
      },
      requestBodyDamaged: false,
      responseBodyDamaged: false,
    };
    if (!stream.interesting) this.options.stats.ignoredExchanges++;
    this.options.onRequestHead?.(this.ctx, 'h2', head, stream.interesting);
    if (this.streams.size >= MAX_OPEN_STREAMS) {
      const oldest = this.streams.values().next().value as StreamState;
      this.report(`h2: more than ${MAX_OPEN_STREAMS} open streams on ${this.ctx.conn}; stream ${oldest.id} flushed unfinished`);
      this.finish(oldest, 'evicted', tsMs);
    }
    this.streams.set(stream.id, stream);
    this.endRequestIf(stream, block.endStream, tsMs);
  }

  private askInteresting(head: RequestHead): boolean {
    try {
      return this.options.isInteresting(head);
    } catch (err) {
      this.report(`h2: isInteresting threw (${errorMessage(err)}); keeping the exchange`);
      return true;
    }
  }

  private endRequestIf(stream: StreamState, endStream: boolean, tsMs: number): void {
    stream.request.endTsMs = tsMs;
    if (!endStream) return;
    stream.request.ended = true;
    // No response can be decoded any more: holding the exchange would only hold its memory until the connection ends.
    if (this.directions.in.abandoned) this.finish(stream, 'gap', tsMs);
  }

  private onResponseHeaders(block: OpenHeaderBlock, fields: HeaderField[], tsMs: number): void {
    const stream = this.streams.get(block.streamId);
    if (stream === undefined) return; // pushed, already flushed, or its request was never seen
    const { pseudo, headers } = splitHeaderFields(fields);
    if (stream.response !== undefined) {
      // Trailers (e.g. after a streamed body) complete the response headers.
      if (stream.interesting) Object.assign(stream.response.headers, headers);
    } else {
      const statusText = pseudo.get(':status');
      const status = statusText !== undefined && /^\d{3}$/.test(statusText) ? Number(statusText) : 0;
      if (status === 0) this.report(`h2: response on stream ${stream.id} of ${this.ctx.conn} has no valid :status`);
      // Informational heads (100 Continue, 103 Early Hints) precede the real one.
      if (status >= 100 && status < 200 && !block.endStream) return;
      stream.response = {
        status,
        headers,
        startTsMs: tsMs,
        endTsMs: tsMs,
        ended: false,
        body: new BodyCollector(this.options.limits.maxBodyBytes),
      };
    }
    stream.response.endTsMs = tsMs;
    if (block.endStream) {
      stream.response.ended = true;
      this.finish(stream, 'complete', tsMs);
    }
  }

  private handleData(state: DirectionState, frame: Http2Frame): void {
    const stream = this.streams.get(frame.streamId);
    if (stream !== undefined && state.dir === 'out' && stream.request.ended) {
      // RFC 9113 5.1: a half-closed stream takes no more DATA from that side; a peer would reset it.
      this.report(`h2: DATA after END_STREAM on request stream ${stream.id} of ${this.ctx.conn}; ignored`);
      this.options.stats.malformed += FRAME_HEADER_LENGTH + frame.payload.length;
      return;
    }
    let data: Buffer;
    let endStream: boolean;
    try {
      ({ data, endStream } = parseData(frame));
    } catch (err) {
      // The frame's bounds are known, so only its content is lost; the body is marked damaged.
      this.countMalformedFrame(frame, err);
      if (stream === undefined) return;
      if (state.dir === 'out') stream.requestBodyDamaged = true;
      else stream.responseBodyDamaged = true;
      data = Buffer.alloc(0);
      endStream = (frame.flags & FrameFlag.END_STREAM) !== 0;
    }
    if (stream === undefined) return;
    if (state.dir === 'out') {
      if (stream.interesting) this.appendBody(stream.request.body, data);
      this.endRequestIf(stream, endStream, frame.endTsMs);
      return;
    }
    const response = stream.response;
    if (response === undefined) {
      this.report(`h2: DATA before response headers on stream ${stream.id} of ${this.ctx.conn}; ignored`);
      this.options.stats.malformed += FRAME_HEADER_LENGTH + frame.payload.length;
      return;
    }
    if (data.length > 0 && response.firstBodyByteTsMs === undefined) response.firstBodyByteTsMs = frame.startTsMs;
    if (stream.interesting) this.appendBody(response.body, data);
    response.endTsMs = frame.endTsMs;
    if (endStream) {
      response.ended = true;
      this.finish(stream, 'complete', frame.endTsMs);
    }
  }

  private handleControlFrame(state: DirectionState, frame: Http2Frame): void {
    try {
      switch (frame.type) {
        case FrameType.SETTINGS:
          this.applySettings(state, frame);
          return;
        case FrameType.RST_STREAM: {
          parseRstStream(frame);
          const stream = this.streams.get(frame.streamId);
          if (stream !== undefined) this.finish(stream, 'reset', frame.endTsMs);
          return;
        }
        case FrameType.GOAWAY: {
          const { lastStreamId } = parseGoaway(frame);
          // Only the server's GOAWAY speaks about client-initiated streams: those above it were never processed.
          if (state.dir !== 'in') return;
          for (const stream of [...this.streams.values()]) {
            if (stream.id > lastStreamId) this.finish(stream, 'goaway', frame.endTsMs);
          }
          return;
        }
        case FrameType.PING:
          parsePing(frame);
          return;
        case FrameType.WINDOW_UPDATE:
          parseWindowUpdate(frame);
          return;
        case FrameType.PRIORITY:
          parsePriority(frame);
          return;
        default:
        // Unknown frame types are ignored (RFC 9113 4.1).
      }
    } catch (err) {
      if (!(err instanceof Http2FrameError)) throw err;
      this.countMalformedFrame(frame, err);
    }
  }

  /** A peer's SETTINGS bound what the other direction may send: its HPACK table and frame sizes. */
  private applySettings(state: DirectionState, frame: Http2Frame): void {
    const other = this.directions[state.dir === 'out' ? 'in' : 'out'];
    for (const { id, value } of parseSettings(frame)) {
      if (id === SettingId.HEADER_TABLE_SIZE) other.hpack.allowTableSize(value);
      else if (id === SettingId.MAX_FRAME_SIZE) other.reader.allowFrameSize(value);
    }
  }

  private appendBody(body: BodyCollector, data: Buffer): void {
    const limit = MAX_HELD_BODIES_PER_CONNECTION * this.options.limits.maxBodyBytes;
    const room = limit - this.heldBodyBytes;
    if (data.length > room && !this.heldBodyLimitReported) {
      this.heldBodyLimitReported = true;
      this.report(`h2: open streams of ${this.ctx.conn} hold ${limit} body bytes (${MAX_HELD_BODIES_PER_CONNECTION} bodies of limits.maxBodyBytes); further body bytes are dropped and those bodies marked truncated until streams finish`);
    }
    this.heldBodyBytes += body.append(data, room);
  }

  private countMalformedFrame(frame: Http2Frame, err: unknown): void {
    this.options.stats.malformed += FRAME_HEADER_LENGTH + frame.payload.length;
    this.report(`h2: skipped a malformed frame on stream ${frame.streamId} of ${this.ctx.conn}: ${errorMessage(err)}`);
  }

  private finish(stream: StreamState, reason: FinishReason, tsMs: number): void {
    this.streams.delete(stream.id);
    this.heldBodyBytes -= stream.request.body.length + (stream.response?.body.length ?? 0);
    if (!stream.interesting) return;
    const exchange: HttpExchange = {
      connection: this.ctx,
      protocol: 'h2',
      streamId: stream.id,
      request: this.buildRequest(stream),
    };
    if (stream.response !== undefined) exchange.response = this.buildResponse(stream, stream.response, reason, tsMs);
    this.options.stats.exchanges++;
    try {
      this.options.onExchange(exchange);
    } catch (err) {
      this.report(`h2: onExchange threw for stream ${stream.id} of ${this.ctx.conn}: ${errorMessage(err)}`);
    }
  }

  private buildRequest(stream: StreamState): HttpRequest {
    const request = stream.request;
    const cut = !request.ended || request.body.cutAtLimit || stream.requestBodyDamaged;
    const body = this.decodeBody(request.body.bytes(), request.head.headers, cut);
    if (body.truncated) this.options.stats.bodiesTruncated++;
    return {
      method: request.head.method,
      path: request.head.path,
      authority: request.head.authority,
      headers: request.head.headers,
      body: body.body,
      bodyTruncated: body.truncated,
      startTsMs: request.startTsMs,
      endTsMs: request.endTsMs,
    };
  }

  private buildResponse(stream: StreamState, response: ResponseState, reason: FinishReason, tsMs: number): HttpResponse {
    const complete = reason === 'complete' && response.ended;
    const cut = !complete || response.body.cutAtLimit || stream.responseBodyDamaged;
    const body = this.decodeBody(response.body.bytes(), response.headers, cut);
    if (body.truncated) this.options.stats.bodiesTruncated++;
    const result: HttpResponse = {
      status: response.status,
      headers: response.headers,
      body: body.body,
      bodyTruncated: body.truncated,
      startTsMs: response.startTsMs,
      endTsMs: complete ? response.endTsMs : Math.max(response.endTsMs, tsMs),
      complete,
    };
    if (response.firstBodyByteTsMs !== undefined) result.firstBodyByteTsMs = response.firstBodyByteTsMs;
    return result;
  }

  private decodeBody(raw: Buffer, headers: HeaderMap, inputTruncated: boolean): { body: Buffer; truncated: boolean } {
    const decoded = decodeContentEncoding(raw, headers['content-encoding'], {
      maxDecompressedBytes: this.options.limits.maxDecompressedBytes,
      stats: this.options.stats,
      inputTruncated,
    });
    if (decoded.reason !== undefined) this.report(`h2: ${this.ctx.conn}: ${decoded.reason}`);
    return { body: decoded.body, truncated: decoded.truncated || inputTruncated };
  }

  private report(reason: string): void {
    try {
      this.options.onError?.(reason);
    } catch {
      // A failing error sink must not take the decoder down with it.
    }
  }
}

