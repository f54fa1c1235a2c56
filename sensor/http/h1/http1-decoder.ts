/**
 * HTTP/1.1 decoding of one captured TLS connection: client requests (`out`) and server responses (`in`) are framed
 * independently and paired first-in first-out, which is what keep-alive and pipelining guarantee on the wire.
 */
import type { Direction } from '../../capture/capture-event';
import type { ConnectionDecoder, ConnectionEndReason, HttpDecoderOptions, RequestHead } from '../connection-decoder';
import { decodeContentEncoding } from '../content-encoding';
import { isAuthorityHeader, isCredentialHeader, stripCredentialAuthority, stripCredentialQuery } from '../credentials';
import type { ConnectionContext, HeaderMap, HttpExchange } from '../http-exchange';
import { type BodyFraming, MessageFramer, type MessageSink } from './message-framer';

/** Requests sent without any response seen yet; beyond this the oldest is flushed so memory stays bounded. */
const MAX_PENDING_EXCHANGES = 128;

const TOKEN_CHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIGITS = /^[0-9]+$/;
/** Field names longer than this (none a real client sends) are not remembered. */
const MAX_REMEMBERED_NAME_LENGTH = 128;

/**
 * A body that keeps at most `limit` bytes. A body that arrives whole in one captured chunk (most bodies of a known
 * length) is kept as a view of that chunk, with no copy; otherwise each captured byte is copied once.
 */
class BodyBuffer {
  private bytes: Buffer | null = null;
  private length = 0;
  /** The body is a view of the captured chunk it came in: `bytes` is not ours to grow. */
  private borrowed = false;
  truncated = false;

  constructor(
    private readonly limit: number,
    private readonly expectedLength: number | undefined,
  ) {}

  append(data: Buffer, start: number, end: number): void {
    if (this.truncated || end <= start) return;
    const room = this.limit - this.length;
    const count = Math.min(end - start, room);
    if (count < end - start) this.truncated = true;
    if (count <= 0) return;
    // The whole announced body in one chunk: keep the view (each capture event owns its bytes).
    if (this.bytes === null && count === this.expectedLength) {
      this.bytes = data.subarray(start, start + count);
      this.length = count;
      this.borrowed = true;
      return;
    }
    const needed = this.length + count;
    if (this.bytes === null || this.borrowed || needed > this.bytes.length) {
      // Start at the announced length (capped) so a Content-Length body is copied once; a false one costs at most 1 MiB.
      const initial = Math.min(this.limit, Math.max(needed, Math.min(this.expectedLength ?? 4096, 1024 * 1024)));
      const grown = Buffer.allocUnsafe(this.bytes === null ? initial : Math.min(this.limit, Math.max(needed, this.bytes.length * 2)));
      if (this.bytes !== null) this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
      this.borrowed = false;
    }
    data.copy(this.bytes, this.length, start, start + count);
    this.length = needed;
  }

  /** Capture lost bytes inside the body: only the clean prefix before the hole is kept. */
  markGap(): void {
    this.truncated = true;
  }

  take(): Buffer {
    if (this.bytes === null) return Buffer.alloc(0);
    // Copy out when over-allocated so a small body does not pin a large buffer.
    if (!this.borrowed && this.length < this.bytes.length / 2) return Buffer.from(this.bytes.subarray(0, this.length));
    return this.bytes.subarray(0, this.length);
  }
}

interface ResponseInProgress {
  status: number;
  headers: HeaderMap;
  body: BodyBuffer | null;
  startTsMs: number;
  firstBodyByteTsMs?: number;
  endTsMs: number;
  complete: boolean;
}

interface ExchangeInProgress {
  /** False when `isInteresting` declined it: framed, never buffered, never emitted. */
  interesting: boolean;
  head: RequestHead;
  requestBody: BodyBuffer | null;
  requestStartTsMs: number;
  requestEndTsMs: number;
  requestComplete: boolean;
  /** Set by the final (non-1xx) response head. */
  response?: ResponseInProgress;
}

