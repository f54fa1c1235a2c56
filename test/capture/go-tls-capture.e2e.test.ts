/**
 * The capture of Go's crypto/tls, for real: BPF loaded into the kernel, uprobes on Go executables built here with
 * Debian's Go, byte-for-byte comparison with what the server received and sent. Nothing is mocked; if BPF cannot
 * load, these tests fail with libbpf's reason.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileKeyOf } from '../../sensor/capture/tls-library-discovery';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { enableBpfRunStats, programRuns } from '../support/bpf-program-stats';
import { CaptureHarness, type CapturedConnection } from '../support/capture-harness';
import { GO_RAW_CLIENT, buildGoProgram } from '../support/go-programs';
import { LineProcess, killLineProcesses } from '../support/line-process';
import { startRecordingTlsServer, type RecordedConnection, type RecordingTlsServer } from '../support/recording-tls-server';

const SIZES = [100, 64 * 1024, 1024 * 1024];

let workDir: string;
let certs: TestCertificates;
let server: RecordingTlsServer;
let withSymbols: string;
let stripped: string;
const harness = new CaptureHarness();

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-capture-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  server = await startRecordingTlsServer(certs.certPath, certs.keyPath);
  withSymbols = buildGoProgram(workDir, 'raw-client', GO_RAW_CLIENT);
  stripped = buildGoProgram(workDir, 'raw-client-stripped', GO_RAW_CLIENT, { stripped: true });
  harness.start();
}, 240_000);

afterAll(async () => {
  killLineProcesses();
  harness.stop();
  await server?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

const concat = (chunks: Buffer[]) => Buffer.concat(chunks);

async function expectCapturedExactly(pid: number, serverSide: RecordedConnection[]): Promise<CapturedConnection> {
  expect(serverSide).toHaveLength(1);
  const [recorded] = serverSide;
  const match = () => harness.connectionsOf(pid).find((c) => c.out.equals(concat(recorded.received)) && c.in.equals(concat(recorded.sent)));
  try {
    await harness.waitFor(() => match() !== undefined, 15_000, `pid ${pid}'s connection`);
  } catch (error) {
    const seen = harness.connectionsOf(pid).map((c) => `${c.conn}: out ${c.out.length} B, in ${c.in.length} B`);
    throw new Error(`${(error as Error).message}\nexpected: out ${concat(recorded.received).length} B, in ${concat(recorded.sent).length} B\ncaptured: ${seen.join('; ') || 'nothing'}`);
  }
  return match()!;
}

/** Waits until the capture has attached to the file behind `executable` (as its process sees it) and says how long that took. */
async function attachedWithin(fileKey: string, since: number): Promise<number> {
  await harness.waitFor(() => harness.capture.attachedFiles.some((file) => file.fileKey === fileKey && file.go !== undefined), 10_000, `probes on ${fileKey}`);
  return Date.now() - since;
}

/** Runs the raw client once it is attached: three exchanges, then Close while the process lives on. */
async function runRawClient(client: LineProcess, fileKey: string, started: number) {
  await client.lines(1);
  const attachMs = await attachedWithin(fileKey, started);
  const before = server.connections.length;
  client.say('go');
  const lines = await client.lines(2 + SIZES.length);
  expect(lines.slice(1, 1 + SIZES.length).map((line) => Number(line.split(' ')[0]))).toEqual(SIZES.map((size) => concat(patternResponse(size)).length));
  expect(lines[1 + SIZES.length]).toBe('closed');
  return { attachMs, lines, serverSide: server.connections.slice(before) };
}

