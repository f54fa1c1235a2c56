/** The TypeScript mirror of the BPF record layout must match the C header byte for byte. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CAPTURE_COUNTERS,
  ConnectionVerdict,
  GO_CONN_LAYOUT,
  GO_CONN_LAYOUTS_MAX,
  GO_COOKIE_LAYOUT_MASK,
  GO_COOKIE_SPILLED,
  PROCESS_EVENT,
  TLS_CHUNK_BYTES,
  TLS_EVENT,
  TlsEventFlag,
  TlsEventKind,
  ProcessEventKind,
  PeerFamily,
  type TlsCaptureConstants,
} from '../../sensor/capture/event-layout';

const HEADER = path.resolve(__dirname, '../../bpf/src/sightline_events.h');

/** Compiles a tiny C program against the header and returns what it prints: the compiler's own offsets. */
function layoutFromC(): Record<string, number> {
  const fields: Array<[string, string]> = [
    ['tls.timestampNs', 'offsetof(struct tls_event, timestamp_ns)'],
    ['tls.connectionId', 'offsetof(struct tls_event, connection_id)'],
    ['tls.cgroupId', 'offsetof(struct tls_event, cgroup_id)'],
    ['tls.pid', 'offsetof(struct tls_event, pid)'],
    ['tls.tid', 'offsetof(struct tls_event, tid)'],
    ['tls.callBytes', 'offsetof(struct tls_event, call_bytes)'],
    ['tls.chunkOffset', 'offsetof(struct tls_event, chunk_offset)'],
    ['tls.dataBytes', 'offsetof(struct tls_event, data_bytes)'],
    ['tls.lostBeforeBytes', 'offsetof(struct tls_event, lost_before_bytes)'],
    ['tls.truncatedBytes', 'offsetof(struct tls_event, truncated_bytes)'],
    ['tls.fd', 'offsetof(struct tls_event, fd)'],
    ['tls.kind', 'offsetof(struct tls_event, kind)'],
    ['tls.direction', 'offsetof(struct tls_event, direction)'],
    ['tls.flags', 'offsetof(struct tls_event, flags)'],
    ['flag.streamStart', 'TLS_FLAG_STREAM_START'],
    ['tls.peerPort', 'offsetof(struct tls_event, peer_port)'],
    ['tls.peerFamily', 'offsetof(struct tls_event, peer_family)'],
    ['tls.peerAddr', 'offsetof(struct tls_event, peer_addr)'],
    ['tls.peerAddrBytes', 'sizeof(((struct tls_event *)0)->peer_addr)'],
    ['family.ipv4', 'PEER_FAMILY_IPV4'],
    ['family.ipv6', 'PEER_FAMILY_IPV6'],
    ['tls.comm', 'offsetof(struct tls_event, comm)'],
    ['tls.commBytes', 'sizeof(((struct tls_event *)0)->comm)'],
    ['tls.data', 'offsetof(struct tls_event, data)'],
    ['tls.size', 'sizeof(struct tls_event)'],
    ['tls.headerBytes', 'TLS_EVENT_HEADER_BYTES'],
    ['chunkBytes', 'TLS_CHUNK_BYTES'],
    ['kind.data', 'TLS_EVENT_DATA'],
    ['kind.close', 'TLS_EVENT_CLOSE'],
    ['kind.processExit', 'TLS_EVENT_PROCESS_EXIT'],
    ['process.timestampNs', 'offsetof(struct process_event, timestamp_ns)'],
    ['process.cgroupId', 'offsetof(struct process_event, cgroup_id)'],
    ['process.pid', 'offsetof(struct process_event, pid)'],
    ['process.kind', 'offsetof(struct process_event, kind)'],
    ['process.comm', 'offsetof(struct process_event, comm)'],
    ['process.filename', 'offsetof(struct process_event, filename)'],
    ['process.filenameBytes', 'sizeof(((struct process_event *)0)->filename)'],
    ['process.size', 'sizeof(struct process_event)'],
    ['process.exec', 'PROCESS_EVENT_EXEC'],
    ['counters', 'COUNTER_MAX'],
    ['counter.mutedCalls', 'COUNTER_MUTED_CALLS'],
    ['counter.verdictsPending', 'COUNTER_VERDICT_PENDING'],
    ['counter.verdictsMute', 'COUNTER_VERDICT_MUTE'],
    ['verdict.undecided', 'VERDICT_UNDECIDED'],
    ['verdict.pending', 'VERDICT_PENDING'],
    ['verdict.follow', 'VERDICT_FOLLOW'],
    ['verdict.watch', 'VERDICT_WATCH'],
    ['verdict.mute', 'VERDICT_MUTE'],
    ['connectionKey.size', 'sizeof(struct connection_key)'],
    ['go.known', 'offsetof(struct go_conn_layout, known)'],
    ['go.connData', 'offsetof(struct go_conn_layout, conn_data)'],
    ['go.netfd', 'offsetof(struct go_conn_layout, netfd)'],
    ['go.sysfd', 'offsetof(struct go_conn_layout, sysfd)'],
    ['go.family', 'offsetof(struct go_conn_layout, family)'],
    ['go.sotype', 'offsetof(struct go_conn_layout, sotype)'],
    ['go.size', 'sizeof(struct go_conn_layout)'],
    ['go.layoutsMax', 'GO_CONN_LAYOUTS_MAX'],
    ['go.cookieLayoutMask', 'GO_COOKIE_LAYOUT_MASK'],
    ['go.cookieSpilled', 'GO_COOKIE_SPILLED'],
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-layout-'));
  const source = [
    '#include <stdio.h>',
    '#include <stddef.h>',
    `#include "${HEADER}"`,
    'int main(void) {',
    ...fields.map(([name, expr]) => `  printf("%s=%lu\\n", "${name}", (unsigned long)(${expr}));`),
    '  return 0;',
    '}',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'layout.c'), source);
  execFileSync('cc', ['-o', path.join(dir, 'layout'), path.join(dir, 'layout.c')]);
  const output = execFileSync(path.join(dir, 'layout'), { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  return Object.fromEntries(output.trim().split('\n').map((line) => {
    const [name, value] = line.split('=');
    return [name, Number(value)];
  }));
}

test('event-layout.ts matches bpf/src/sightline_events.h', () => {
  const c = layoutFromC();
  const { commBytes, size, ...tlsOffsets } = TLS_EVENT;
  for (const [field, offset] of Object.entries(tlsOffsets)) expect([field, c[`tls.${field}`]]).toEqual([field, offset]);
  expect(c['tls.commBytes']).toBe(commBytes);
  expect(c['tls.size']).toBe(size);
  expect(c['tls.headerBytes']).toBe(TLS_EVENT.data);
  expect(c.chunkBytes).toBe(TLS_CHUNK_BYTES);
  expect(c['kind.data']).toBe(TlsEventKind.data);
  expect(c['kind.close']).toBe(TlsEventKind.close);
  expect(c['kind.processExit']).toBe(TlsEventKind.processExit);
  expect(c['tls.peerAddrBytes']).toBe(16);
  expect(c['family.ipv4']).toBe(PeerFamily.ipv4);
  expect(c['family.ipv6']).toBe(PeerFamily.ipv6);

  const { commBytes: pComm, filenameBytes, size: pSize, ...processOffsets } = PROCESS_EVENT;
  for (const [field, offset] of Object.entries(processOffsets)) expect([field, c[`process.${field}`]]).toEqual([field, offset]);
  expect(pComm).toBe(c['tls.commBytes']);
  expect(c['process.filenameBytes']).toBe(filenameBytes);
  expect(c['process.size']).toBe(pSize);
  expect(c['process.exec']).toBe(ProcessEventKind.exec);

  expect(c['flag.streamStart']).toBe(TlsEventFlag.streamStart);
  expect(c.counters).toBe(CAPTURE_COUNTERS.length);
  expect(c['counter.mutedCalls']).toBe(CAPTURE_COUNTERS.indexOf('mutedCalls'));
  expect(c['counter.verdictsPending']).toBe(CAPTURE_COUNTERS.indexOf('verdictsPending'));
  expect(c['counter.verdictsMute']).toBe(CAPTURE_COUNTERS.indexOf('verdictsMute'));
  for (const [name, value] of Object.entries(ConnectionVerdict)) expect([name, c[`verdict.${name}`]]).toEqual([name, value]);
  expect(c['connectionKey.size']).toBe(16);
  for (const [field, offset] of Object.entries(GO_CONN_LAYOUT)) expect([field, c[`go.${field}`]]).toEqual([field, offset]);
  expect(c['go.layoutsMax']).toBe(GO_CONN_LAYOUTS_MAX);
  expect(c['go.cookieLayoutMask']).toBe(GO_COOKIE_LAYOUT_MASK);
  expect(c['go.cookieSpilled']).toBe(GO_COOKIE_SPILLED);
  expect(GO_CONN_LAYOUTS_MAX - 1).toBeLessThanOrEqual(GO_COOKIE_LAYOUT_MASK);
});

test('the load-time constants TypeScript sets exist in the compiled program, as 32-bit globals', () => {
  const object = path.resolve(__dirname, '../../bpf/build/tls_capture.bpf.o');
  const btf = execFileSync('bpftool', ['btf', 'dump', 'file', object], { encoding: 'utf8' });
  // Every key of TlsCaptureConstants, checked by the compiler: a constant added on one side only fails here.
  const every: Record<keyof TlsCaptureConstants, true> = { sensor_pid: true, max_call_bytes: true, judge_connections: true, undecided_budget_bytes: true, wakeup_pending_bytes: true };
  const names = Object.keys(every);
  for (const name of names) expect([name, new RegExp(`VAR '${name}' type_id=\\d+, linkage=global`).test(btf)]).toEqual([name, true]);
});