interface ParsedHead {
  startLine: string;
  /**
   * Lower-case names; repeated fields joined with `, `. Only framing fields when headers were not wanted. Never a
   * credential field, and the `Host` field without user-info: they are dropped here, as they are read.
   */
  headers: HeaderMap;
}

/** What a field name is, by its raw spelling. */
interface FieldName {
  /** Lower-cased. */
  name: string;
  /** A credential field (`Authorization`, `x-api-key`, SigV4 parts, cookies): dropped as it is read. */
  credential: boolean;
  /** `Host`: its value is kept without user-info. */
  authority: boolean;
}

/** The field name, or null when it holds characters a field name may not. What a credential is, credentials.ts decides. */
function judgeFieldName(raw: string): FieldName | null {
  const name = raw.toLowerCase();
  return TOKEN_CHAR.test(name) ? { name, credential: isCredentialHeader(name), authority: isAuthorityHeader(name) } : null;
}

/**
 * Field names met before, by a hash of their raw spelling taken in place in the head's text, each confirmed against
 * the spelling it was stored with: the same few names come on every message, and a name seen before costs no string
 * cut from the line, hashed and compared again. A miss, or another name with the same hash, is judged afresh (and
 * replaces the entry); names a peer makes longer than any real one are judged each time.
 */
const knownFieldNames = new Map<number, { raw: string; field: FieldName }>();
const MAX_KNOWN_FIELD_NAMES = 1024;

function fieldNameAt(text: string, start: number, end: number): FieldName | null {
  let hash = 0;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  hash &= 0x3fffffff; // a small integer, which a Map hashes without a heap number
  const known = knownFieldNames.get(hash);
  if (known !== undefined && known.raw.length === end - start && text.startsWith(known.raw, start)) return known.field;
  const raw = text.slice(start, end);
  const field = judgeFieldName(raw);
  if (field !== null && raw.length <= MAX_REMEMBERED_NAME_LENGTH) {
    if (knownFieldNames.size >= MAX_KNOWN_FIELD_NAMES) knownFieldNames.clear();
    knownFieldNames.set(hash, { raw, field });
  }
  return field;
}

/** Where a line of the head ends without its CR, if it has one. */
function lineContentEnd(text: string, start: number, end: number): number {
  return end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
}

/** What String.prototype.trim removes, as far as a Latin-1 head can hold it: tab to CR, space, no-break space. */
function isTrimmed(code: number): boolean {
  return (code >= 9 && code <= 13) || code === 32 || code === 160;
}