/** The recording server answers each request with a head and a body of the request's size. */
function patternResponse(size: number): Buffer[] {
  return [Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${Math.max(size, 16)}\r\n\r\n`), Buffer.alloc(Math.max(size, 16))];
}

test('a Go client with symbols, started after the capture: 100 B, 64 KiB and 1 MiB captured exactly both ways, into a stack that moved', async () => {
  const started = Date.now();
  const client = new LineProcess(withSymbols, [certs.caCertPath, String(server.port), ...SIZES.map(String)]);
  const { attachMs, lines, serverSide } = await runRawClient(client, fileKeyOf(fs.statSync(withSymbols)), started);
  // The runtime moved the reading goroutine's stack while it was parked in Read at least once: the case this proves.
  expect(lines.some((line) => line.endsWith(' moved'))).toBe(true);

  const captured = await expectCapturedExactly(client.pid, serverSide);
  expect(new Set(captured.events.map((e) => e.conn)).size).toBe(1);
  expect(captured.events.every((e) => e.comm === 'raw-client')).toBe(true);
  // The socket behind the *tls.Conn, read through Go's structs and checked against the kernel's socket.
  expect(new Set(captured.events.map((e) => JSON.stringify({ peer: e.peer, fdKnown: e.fd >= 0 })))).toEqual(
    new Set([JSON.stringify({ peer: { address: '127.0.0.1', port: server.port }, fdKnown: true })]),
  );
  // tls.Conn.Close ended the connection while the process still runs.
  await harness.waitFor(() => harness.closes.some((closed) => closed.conn === captured.conn), 5_000, 'the close of the connection');
  expect(client.child.exitCode).toBeNull();
  expect(await client.finish()).toBe(0);
  console.log(`go capture: the executable was attached ${attachMs} ms after the process started`);
});

test('a stripped Go client run from a mount namespace of its own (as in a container) is found through /proc/PID/root and captured exactly', async () => {
  const hidden = path.join(workDir, 'namespace-only');
  fs.mkdirSync(hidden);
  const inside = path.join(hidden, 'raw-client-stripped');
  // unshare execs in place, so the pid spawned is the client's; the tmpfs and the copy exist in its namespace only.
  const script = `mount -t tmpfs tmpfs '${hidden}' && cp '${stripped}' '${inside}' && exec '${inside}' "$@"`;
  const started = Date.now();
  const client = new LineProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', certs.caCertPath, String(server.port), ...SIZES.map(String)]);
  await client.lines(1);
  expect(fs.existsSync(inside)).toBe(false);
  const fileKey = fs.readFileSync(`/proc/${client.pid}/maps`, 'utf8').split('\n').find((line) => line.endsWith(inside))!.split(/\s+/).slice(3, 5).join(':');
  const { serverSide } = await runRawClient(client, fileKey, started);
  const attached = harness.capture.attachedFiles.find((file) => file.fileKey === fileKey)!;
  expect(attached.attachPath).toBe(`/proc/${client.pid}/root${inside}`);
  expect(attached.displayPath).toBe(inside);
  expect(attached.go).toMatchObject({ functionsFrom: 'pclntab' });
  await expectCapturedExactly(client.pid, serverSide);
  expect(await client.finish()).toBe(0);
});

test('the kernel counters account for the Go bytes delivered, with nothing dropped', () => {
  const counters = harness.capture.counters();
  expect(counters.bytes).toBe(harness.events.reduce((sum, e) => sum + e.data.length, 0));
  expect(counters.droppedBytes).toBe(0);
  expect(counters.readErrors).toBe(0);
  expect(counters.malformedRecords).toBe(0);
});

/**
 * Writes one record per depth, each from a fresh goroutine that first recurses `depth` small frames: at some
 * depths Write's stack check finds too little room, so Write grows the stack in morestack and starts over.
 */
const GO_MORESTACK_WRITER = `package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
)

//go:noinline
func descend(depth int, conn *tls.Conn, payload []byte) error {
	if depth == 0 {
		_, err := conn.Write(payload)
		return err
	}
	return descend(depth-1, conn, payload)
}

func main() {
	ca, _ := os.ReadFile(os.Args[1])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	depths, _ := strconv.Atoi(os.Args[3])
	stdin := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	stdin.ReadString('\\n')
	conn, err := tls.Dial("tcp", "127.0.0.1:"+os.Args[2], &tls.Config{RootCAs: pool})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for depth := 0; depth < depths; depth++ {
		done := make(chan error)
		go func(d int) { done <- descend(d, conn, []byte(fmt.Sprintf("record %05d;", d))) }(depth)
		if err := <-done; err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	fmt.Println("written")
	stdin.ReadString('\\n')
	if len(os.Args) > 4 {
		conn.Read(make([]byte, 1)) // never runs: keeps Read linked in, which the capture looks for
	}
	conn.Close()
}
`;

test('a Write probed at its stack check that first grows its stack is captured once (the kernel counts the extra probe hits)', async () => {
  const depths = 600;
  const executable = buildGoProgram(workDir, 'morestack-writer', GO_MORESTACK_WRITER);
  const received: Buffer[] = [];
  const sink = tls.createServer({ cert: fs.readFileSync(certs.certPath), key: fs.readFileSync(certs.keyPath) }, (socket) => {
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const restoreStats = enableBpfRunStats();
  const writer = new LineProcess(executable, [certs.caCertPath, String((sink.address() as AddressInfo).port), String(depths)]);
  try {
    await writer.lines(1);
    const fileKey = fileKeyOf(fs.statSync(executable));
    await harness.waitFor(() => harness.capture.attachedFiles.some((file) => file.fileKey === fileKey && file.go !== undefined), 10_000, 'probes on the writer');
    const probes = harness.capture.attachedFiles.find((file) => file.fileKey === fileKey)!.go!;
    // Write's stack check compares R12 (Write's frame is past the small-frame size): its probe sits on the check's JBE.
    expect(probes.checks?.write?.register).toBe('r12');
    const runsBefore = programRuns(['go_tls_write']).go_tls_write;
    writer.say('go');
    expect((await writer.lines(2))[1]).toBe('written');
    const runs = programRuns(['go_tls_write']).go_tls_write - runsBefore;
    const expected = Buffer.from(Array.from({ length: depths }, (_, depth) => `record ${String(depth).padStart(5, '0')};`).join(''));
    await harness.waitFor(() => Buffer.concat(received).length >= expected.length, 10_000, 'the records at the server');
    expect(Buffer.concat(received).equals(expected)).toBe(true);
    const captured = () => harness.connectionsOf(writer.child.pid!);
    try {
      await harness.waitFor(() => captured().some((c) => c.out.length >= expected.length), 15_000, 'the records captured');
    } catch (error) {
      const seen = captured().map((c) => `${c.conn}: ${c.events.length} records, out ${c.out.length} B`);
      throw new Error(`${(error as Error).message}\nexpected out ${expected.length} B; captured: ${seen.join('; ') || 'nothing'}; counters ${JSON.stringify(harness.capture.counters())}`);
    }
    const [connection] = captured();
    // Every record once, in order, though some Writes hit the probe twice: once before morestack, once after.
    expect(connection.out.toString()).toBe(expected.toString());
    expect(runs).toBeGreaterThan(depths);
  } finally {
    restoreStats();
    writer.say('end');
    sink.close();
  }
});
