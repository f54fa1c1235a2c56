/**
 * The TypeScript mirror of bpf/src/sightline_events.h: byte offsets of the records on the BPF ring buffers.
 * test/capture/event-layout.test.ts compiles the header and fails on any drift.
 */

export const TLS_CHUNK_BYTES = 16384;

export const TlsEventKind = { data: 1, close: 2, processExit: 3 } as const;
export const TlsDirection = { out: 0, in: 1 } as const;

/** TLS_FLAG_* bits of `tls_event.flags`. */
export const TlsEventFlag = { streamStart: 1 } as const;

export const TLS_EVENT = {
  timestampNs: 0,
  connectionId: 8,
  cgroupId: 16,
  pid: 24,
  tid: 28,
  callBytes: 32,
  chunkOffset: 36,
  dataBytes: 40,
  lostBeforeBytes: 44,
  truncatedBytes: 48,
  fd: 52,
  kind: 56,
  direction: 57,
  flags: 58,
  peerPort: 60,
  peerFamily: 62,
  comm: 64,
  commBytes: 16,
  peerAddr: 80,
  data: 96,
  /** sizeof(struct tls_event) */
  size: 96 + TLS_CHUNK_BYTES,
} as const;

/** PEER_FAMILY_* */
export const PeerFamily = { ipv4: 2, ipv6: 10 } as const;

export const ProcessEventKind = { exec: 1 } as const;

export const PROCESS_EVENT = {
  timestampNs: 0,
  cgroupId: 8,
  pid: 16,
  kind: 20,
  comm: 24,
  commBytes: 16,
  filename: 40,
  filenameBytes: 256,
  size: 296,
} as const;

/** Index of each slot in the per-CPU `capture_counters` map (enum capture_counter). */
export const CAPTURE_COUNTERS = [
  'calls',
  'events',
  'bytes',
  'droppedEvents',
  'droppedBytes',
  'truncatedBytes',
  'readErrors',
  'mutedCalls',
  'mutedBytes',
  'budgetExhausted',
  'verdictsPending',
  'verdictsFollow',
  'verdictsWatch',
  'verdictsMute',
] as const;
export type CaptureCounterName = (typeof CAPTURE_COUNTERS)[number];

/** enum connection_verdict: what the kernel does with a connection's bytes. */
export const ConnectionVerdict = { undecided: 0, pending: 1, follow: 2, watch: 3, mute: 4 } as const;

/** Load-time constants of tls_capture.bpf.c (`const volatile` globals in .rodata), by name. */
export interface TlsCaptureConstants {
  sensor_pid: number;
  max_call_bytes: number;
  judge_connections: number;
  undecided_budget_bytes: number;
  /** Bytes waiting in the ring before BPF wakes the consumer (records of connections being judged wake it at once). */
  wakeup_pending_bytes: number;
}

/** struct go_conn_layout: a row of the `go_conn_layouts` array, offsets of the socket behind a Go *tls.Conn. */
export const GO_CONN_LAYOUT = {
  known: 0,
  connData: 4,
  netfd: 8,
  sysfd: 12,
  family: 16,
  sotype: 20,
  size: 24,
} as const;

/** GO_CONN_LAYOUTS_MAX: rows of the `go_conn_layouts` array (row 0 stays empty: Go versions without a layout). */
export const GO_CONN_LAYOUTS_MAX = 16;

/** GO_COOKIE_LAYOUT_MASK / GO_COOKIE_SPILLED: a Go probe's attach cookie is its layout row, plus this flag on Read's RETs. */
export const GO_COOKIE_LAYOUT_MASK = 0xffff;
export const GO_COOKIE_SPILLED = 0x10000;
/** GO_COOKIE_CHECK_RSP / GO_COOKIE_CHECK_R12: the probe sits on the stack check's JBE, which compares this register. */
export const GO_COOKIE_CHECK_RSP = 0x20000;
export const GO_COOKIE_CHECK_R12 = 0x40000;

/** Reads a NUL-terminated C string out of a fixed-size field. */
export function readCString(buffer: Buffer, start: number, length: number): string {
  const end = buffer.indexOf(0, start);
  const stop = end === -1 || end > start + length ? start + length : end;
  return buffer.toString('utf8', start, stop);
}
