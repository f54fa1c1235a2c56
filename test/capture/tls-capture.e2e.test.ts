/**
 * The capture core on this machine, for real: BPF loaded into the kernel, uprobes on the real OpenSSL in
 * libssl.so and in node, clients nobody here wrote. Nothing is mocked; if BPF cannot load, these tests fail
 * with libbpf's reason.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { CaptureHarness, type CapturedConnection } from '../support/capture-harness';
import { startRecordingTlsServer, type RecordedConnection, type RecordingTlsServer } from '../support/recording-tls-server';
import { NODE_CLIENT, PythonClient, curlPost, runProcess } from '../support/tls-clients';

const SIZES = [100, 64 * 1024, 4 * 1024 * 1024];

let workDir: string;
let certs: TestCertificates;
let server: RecordingTlsServer;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-capture-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  server = await startRecordingTlsServer(certs.certPath, certs.keyPath);
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

const concat = (chunks: Buffer[]) => Buffer.concat(chunks);

/** Every server-side connection in `serverSide` must appear, byte for byte, as one captured client connection. */
async function expectCapturedExactly(harness: CaptureHarness, pid: number, serverSide: RecordedConnection[]): Promise<CapturedConnection[]> {
  expect(serverSide.length).toBeGreaterThan(0);
  const matches = () =>
    serverSide.map((recorded) =>
      harness.connectionsOf(pid).find((c) => c.out.equals(concat(recorded.received)) && c.in.equals(concat(recorded.sent))),
    );
  try {
    await harness.waitFor(() => matches().every(Boolean), 15_000, `pid ${pid}'s connections`);
  } catch (error) {
    const seen = harness.connectionsOf(pid).map((c) => `${c.conn}: out ${c.out.length} B, in ${c.in.length} B`);
    const expected = serverSide.map((r) => `out ${concat(r.received).length} B, in ${concat(r.sent).length} B`);
    throw new Error(`${(error as Error).message}\nexpected: ${expected.join('; ')}\ncaptured: ${seen.join('; ') || 'nothing'}`);
  }
  return matches() as CapturedConnection[];
}

