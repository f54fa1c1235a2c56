/**
 * Attaches the TLS programs of the capture object to a file: bpf/src/tls_capture.bpf.c to its OpenSSL functions,
 * bpf/src/go_tls_capture.bpf.c to its Go crypto/tls methods.
 */
import type { NativeBpfObject } from './bpf-addon';
import { GO_COOKIE_CHECK_R12, GO_COOKIE_CHECK_RSP, GO_COOKIE_SPILLED } from './event-layout';
import type { GoCheckSite, GoTlsProbes } from './go-executable';
import type { TlsFunction, TlsLibraryFile } from './tls-library-discovery';

interface ProbeSpec {
  fn: TlsFunction;
  entry: string;
  ret?: string;
  /** The program doing both as a uprobe session, in tls_capture_session.bpf.o. */
  session?: string;
}

const PROBES: ProbeSpec[] = [
  { fn: 'SSL_write', entry: 'ssl_write_entry', ret: 'ssl_write_return', session: 'ssl_write_session' },
  { fn: 'SSL_write_ex', entry: 'ssl_write_ex_entry', ret: 'ssl_write_ex_return', session: 'ssl_write_ex_session' },
  { fn: 'SSL_read', entry: 'ssl_read_entry', ret: 'ssl_read_return', session: 'ssl_read_session' },
  { fn: 'SSL_read_ex', entry: 'ssl_read_ex_entry', ret: 'ssl_read_ex_return', session: 'ssl_read_ex_session' },
  { fn: 'SSL_free', entry: 'ssl_free_entry' },
  { fn: 'SSL_set_fd', entry: 'ssl_set_fd_entry' },
];

/** The programs the session object loads as uprobe sessions. */
export const SESSION_PROGRAMS = PROBES.flatMap((probe) => (probe.session ? [probe.session] : []));

/** How the OpenSSL read and write probes are attached: entry and return probes, or uprobe sessions. */
export type ProbeMode = 'entry-return' | 'session';

export interface AttachedFile {
  file: TlsLibraryFile;
  linkIds: number[];
}

/** Attaches every probe the file has a function for; on any failure detaches what it attached and throws. */
export function attachTlsProbes(bpf: NativeBpfObject, file: TlsLibraryFile, mode: ProbeMode = 'entry-return'): AttachedFile {
  const linkIds: number[] = [];
  const sites = file.probeSites ?? file.offsets;
  try {
    for (const probe of PROBES) {
      const offset = sites[probe.fn];
      if (offset === undefined) continue;
      if (mode === 'session' && probe.session) {
        linkIds.push(bpf.attachUprobeSession(probe.session, file.attachPath, offset));
        continue;
      }
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

/** One Go probe: its program, where it goes in the executable (file offset) and its attach cookie. */
export interface GoProbe {
  program: string;
  offset: number;
  cookie: number;
}

/**
 * The Go probes of an executable, in attach order. Plain uprobes only (no uretprobe may touch Go code), each
 * carrying the row of the executable's Go struct layout in its cookie, and Read's returns whether Read's arguments
 * can be found in their spill slots (GO_COOKIE_SPILLED). Read's returns go first: a Read whose entry fired always
 * finds its return probes in place. Entries sit on the stack check's JBE where there is one (an emulated jump, its
 * compared register in the cookie), else after the check (a single-stepped SUB RSP).
 */
export function goProbes(go: GoTlsProbes): GoProbe[] {
  const row = go.connLayoutRow;
  const entry = (program: string, body: number, check: GoCheckSite | undefined): GoProbe =>
    check ? { program, offset: check.offset, cookie: row | (check.register === 'rsp' ? GO_COOKIE_CHECK_RSP : GO_COOKIE_CHECK_R12) } : { program, offset: body, cookie: row };
  return [
    ...go.readReturns.map((offset) => ({ program: 'go_tls_read_return', offset, cookie: row | (go.readArgumentsSpilled ? GO_COOKIE_SPILLED : 0) })),
    entry('go_tls_read', go.readBody, go.checks?.read),
    entry('go_tls_write', go.writeBody, go.checks?.write),
    ...(go.closeBody === undefined ? [] : [entry('go_tls_close', go.closeBody, go.checks?.close)]),
  ];
}

function attachGoProbes(bpf: NativeBpfObject, attachPath: string, go: GoTlsProbes, linkIds: number[]): void {
  for (const probe of goProbes(go)) linkIds.push(bpf.attachUprobe(probe.program, attachPath, probe.offset, false, probe.cookie));
}
