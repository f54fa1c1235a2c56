/**
 * Where each Go release keeps the socket behind a *tls.Conn, so the Go probes can resolve a connection's peer
 * (bpf/src/go_tls_capture.bpf.c, learn_socket). Offsets by version: a Go release newer than the last row checked gets
 * no struct reads at all (its connections are captured the same, with the peer left unknown) until someone reads its
 * sources and adds a row. Capturing the bytes needs no Go struct: arguments come in registers, and the only runtime
 * field read, the goroutine's stack bounds, is at the start of runtime.g in every release (compiled prologues depend
 * on it).
 *
 * The row below was read from the sources of Go 1.19 (Debian's golang-1.19, on which the tests run):
 * crypto/tls.Conn starts with `conn net.Conn` (an interface: type word, then data word); net.TCPConn embeds
 * net.conn{fd *netFD}; netFD starts with pfd poll.FD, whose fdMutex (16 bytes) precedes `Sysfd int`; poll.FD is
 * 56 bytes on 64-bit targets, then netFD.family and netFD.sotype. poll.FD of later releases (SysFile in place of the
 * iovecs pointer, the same size) keeps these offsets; releases up to 1.25 are assumed unchanged. The BPF side checks
 * what it reads (a TCP stream of IPv4 or IPv6 whose fd is a connected socket of the process), so a layout that did
 * change leaves the peer unknown rather than wrong.
 */
import { GO_CONN_LAYOUT, GO_CONN_LAYOUTS_MAX } from './event-layout';
import type { GoVersion } from './go-build-info';

export interface GoConnLayout {
  connData: number;
  netfd: number;
  sysfd: number;
  family: number;
  sotype: number;
}

interface LayoutRow {
  /** Inclusive range of minor versions of Go 1.x. */
  fromMinor: number;
  toMinor: number;
  layout: GoConnLayout;
}

/** Row i of the BPF array is GO_CONN_LAYOUT_ROWS[i - 1]; row 0 means "no layout". */
export const GO_CONN_LAYOUT_ROWS: readonly LayoutRow[] = [{ fromMinor: 17, toMinor: 25, layout: { connData: 8, netfd: 0, sysfd: 16, family: 56, sotype: 64 } }];

if (GO_CONN_LAYOUT_ROWS.length >= GO_CONN_LAYOUTS_MAX) throw new Error('go-struct-layouts: more rows than the BPF array holds');

/** The BPF array row for a Go version (the uprobe cookie), or 0 when no row covers it. */
export function goConnLayoutRow(version: GoVersion): number {
  if (version.major !== 1) return 0;
  const index = GO_CONN_LAYOUT_ROWS.findIndex((row) => version.minor >= row.fromMinor && version.minor <= row.toMinor);
  return index + 1;
}

/** The value of row `row` of the `go_conn_layouts` map (struct go_conn_layout). */
export function encodeGoConnLayout(layout: GoConnLayout): Buffer {
  const value = Buffer.alloc(GO_CONN_LAYOUT.size);
  value.writeUInt32LE(1, GO_CONN_LAYOUT.known);
  value.writeUInt32LE(layout.connData, GO_CONN_LAYOUT.connData);
  value.writeUInt32LE(layout.netfd, GO_CONN_LAYOUT.netfd);
  value.writeUInt32LE(layout.sysfd, GO_CONN_LAYOUT.sysfd);
  value.writeUInt32LE(layout.family, GO_CONN_LAYOUT.family);
  value.writeUInt32LE(layout.sotype, GO_CONN_LAYOUT.sotype);
  return value;
}