describe('TLS capture with real clients over loopback', () => {
  const harness = new CaptureHarness();
  let earlyPython: PythonClient;

  beforeAll(async () => {
    // Started, with OpenSSL loaded, before the sensor exists.
    earlyPython = new PythonClient(path.join(workDir, 'client.py'), certs.caCertPath, server.port);
    await earlyPython.waitForLines(1);
    harness.start();
  });

  afterAll(() => {
    earlyPython?.stop();
    harness.stop();
  });

  test('probes are attached to libssl and to the node executable', () => {
    const files = harness.capture.attachedFiles.map((f) => f.displayPath);
    expect(files.some((f) => /libssl\.so/.test(f))).toBe(true);
    expect(files.some((f) => f === process.execPath || fs.realpathSync(f) === fs.realpathSync(process.execPath))).toBe(true);
  });

  test('python3 already running before the sensor: 100 B, 64 KiB and 4 MiB captured exactly, both ways', async () => {
    const before = server.connections.length;
    for (const size of SIZES) earlyPython.send(size);
    const lines = await earlyPython.waitForLines(1 + SIZES.length);
    expect(lines.slice(1).map(Number)).toEqual(SIZES.map((s) => Math.max(s, 16)));
    const captured = await expectCapturedExactly(harness, earlyPython.pid, server.connections.slice(before));
    expect(captured).toHaveLength(SIZES.length);
    expect(captured.every((c) => c.events.every((e) => e.comm.startsWith('python')))).toBe(true);
    // python hands its connected socket to OpenSSL (SSL_set_fd), so the kernel side resolves the peer.
    for (const connection of captured) {
      expect(connection.events.every((e) => e.fd >= 0)).toBe(true);
      expect(new Set(connection.events.map((e) => JSON.stringify(e.peer)))).toEqual(new Set([JSON.stringify({ address: '127.0.0.1', port: server.port })]));
    }
  });

  test('python3 over IPv6: the peer is resolved as ::1 and the server port', async () => {
    const ipv6Server = await startRecordingTlsServer(certs.certPath, certs.keyPath, '::1');
    try {
      const script = [
        'import http.client, ssl, sys',
        'context = ssl.create_default_context(cafile=sys.argv[1])',
        'connection = http.client.HTTPSConnection("::1", int(sys.argv[2]), context=context)',
        'connection.request("POST", "/v6", body=b"over-ipv6" * 10)',
        'print(len(connection.getresponse().read()))',
      ].join('\n');
      const run = await runProcess('/usr/bin/python3', ['-c', script, certs.caCertPath, String(ipv6Server.port)]);
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const [captured] = await expectCapturedExactly(harness, run.pid, ipv6Server.connections);
      expect(new Set(captured.events.map((e) => JSON.stringify(e.peer)))).toEqual(new Set([JSON.stringify({ address: '::1', port: ipv6Server.port })]));
    } finally {
      await ipv6Server.close();
    }
  });

  test('curl started after the sensor: 100 B, 64 KiB and 4 MiB captured exactly, both ways', async () => {
    for (const size of SIZES) {
      const before = server.connections.length;
      const run = await curlPost(workDir, certs.caCertPath, server.port, size);
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const [captured] = await expectCapturedExactly(harness, run.pid, server.connections.slice(before));
      expect(captured.events.every((e) => e.comm === 'curl')).toBe(true);
      // curl feeds OpenSSL through its own BIO and never calls SSL_set_fd: no fd, no peer, nothing invented.
      expect(captured.events.every((e) => e.fd === -1 && e.peer === undefined)).toBe(true);
    }
  });

  test('node https keep-alive started after the sensor: three exchanges on one connection captured exactly', async () => {
    const before = server.connections.length;
    const scriptPath = path.join(workDir, 'client.js');
    fs.writeFileSync(scriptPath, NODE_CLIENT);
    const run = await runProcess(process.execPath, [scriptPath, certs.caCertPath, String(server.port), ...SIZES.map(String)]);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n').map(Number)).toEqual(SIZES.map((s) => Math.max(s, 16)));
    const serverSide = server.connections.slice(before);
    expect(serverSide).toHaveLength(1);
    const [captured] = await expectCapturedExactly(harness, run.pid, serverSide);
    const event = captured.events[0];
    expect(event.tid).toBeGreaterThan(0);
    expect(event.cgroupId).toBeGreaterThan(0n);
    expect(Math.abs(event.tsMs - Date.now())).toBeLessThan(60_000);
    expect(new Set(captured.events.map((e) => e.conn)).size).toBe(1);
  });

  test('a TLS library file that appears after start is found through the exec event and attached', async () => {
    // A private copy of libssl is a new inode no probe covers yet; python loads it through LD_LIBRARY_PATH.
    const libDir = path.join(workDir, 'private-lib');
    fs.mkdirSync(libDir);
    const systemLibssl = harness.capture.attachedFiles.find((f) => /libssl\.so\.3$/.test(f.displayPath) || /libssl\.so\.3$/.test(fs.realpathSync(f.attachPath)));
    expect(systemLibssl).toBeDefined();
    const privateCopy = path.join(libDir, 'libssl.so.3');
    fs.copyFileSync(fs.realpathSync(systemLibssl!.attachPath), privateCopy);
    const script = `
import ssl, time, http.client, sys
time.sleep(1.0)  # the sensor has a second from exec to attach
context = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=context)
c.request("POST", "/late", body=b"late-library-body")
print(len(c.getresponse().read()))
`;
    const scriptPath = path.join(workDir, 'late.py');
    fs.writeFileSync(scriptPath, script);
    const before = server.connections.length;
    const run = await runProcess('/usr/bin/python3', [scriptPath, certs.caCertPath, String(server.port)], { ...process.env, LD_LIBRARY_PATH: libDir });
    expect(run.stderr).toBe('');
    expect(harness.capture.attachedFiles.map((f) => f.displayPath)).toContain(privateCopy);
    await expectCapturedExactly(harness, run.pid, server.connections.slice(before));
  });

  test('the kernel counters account for what was delivered, with nothing dropped at the default sizes', async () => {
    const delivered = () => harness.events.reduce((sum, e) => sum + e.data.length, 0);
    // Records of followed connections reach user space at the next drain of the ring (up to 250 ms later).
    await harness.waitFor(() => harness.capture.counters().bytes === delivered(), 5_000, 'the ring to be drained');
    const counters = harness.capture.counters();
    expect(counters.bytes).toBe(delivered());
    expect(counters.events).toBe(harness.events.length);
    expect(counters.droppedBytes).toBe(0);
    expect(counters.truncatedBytes).toBe(0);
    expect(counters.malformedRecords).toBe(0);
  });
});

