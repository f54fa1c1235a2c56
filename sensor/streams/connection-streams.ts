/**
 * The streams stage: routes each captured buffer to its connection's HTTP decoder, in capture order, turning the
 * capture stage's loss reports into decoder gaps, and ends connections on close, process exit or idleness.
 */
import type { CaptureEvent, ConnectionClosed } from '../capture/capture-event';
import type { ConnectionDecoder, HttpDecoderOptions } from '../http/connection-decoder';
import type { ConnectionContext } from '../http/http-exchange';
import { createConnectionDecoder } from '../http/protocol-detect';
import type { ConnectionJudge } from './connection-verdicts';

export interface ConnectionStreamsOptions {
  decoder: HttpDecoderOptions;
  idleTimeoutMs: number;
  maxConnections: number;
  /** Called once per new connection, e.g. to read the process's context while it still runs. */
  onConnectionOpened?: (context: ConnectionContext) => void;
  /** Judges the connections the kernel leaves to user space (HTTP/2); without one, nothing is judged. */
  judge?: ConnectionJudge;
}

export interface StreamStats {
  connectionsOpened: number;
  connectionsClosed: number;
  /** Connections ended because they were idle too long or the table was full. */
  connectionsEvicted: number;
  /** Gaps reported by capture (ring buffer full, or beyond the per-call limit), and the bytes in them. */
  gaps: number;
  gapBytes: number;
  /** Times the kernel skipped bytes of a connection (HTTP/1.1 between LLM requests) and decoding started afresh. */
  streamRestarts: number;
}

interface ConnectionStream {
  context: ConnectionContext;
  decoder: ConnectionDecoder;
  lastActivityMs: number;
}

export class ConnectionStreams {
  /** Map iteration order is insertion order; re-inserting on activity keeps the least recently active first. */
  private readonly streams = new Map<number, ConnectionStream>();
  readonly stats: StreamStats = { connectionsOpened: 0, connectionsClosed: 0, connectionsEvicted: 0, gaps: 0, gapBytes: 0, streamRestarts: 0 };
  private readonly decoderOptions: HttpDecoderOptions;

  constructor(private readonly options: ConnectionStreamsOptions) {
    const { decoder, judge } = options;
    this.decoderOptions = !judge
      ? decoder
      : {
          ...decoder,
          onRequestHead: (connection, protocol, head, interesting) => {
            judge.requestHead(connection, protocol, head, interesting);
            decoder.onRequestHead?.(connection, protocol, head, interesting);
          },
          onUndecodable: (connection, reason) => {
            judge.undecodable(connection, reason);
            decoder.onUndecodable?.(connection, reason);
          },
        };
  }

  push(event: CaptureEvent): void {
    let stream = this.streams.get(event.connectionId);
    if (stream) {
      this.streams.delete(event.connectionId);
      if (event.streamStart) {
        // The kernel skipped this connection's bytes since the last event: what the decoder holds is finished.
        this.stats.streamRestarts++;
        stream.decoder.end(event.tsMs, 'evicted');
        stream.decoder = createConnectionDecoder(stream.context, this.decoderOptions);
      }
    } else {
      if (this.streams.size >= this.options.maxConnections) this.evictOldest(event.tsMs);
      const context: ConnectionContext = {
        conn: event.conn,
        connectionId: event.connectionId,
        pid: event.pid,
        tid: event.tid,
        comm: event.comm,
        cgroupId: event.cgroupId,
        fd: event.fd,
        peer: event.peer,
      };
      stream = { context, decoder: createConnectionDecoder(context, this.decoderOptions), lastActivityMs: event.tsMs };
      this.stats.connectionsOpened++;
      this.options.onConnectionOpened?.(context);
    }
    stream.lastActivityMs = event.tsMs;
    this.streams.set(event.connectionId, stream);

    if (event.lostBeforeBytes > 0) this.gap(stream, event, event.lostBeforeBytes);
    stream.decoder.push(event.dir, event.data, event.tsMs);
    if (event.truncatedBytes > 0) this.gap(stream, event, event.truncatedBytes);
  }

  close(closed: ConnectionClosed): void {
    this.options.judge?.forget(closed.connectionId);
    const stream = this.streams.get(closed.connectionId);
    if (!stream) return;
    this.streams.delete(closed.connectionId);
    this.stats.connectionsClosed++;
    stream.decoder.end(closed.tsMs, 'closed');
  }

  /** Ends connections idle for longer than the timeout; call it periodically. */
  sweep(nowMs: number): void {
    for (const [conn, stream] of this.streams) {
      if (nowMs - stream.lastActivityMs < this.options.idleTimeoutMs) break;
      this.streams.delete(conn);
      this.options.judge?.forget(conn);
      this.stats.connectionsEvicted++;
      stream.decoder.end(nowMs, 'evicted');
    }
  }

  /** Ends every connection (shutdown), flushing what each holds; none of them was seen to close. */
  endAll(nowMs: number): void {
    for (const stream of this.streams.values()) stream.decoder.end(nowMs, 'shutdown');
    this.stats.connectionsClosed += this.streams.size;
    this.streams.clear();
  }

  get openConnections(): number {
    return this.streams.size;
  }

  private gap(stream: ConnectionStream, event: CaptureEvent, bytes: number): void {
    this.stats.gaps++;
    this.stats.gapBytes += bytes;
    stream.decoder.gap(event.dir, bytes, event.tsMs);
  }

  private evictOldest(nowMs: number): void {
    const oldest = this.streams.entries().next();
    if (oldest.done) return;
    const [conn, stream] = oldest.value;
    this.streams.delete(conn);
    this.options.judge?.forget(conn);
    this.stats.connectionsEvicted++;
    stream.decoder.end(nowMs, 'evicted');
  }
}
