/**
 * Attaches the TLS programs of the capture object to a file: bpf/src/tls_capture.bpf.c to its OpenSSL functions,
 * bpf/src/go_tls_capture.bpf.c to its Go crypto/tls methods.
 */
import type { NativeBpfObject } from './bpf-addon';
import { GO_COOKIE_SPILLED } from './event-layout';
import type { GoTlsProbes } from './go-executable';
import type { TlsFunction, TlsLibraryFile } from './tls-library-discovery';

interface ProbeSpec {
  fn: TlsFunction;
  entry: string;
  ret?: string;
}

const PROBES: ProbeSpec[] = [
  { fn: 'SSL_write', entry: 'ssl_write_entry', ret: 'ssl_write_return' },
  { fn: 'SSL_write_ex', entry: 'ssl_write_ex_entry', ret: 'ssl_write_ex_return' },
  { fn: 'SSL_read', entry: 'ssl_read_entry', ret: 'ssl_read_return' },
  { fn: 'SSL_read_ex', entry: 'ssl_read_ex_entry', ret: 'ssl_read_ex_return' },
  { fn: 'SSL_free', entry: 'ssl_free_entry' },
  { fn: 'SSL_set_fd', entry: 'ssl_set_fd_entry' },
];

export interface AttachedFile {
  file: TlsLibraryFile;
  linkIds: number[];
}

/** Attaches every probe the file has a function for; on any failure detaches what it attached and throws. */
export function attachTlsProbes(bpf: NativeBpfObject, file: TlsLibraryFile): AttachedFile {
  const linkIds: number[] = [];
  try {
    for (const probe of PROBES) {
      const offset = file.offsets[probe.fn];
      if (offset === undefined) continue;
      linkIds.push(bpf.attachUprobe(probe.entry, file.attachPath, offset, false));
      if (probe.ret) linkIds.push(bpf.attachUprobe(probe.ret, file.attachPath, offset, true));
    }
    if (file.go) attachGoProbes(bpf, file.attachPath, file.go, linkIds);
  } catch (error) {
    for (const id of linkIds) bpf.detach(id);
    throw new Error(`cannot attach TLS probes to ${file.displayPath}: ${(error as Error).message}`);
  }
  return { file, linkIds };
}

/**
 * Plain uprobes only (no uretprobe may touch Go code), each carrying the row of the executable's Go struct layout in
 * its cookie, and Read's returns whether Read's arguments can be found in their spill slots (GO_COOKIE_SPILLED).
 * Read's returns go first: a Read whose entry fired always finds its return probes in place.
 */
function attachGoProbes(bpf: NativeBpfObject, attachPath: string, go: GoTlsProbes, linkIds: number[]): void {
  const attach = (program: string, offset: number, cookie = go.connLayoutRow) => linkIds.push(bpf.attachUprobe(program, attachPath, offset, false, cookie));
  for (const offset of go.readReturns) attach('go_tls_read_return', offset, go.connLayoutRow | (go.readArgumentsSpilled ? GO_COOKIE_SPILLED : 0));
  attach('go_tls_read', go.readBody);
  attach('go_tls_write', go.writeBody);
  if (go.closeBody !== undefined) attach('go_tls_close', go.closeBody);
}