describe('limits: truncation and ring-buffer drops are counted, never silent', () => {
  async function nodeKeepAlive(sizes: number[]) {
    const before = server.connections.length;
    const scriptPath = path.join(workDir, 'client-limits.js');
    fs.writeFileSync(scriptPath, NODE_CLIENT);
    const run = await runProcess(process.execPath, [scriptPath, certs.caCertPath, String(server.port), ...sizes.map(String)]);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    return { run, serverSide: server.connections.slice(before) };
  }

  /** Bytes the sensor saw plus bytes it reported lost, per direction, for one connection. */
  function accountedBytes(c: CapturedConnection, dir: 'in' | 'out') {
    const events = c.events.filter((e) => e.dir === dir);
    return {
      captured: events.reduce((sum, e) => sum + e.data.length, 0),
      lost: events.reduce((sum, e) => sum + e.lostBeforeBytes, 0),
      truncated: events.reduce((sum, e) => sum + e.truncatedBytes, 0),
    };
  }

  /** Whether the pid's connection has every byte of both directions captured or reported lost. */
  function accountsForWire(harness: CaptureHarness, pid: number, sent: Buffer, received: Buffer): boolean {
    const conn = harness.connectionsOf(pid)[0];
    if (!conn) return false;
    const out = accountedBytes(conn, 'out');
    const inward = accountedBytes(conn, 'in');
    return out.captured + out.lost === sent.length && inward.captured + inward.lost === received.length;
  }

  /** Skipping each reported gap, every record lines up with the wire, byte for byte. */
  function expectRecordsWhereTheyBelong(conn: CapturedConnection, sent: Buffer, received: Buffer): void {
    for (const [dir, wire] of [['out', sent], ['in', received]] as const) {
      let position = 0;
      for (const e of conn.events.filter((event) => event.dir === dir)) {
        position += e.lostBeforeBytes;
        expect(e.data.equals(wire.subarray(position, position + e.data.length))).toBe(true);
        position += e.data.length;
      }
    }
  }

  test('a call larger than the per-call limit is truncated at the limit and the rest counted', async () => {
    const limit = 64 * 1024;
    const harness = new CaptureHarness({ maxCallBytes: limit });
    harness.start();
    try {
      const { run, serverSide } = await nodeKeepAlive([1024 * 1024, 100]);
      const sent = concat(serverSide[0].received);
      await harness.waitFor(() => harness.connectionsOf(run.pid).some((c) => accountedBytes(c, 'out').captured + accountedBytes(c, 'out').truncated === sent.length), 15_000, 'truncated upload');
      const [conn] = harness.connectionsOf(run.pid);
      const out = accountedBytes(conn, 'out');
      expect(out.truncated).toBeGreaterThan(0);
      expect(out.captured + out.truncated + out.lost).toBe(sent.length);
      expect(harness.capture.counters().truncatedBytes).toBe(out.truncated + accountedBytes(conn, 'in').truncated);
      // What was kept is the true beginning of each call: the first bytes on the wire match.
      expect(conn.out.subarray(0, 1024).equals(sent.subarray(0, 1024))).toBe(true);
    } finally {
      harness.stop();
    }
  });

  test('a graceful stop hands over what the ring still holds, so nothing already captured is lost', async () => {
    // A drain interval far beyond the test: after a connection's first bytes (which wake the reader at once), its
    // records wait in the ring, and only the stop's last read hands them over.
    const harness = new CaptureHarness({ ringDrainIntervalMs: 60_000 });
    harness.start();
    try {
      const { run, serverSide } = await nodeKeepAlive([100, 2000, 3000]);
      const sent = concat(serverSide[0].received);
      const received = concat(serverSide[0].sent);
      const firstBytes = harness.connectionsOf(run.pid).reduce((sum, c) => sum + c.out.length + c.in.length, 0);
      expect(firstBytes).toBeLessThan(sent.length + received.length);
      await harness.capture.drainAndStop();
      const [conn] = harness.connectionsOf(run.pid);
      expect(conn.out.equals(sent)).toBe(true);
      expect(conn.in.equals(received)).toBe(true);
    } finally {
      harness.stop();
    }
  });

  test('records that wrap around the end of a small ring arrive whole and in order', async () => {
    // 64 KiB of ring and ~450 KiB of traffic in records of uneven sizes: the ring's end is crossed many times, and
    // records straddle it (the consumer maps the data once and copies such a record in two pieces). Other TLS
    // traffic on the host shares the ring, so a record may still be dropped: each is checked where it belongs.
    const ringBufferBytes = 64 * 1024;
    const harness = new CaptureHarness({ ringBufferBytes });
    harness.start();
    try {
      const sizes = Array.from({ length: 80 }, (_, i) => 1000 + ((i * 7919) % 9000));
      const { run, serverSide } = await nodeKeepAlive(sizes);
      const sent = concat(serverSide[0].received);
      const received = concat(serverSide[0].sent);
      await harness.waitFor(() => accountsForWire(harness, run.pid, sent, received), 15_000, 'every byte of both directions captured or reported lost');
      const [conn] = harness.connectionsOf(run.pid);
      expectRecordsWhereTheyBelong(conn, sent, received);
      const captured = accountedBytes(conn, 'out').captured + accountedBytes(conn, 'in').captured;
      expect(captured).toBeGreaterThan(6 * ringBufferBytes);
    } finally {
      harness.stop();
    }
  });

  test('a ring buffer too small for a 4 MiB write drops records, counts every dropped byte and reports the gap in-band', async () => {
    const harness = new CaptureHarness({ ringBufferBytes: 64 * 1024 });
    harness.start();
    try {
      // The trailing small request carries the gap report for bytes dropped at the end of the big one.
      const { run, serverSide } = await nodeKeepAlive([4 * 1024 * 1024, 100, 100]);
      const sent = concat(serverSide[0].received);
      const received = concat(serverSide[0].sent);
      await harness.waitFor(() => accountsForWire(harness, run.pid, sent, received), 15_000, 'every byte captured or reported lost');
      const [conn] = harness.connectionsOf(run.pid);
      const lost = accountedBytes(conn, 'out').lost + accountedBytes(conn, 'in').lost;
      expect(lost).toBeGreaterThan(0);
      const counters = harness.capture.counters();
      expect(counters.droppedEvents).toBeGreaterThan(0);
      // Other processes' TLS traffic in the same window may drop too, so the kernel total is at least ours.
      expect(counters.droppedBytes).toBeGreaterThanOrEqual(lost);
      // Each gap is reported exactly where the bytes are missing: skipping it, every record lines up with the wire.
      expectRecordsWhereTheyBelong(conn, sent, received);
    } finally {
      harness.stop();
    }
    // After stop the counters are the last ones read, not an error from a freed BPF object.
    expect(harness.capture.counters().droppedEvents).toBeGreaterThan(0);
  });
});