/** `text.slice(start, end).trim()` with one string made instead of two. */
function trimmedSlice(text: string, start: number, end: number): string {
  while (start < end && isTrimmed(text.charCodeAt(start))) start++;
  while (end > start && isTrimmed(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/**
 * Splits a head into its start line and header fields. With `wantAllHeaders` false only the framing fields
 * are kept, which is all uninteresting traffic needs.
 */
function parseHead(bytes: Buffer, start: number, end: number, wantAllHeaders: boolean): ParsedHead | string {
  const text = bytes.toString('latin1', start, end);
  const headers: HeaderMap = {};
  let lastName: string | undefined;
  let lineEnd = text.indexOf('\n');
  if (lineEnd === -1) lineEnd = text.length;
  const startLine = text.slice(0, lineContentEnd(text, 0, lineEnd));
  // Lines are read by position in `text`: a string per line, per name and per untrimmed value was most of this
  // function's garbage.
  for (let lineStart = lineEnd + 1; lineStart < text.length; lineStart = lineEnd + 1) {
    lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const contentEnd = lineContentEnd(text, lineStart, lineEnd);
    if (contentEnd === lineStart) break;
    const first = text.charCodeAt(lineStart);
    if (first === 32 || first === 9) {
      // Obsolete line folding (RFC 9112 §5.2): a continuation of the previous field value.
      if (lastName === undefined) return 'header continuation line without a preceding field';
      if (Object.hasOwn(headers, lastName)) headers[lastName] = `${headers[lastName]} ${trimmedSlice(text, lineStart, contentEnd)}`;
      continue;
    }
    const colon = text.indexOf(':', lineStart);
    if (colon <= lineStart || colon >= contentEnd) return 'header line without a field name and colon';
    const field = fieldNameAt(text, lineStart, colon);
    if (field === null) return 'header field name contains invalid characters';
    const name = field.name;
    lastName = name;
    // A credential field is never kept; a continuation of one is dropped with it (it is not in `headers`).
    if (field.credential || (!wantAllHeaders && name !== 'content-length' && name !== 'transfer-encoding')) continue;
    let value = trimmedSlice(text, colon + 1, contentEnd);
    if (field.authority) value = stripCredentialAuthority(value);
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  }
  return { startLine, headers };
}

/** Whether the protocol of a start line is HTTP/1.0 or HTTP/1.1, where it runs from `start` to `end` in `line`. */
function isHttp1Version(line: string, start: number, end: number): boolean {
  return end - start === 8 && line.startsWith('HTTP/1.', start) && (line.charCodeAt(start + 7) === 0x30 || line.charCodeAt(start + 7) === 0x31);
}

/**
 * Method and target of a request line `method SP target SP HTTP/1.x` (RFC 9112 §3), undefined when malformed. Read by
 * position: splitting the line into an array of three strings was a noticeable part of reading a request head.
 */
function splitRequestLine(line: string): { method: string; target: string } | undefined {
  const firstSpace = line.indexOf(' ');
  const secondSpace = firstSpace < 0 ? -1 : line.indexOf(' ', firstSpace + 1);
  if (secondSpace < 0 || secondSpace === firstSpace + 1 || line.indexOf(' ', secondSpace + 1) >= 0) return undefined;
  if (!isHttp1Version(line, secondSpace + 1, line.length)) return undefined;
  const method = line.slice(0, firstSpace);
  return TOKEN_CHAR.test(method) ? { method, target: line.slice(firstSpace + 1, secondSpace) } : undefined;
}

/** The status code of a status line `HTTP/1.x SP 3DIGIT [SP reason]` (RFC 9112 §4), undefined when malformed. */
function statusOf(line: string): number | undefined {
  if (line.length < 12 || !isHttp1Version(line, 0, 8) || line.charCodeAt(8) !== 0x20) return undefined;
  // The reason phrase, if any, follows a space and holds no bare CR.
  if (line.length > 12 && (line.charCodeAt(12) !== 0x20 || line.indexOf('\r', 13) >= 0)) return undefined;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const digit = line.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    status = status * 10 + digit;
  }
  return status;
}

/** The body length a Content-Length field announces, undefined when absent, or an error when invalid. */
function contentLength(headers: HeaderMap): number | undefined | string {
  if (!Object.hasOwn(headers, 'content-length')) return undefined;
  const field = headers['content-length'];
  // The usual case, one plain number, without splitting.
  if (field.length <= 15 && DIGITS.test(field)) return Number(field);
  // Repeated identical values are allowed (RFC 9110 §8.6); differing ones make the framing ambiguous.
  const values = field.split(',').map((value) => value.trim());
  const first = values[0];
  if (!DIGITS.test(first) || first.length > 15 || values.some((value) => value !== first)) return 'invalid Content-Length';
  return Number(first);
}

function isChunked(transferEncoding: string): boolean {
  const codings = transferEncoding.split(',');
  return codings[codings.length - 1].trim().toLowerCase() === 'chunked';
}

/** Path and authority from a request target in origin-, absolute- or authority-form (RFC 9112 §3.2). */
function splitTarget(method: string, target: string, host: string | undefined): { path: string; authority: string } {
  if (method === 'CONNECT') return { path: '', authority: target };
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(target);
  if (scheme !== null) {
    const rest = target.slice(scheme[0].length);
    const slash = rest.search(/[/?]/);
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? '/' : rest.slice(slash);
    return { path: path.startsWith('?') ? `/${path}` : path, authority };
  }
  return { path: target, authority: host ?? '' };
}

export class Http1ConnectionDecoder implements ConnectionDecoder {
  private readonly requests: MessageFramer;
  private readonly responses: MessageFramer;
  /** Exchanges in request order; the front one is emitted once both its messages are done. */
  private readonly pending: ExchangeInProgress[] = [];
  /** The exchange whose request is being read. */
  private requestTarget: ExchangeInProgress | undefined;
  /** The exchange whose response is being read (set from the first head, interim or final). */
  private responseTarget: ExchangeInProgress | undefined;
  /**
   * Methods of requests flushed unanswered by evictOldestUnanswered, oldest first. Their responses still come,
   * in order, ahead of those of the pending requests; they are framed (HEAD's needs the method) and dropped.
   */
  private readonly evictedUnansweredMethods: string[] = [];
  /** Set by end() or by giving up: nothing more is decoded. */
  private finished = false;
  /** Set when input could not be decoded; later bytes count as malformed. */
  private gaveUp = false;
  /** Latest capture time seen, used when giving up from inside the framer. */
  private lastTsMs = 0;

  constructor(
    private readonly ctx: ConnectionContext,
    private readonly options: HttpDecoderOptions,
  ) {
    this.requests = new MessageFramer(this.requestSink(), options.limits);
    this.responses = new MessageFramer(this.responseSink(), options.limits);
  }

  push(dir: Direction, data: Buffer, tsMs: number): void {
    if (!this.finished && data.length > 0) {
      this.lastTsMs = Math.max(this.lastTsMs, tsMs);
      try {
        (dir === 'out' ? this.requests : this.responses).push(data, tsMs);
      } catch (err) {
        this.giveUp(`internal error while decoding HTTP/1.1: ${(err as Error).message}`, tsMs);
      }
    }
    // The push that failed is counted whole: where exactly framing broke inside it is not meaningful.
    if (this.gaveUp) this.options.stats.malformed += data.length;
  }

  gap(dir: Direction, lostBytes: number, tsMs: number): void {
    if (!this.finished) {
      this.lastTsMs = Math.max(this.lastTsMs, tsMs);
      try {
        const framer = dir === 'out' ? this.requests : this.responses;
        if (!Number.isSafeInteger(lostBytes) || lostBytes < 0) {
          this.giveUp(`capture gap of invalid size ${lostBytes}`, tsMs);
        } else if (!framer.gap(lostBytes, tsMs)) {
          this.giveUp(`capture gap of ${lostBytes} bytes in the ${dir === 'out' ? 'request' : 'response'} stream outside a body of known length`, tsMs);
        }
      } catch (err) {
        this.giveUp(`internal error while handling a capture gap: ${(err as Error).message}`, tsMs);
      }
    }
    if (this.gaveUp && Number.isSafeInteger(lostBytes) && lostBytes > 0) this.options.stats.malformed += lostBytes;
  }

  end(tsMs: number, reason: ConnectionEndReason): void {
    if (this.finished) return;
    try {
      // A body delimited by the connection close is complete exactly now, if the close was seen; an evicted
      // connection may still be sending it.
      if (reason === 'closed' && this.responses.readingUntilClose && this.responseTarget?.response !== undefined) {
        this.responseTarget.response.complete = true;
        this.responseTarget.response.endTsMs = tsMs;
      }
      this.flushAll(tsMs);
    } catch (err) {
      this.report(`internal error while ending the connection: ${(err as Error).message}`);
    }
    this.stopFraming();
  }

  private requestSink(): MessageSink {
    return {
      head: (bytes, start, end, firstByteTsMs, tsMs) => this.requestHead(bytes, start, end, firstByteTsMs, tsMs),
      bodyData: (data, start, end) => this.requestTarget?.requestBody?.append(data, start, end),
      bodyGap: () => this.requestTarget?.requestBody?.markGap(),
      trailers: (bytes, start, end) => {
        const target = this.requestTarget;
        if (target?.interesting) this.mergeTrailers(target.head.headers, bytes, start, end);
      },
      messageEnd: (tsMs) => {
        const target = this.requestTarget;
        if (target === undefined) return;
        target.requestComplete = true;
        target.requestEndTsMs = tsMs;
        this.requestTarget = undefined;
        this.emitFinished();
      },
      fail: (reason) => this.giveUp(`request stream: ${reason}`, undefined),
    };
  }

  private responseSink(): MessageSink {
    return {
      head: (bytes, start, end, firstByteTsMs) => this.responseHead(bytes, start, end, firstByteTsMs),
      bodyData: (data, start, end, tsMs) => {
        const response = this.responseTarget?.response;
        if (response === undefined || end <= start) return;
        response.firstBodyByteTsMs ??= tsMs;
        response.body?.append(data, start, end);
      },
      bodyGap: () => this.responseTarget?.response?.body?.markGap(),
      trailers: (bytes, start, end) => {
        const response = this.responseTarget?.response;
        if (this.responseTarget?.interesting && response !== undefined) this.mergeTrailers(response.headers, bytes, start, end);
      },
      messageEnd: (tsMs) => {
        const response = this.responseTarget?.response;
        if (response === undefined) return;
        response.complete = true;
        response.endTsMs = tsMs;
        this.responseTarget = undefined;
        this.emitFinished();
      },
      fail: (reason) => this.giveUp(`response stream: ${reason}`, undefined),
    };
  }

  private requestHead(bytes: Buffer, start: number, end: number, firstByteTsMs: number, tsMs: number): BodyFraming | string {
    const parsed = parseHead(bytes, start, end, true);
    if (typeof parsed === 'string') return `request head: ${parsed}`;
    const requestLine = splitRequestLine(parsed.startLine);
    if (requestLine === undefined) return 'malformed request line';
    const { method, target } = requestLine;
    const framing = this.requestFraming(parsed.headers);
    if (typeof framing === 'string') return `request head: ${framing}`;

    const { path, authority } = splitTarget(method, target, parsed.headers.host);
    const head: RequestHead = {
      method,
      path: stripCredentialQuery(path),
      authority: stripCredentialAuthority(authority),
      headers: parsed.headers,
    };
    let interesting = false;
    try {
      interesting = this.options.isInteresting(head);
    } catch (err) {
      this.report(`isInteresting threw; request treated as uninteresting: ${(err as Error).message}`);
    }
    if (!interesting) this.options.stats.ignoredExchanges++;
    this.options.onRequestHead?.(this.ctx, 'http/1.1', head, interesting);
    const expectedLength = framing.kind === 'length' ? framing.length : undefined;
    const exchange: ExchangeInProgress = {
      interesting,
      head,
      requestBody: interesting ? new BodyBuffer(this.options.limits.maxBodyBytes, expectedLength) : null,
      requestStartTsMs: firstByteTsMs,
      requestEndTsMs: tsMs,
      requestComplete: false,
    };
    this.pending.push(exchange);
    this.requestTarget = exchange;
    if (this.pending.length > MAX_PENDING_EXCHANGES) return this.evictOldestUnanswered(tsMs) ?? framing;
    return framing;
  }

  private requestFraming(headers: HeaderMap): BodyFraming | string {
    if (Object.hasOwn(headers, 'transfer-encoding')) {
      // A request body cannot run until close, so anything but final `chunked` is unframeable (RFC 9112 §6.3).
      return isChunked(headers['transfer-encoding']) ? { kind: 'chunked' } : 'Transfer-Encoding without final chunked';
    }
    const length = contentLength(headers);
    if (typeof length === 'string') return length;
    return length === undefined ? { kind: 'none' } : { kind: 'length', length };
  }

  private responseHead(bytes: Buffer, start: number, end: number, firstByteTsMs: number): BodyFraming | string {
    const target = this.responseTarget ?? this.nextEvictedPlaceholder() ?? this.pending.find((exchange) => exchange.response === undefined);
    if (target === undefined) return 'response without a pending request (capture may have started mid-connection)';
    this.responseTarget = target;

    const parsed = parseHead(bytes, start, end, target.interesting);
    if (typeof parsed === 'string') return `response head: ${parsed}`;
    const status = statusOf(parsed.startLine);
    if (status === undefined) return 'malformed status line';

    if (status >= 100 && status < 200 && status !== 101) return { kind: 'interim' };

    const framing = this.responseFraming(target.head.method, status, parsed.headers);
    if (typeof framing === 'string') return `response head: ${framing}`;
    // After 101 or a CONNECT tunnel the connection no longer carries HTTP/1.x in either direction.
    if (framing.kind === 'switch') this.requests.stop();
    const expectedLength = framing.kind === 'length' ? framing.length : undefined;
    target.response = {
      status,
      headers: target.interesting ? parsed.headers : {},
      body: target.interesting ? new BodyBuffer(this.options.limits.maxBodyBytes, expectedLength) : null,
      startTsMs: firstByteTsMs,
      endTsMs: firstByteTsMs,
      complete: false,
    };
    return framing;
  }

  /** Response body framing by RFC 9112 §6.3, which depends on the request method and the status. */
  private responseFraming(method: string, status: number, headers: HeaderMap): BodyFraming | string {
    if (status === 101 || (method === 'CONNECT' && status >= 200 && status < 300)) return { kind: 'switch' };
    if (method === 'HEAD' || status === 204 || status === 304) return { kind: 'none' };
    if (Object.hasOwn(headers, 'transfer-encoding')) {
      return isChunked(headers['transfer-encoding']) ? { kind: 'chunked' } : { kind: 'until-close' };
    }
    const length = contentLength(headers);
    if (typeof length === 'string') return length;
    return length === undefined ? { kind: 'until-close' } : { kind: 'length', length };
  }

  private mergeTrailers(headers: HeaderMap, bytes: Buffer, start: number, end: number): void {
    // The trailer section has no start line; a placeholder keeps parseHead's shape.
    const parsed = parseHead(Buffer.concat([Buffer.from('\r\n'), bytes.subarray(start, end)]), 0, end - start + 2, true);
    if (typeof parsed === 'string') {
      this.report(`trailer section ignored: ${parsed}`);
      return;
    }
    const trailers = parsed.headers;
    for (const name of Object.keys(trailers)) {
      headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${trailers[name]}` : trailers[name];
    }
  }

  /** Emits every exchange at the front whose request and response are both done, keeping request order. */
  private emitFinished(): void {
    while (this.pending.length > 0) {
      const front = this.pending[0];
      if (!front.requestComplete || front.response?.complete !== true) return;
      this.pending.shift();
      this.emit(front);
    }
  }

  /**
   * Flushes a request that never got a response, so a one-sided capture cannot grow the queue without bound.
   * Its response, if it comes, is skipped. Past MAX_PENDING_EXCHANGES such skips, pairing is hopeless: returns
   * why decoding must stop.
   */
  private evictOldestUnanswered(tsMs: number): string | undefined {
    const index = this.pending.findIndex((exchange) => exchange.response === undefined && exchange !== this.requestTarget);
    if (index < 0) return undefined;
    if (this.evictedUnansweredMethods.length >= MAX_PENDING_EXCHANGES) {
      return `more than ${2 * MAX_PENDING_EXCHANGES} requests without a response; responses can no longer be paired to requests`;
    }
    const [evicted] = this.pending.splice(index, 1);
    // An evicted exchange that had an interim response is still waiting for its final one, which is skipped too.
    if (evicted === this.responseTarget) this.responseTarget = undefined;
    this.evictedUnansweredMethods.push(evicted.head.method);
    this.report(`more than ${MAX_PENDING_EXCHANGES} requests without a response; flushing the oldest, its response will be skipped`);
    if (!evicted.requestComplete) evicted.requestEndTsMs = tsMs;
    this.emit(evicted);
    return undefined;
  }

  /** A stand-in for the oldest evicted request, which the next response answers: framed, never emitted. */
  private nextEvictedPlaceholder(): ExchangeInProgress | undefined {
    const method = this.evictedUnansweredMethods.shift();
    if (method === undefined) return undefined;
    return {
      interesting: false,
      head: { method, path: '', authority: '', headers: {} },
      requestBody: null,
      requestStartTsMs: 0,
      requestEndTsMs: 0,
      requestComplete: true,
    };
  }

  private flushAll(tsMs: number): void {
    const remaining = this.pending.splice(0, this.pending.length);
    this.requestTarget = undefined;
    this.responseTarget = undefined;
    for (const exchange of remaining) {
      if (!exchange.requestComplete) exchange.requestEndTsMs = tsMs;
      if (exchange.response !== undefined && !exchange.response.complete) exchange.response.endTsMs = tsMs;
      this.emit(exchange);
    }
  }

  private emit(exchange: ExchangeInProgress): void {
    if (!exchange.interesting) return;
    const { head } = exchange;
    const requestBody = this.decodeBody(exchange.requestBody, head.headers['content-encoding'], !exchange.requestComplete);
    const result: HttpExchange = {
      connection: this.ctx,
      protocol: 'http/1.1',
      request: {
        method: head.method,
        path: head.path,
        authority: head.authority,
        headers: head.headers,
        body: requestBody.body,
        bodyTruncated: requestBody.truncated,
        startTsMs: exchange.requestStartTsMs,
        endTsMs: exchange.requestEndTsMs,
      },
    };
    const response = exchange.response;
    if (response !== undefined) {
      const responseBody = this.decodeBody(response.body, response.headers['content-encoding'], !response.complete);
      result.response = {
        status: response.status,
        headers: response.headers,
        body: responseBody.body,
        bodyTruncated: responseBody.truncated,
        startTsMs: response.startTsMs,
        firstBodyByteTsMs: response.firstBodyByteTsMs,
        endTsMs: response.endTsMs,
        complete: response.complete,
      };
    }
    this.options.stats.exchanges++;
    try {
      this.options.onExchange(result);
    } catch (err) {
      this.report(`onExchange handler threw: ${(err as Error).message}`);
    }
  }

  private decodeBody(buffer: BodyBuffer | null, contentEncoding: string | undefined, incomplete: boolean): { body: Buffer; truncated: boolean } {
    if (buffer === null) return { body: Buffer.alloc(0), truncated: false };
    const captured = buffer.take();
    const capturedTruncated = buffer.truncated || incomplete;
    const decoded = decodeContentEncoding(captured, contentEncoding, {
      maxDecompressedBytes: this.options.limits.maxDecompressedBytes,
      stats: this.options.stats,
      inputTruncated: capturedTruncated,
    });
    if (decoded.reason !== undefined) this.report(decoded.reason);
    if (decoded.truncated) this.options.stats.bodiesTruncated++;
    return { body: decoded.body, truncated: decoded.truncated };
  }

  /** Malformed input or an unrecoverable gap: report it, flush what was decoded, and count the rest as malformed. */
  private giveUp(reason: string, tsMs: number | undefined): void {
    if (this.finished) return;
    this.gaveUp = true;
    this.report(reason);
    this.stopFraming();
    const endTsMs = tsMs ?? this.lastTsMs;
    try {
      this.flushAll(endTsMs);
    } catch (err) {
      this.report(`internal error while flushing after malformed input: ${(err as Error).message}`);
    }
  }

  private stopFraming(): void {
    this.finished = true;
    this.requests.stop();
    this.responses.stop();
  }

  private report(reason: string): void {
    try {
      this.options.onError?.(`${this.ctx.conn}: ${reason}`);
    } catch {
      // The error callback failing must not break decoding.
    }
  }
}
