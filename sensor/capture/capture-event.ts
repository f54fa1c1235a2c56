/** One captured TLS plaintext buffer (or a piece of one), as the capture stage hands it to the streams stage. */
export type Direction = 'out' | 'in';

export interface SocketPeer {
  /** IPv4 dotted or IPv6 in RFC 5952 form; an IPv4-mapped IPv6 address is given as IPv4. */
  address: string;
  port: number;
}

export interface CaptureEvent {
  /** Wall-clock time of the SSL call's return, in Unix epoch milliseconds (microsecond precision). */
  tsMs: number;
  pid: number;
  tid: number;
  comm: string;
  /** Stable for the life of one TLS connection, unique across the sensor's lifetime (`pid-connectionId`). */
  conn: string;
  /** The kernel's number for the connection, unique while the capture runs: the key user-space verdicts use. */
  connectionId: number;
  /** `out`: the process wrote these bytes (SSL_write); `in`: it read them (SSL_read). */
  dir: Direction;
  data: Buffer;
  cgroupId: bigint;
  /** Socket fd when the kernel side could resolve it, else -1. */
  fd: number;
  /** The socket's remote end, when the kernel side could resolve it (clients that call SSL_set_fd). */
  peer?: SocketPeer;
  /** Bytes of this connection and direction lost just before `data` (the ring buffer was full): a gap. */
  lostBeforeBytes: number;
  /** Bytes of the SSL call beyond the capture limit, lost just after `data`: a gap. */
  truncatedBytes: number;
  /**
   * The kernel skipped bytes of this connection before this event (an HTTP/1.1 connection between LLM requests)
   * and a new request starts here: decode afresh.
   */
  streamStart: boolean;
}

/** The end of a TLS connection (SSL_free) or of its process. */
export interface ConnectionClosed {
  conn: string;
  connectionId: number;
  pid: number;
  tsMs: number;
}
