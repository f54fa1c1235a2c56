/**
 * Go programs judged in the kernel like any other, for real. A Go client's keep-alive connection carries LLM and
 * other requests mixed, and Go posts its next read before it writes the next request, so a read must be judged by
 * what the connection carries when it returns, not when it started. A Go HTTPS server (an LLM gateway or proxy
 * written in Go receives LLM requests too) has its side muted at its first read, over HTTP/1.1 and HTTP/2, while the
 * client's side of the same exchange is followed: otherwise the server would report every call it serves again.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { fileKeyOf } from '../../sensor/capture/tls-library-discovery';
import { llmPathSegments } from '../../sensor/provider/registry';
import { CaptureHarness } from '../support/capture-harness';
import { buildGoProgram } from '../support/go-programs';
import { LineProcess, killLineProcesses } from '../support/line-process';
import { startRecordingTlsServer, type RecordingTlsServer } from '../support/recording-tls-server';
import { runProcess } from '../support/tls-clients';

/** Answers POST /v1/chat/completions with a fixed completion over HTTP/1.1 and HTTP/2; prints its port. */
const GO_SERVER = `package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	http.HandleFunc("/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, \`{"id":"chatcmpl-go","object":"chat.completion","model":"gpt-4o-mini","choices":[]}\`)
	})
	panic(http.ServeTLS(listener, nil, os.Args[1], os.Args[2]))
}
`;

/** One keep-alive HTTP/1.1 connection (net/http), requests in order: METHOD PATH BODY-BYTES ...; prints "done". */
const GO_KEEP_ALIVE_CLIENT = `package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

func main() {
	ca, _ := os.ReadFile(os.Args[1])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxConnsPerHost: 1, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	client := &http.Client{Transport: transport}
	plan := os.Args[3:]
	for i := 0; i+2 < len(plan); i += 3 {
		size, _ := strconv.Atoi(plan[i+2])
		var body io.Reader
		if size > 0 {
			body = bytes.NewReader(bytes.Repeat([]byte("b"), size))
		}
		req, _ := http.NewRequest(plan[i], "https://127.0.0.1:"+os.Args[2]+plan[i+1], body)
		if size > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	fmt.Println("done")
}
`;

let workDir: string;
let certs: TestCertificates;
let server: LineProcess;
let port: string;
let recording: RecordingTlsServer;
let keepAliveClient: string;
const harness = new CaptureHarness({ judgeConnections: true, llmPathSegments });
/** A second capture without verdicts, beside it: proof that the Go server's probes fire at all. */
const everything = new CaptureHarness();

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-server-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  const executable = buildGoProgram(workDir, 'go-llm-server', GO_SERVER, { stripped: true });
  keepAliveClient = buildGoProgram(workDir, 'go-keep-alive', GO_KEEP_ALIVE_CLIENT);
  recording = await startRecordingTlsServer(certs.certPath, certs.keyPath);
  harness.start();
  everything.start();
  server = new LineProcess(executable, [certs.certPath, certs.keyPath]);
  port = (await server.lines(1))[0];
  const fileKey = fileKeyOf(fs.statSync(executable));
  await harness.waitFor(() => harness.capture.attachedFiles.some((file) => file.fileKey === fileKey), 10_000, 'probes on the Go server');
}, 240_000);

afterAll(async () => {
  killLineProcesses();
  await recording?.close();
  harness.stop();
  everything.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

test.each([['HTTP/1.1', '--http1.1'], ['HTTP/2', '--http2']])('over %s the curl client is followed and the Go server side muted', async (_protocol, flag) => {
  const before = harness.capture.counters();
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from curl' }] });
  const run = await runProcess('curl', ['-sS', flag, '--cacert', certs.caCertPath, '-H', 'content-type: application/json', '--data-binary', body, `https://127.0.0.1:${port}/v1/chat/completions`]);
  expect(run.stderr).toBe('');
  expect(run.stdout).toContain('chatcmpl-go');
  await harness.waitFor(() => harness.connectionsOf(run.pid).some((c) => c.in.includes('chatcmpl-go')), 10_000, 'the client side of the exchange');
  expect(harness.connectionsOf(run.pid)[0].out.includes('hello from curl')).toBe(true);
  // The Go server's side of the same exchange, as a capture without verdicts sees it: it read the request, wrote the answer.
  const serverSide = () => everything.connectionsOf(server.pid).find((c) => c.in.includes('hello from curl'));
  await everything.waitFor(() => serverSide()?.out.includes('chatcmpl-go') === true, 10_000, 'the server side without verdicts');
  // With verdicts, none of its bytes left the kernel.
  await harness.waitFor(() => harness.capture.counters().verdictsMute > before.verdictsMute, 5_000, 'the server side to be muted');
  expect(harness.connectionsOf(server.pid)).toEqual([]);
});

test('a Go keep-alive client mixing LLM and other requests: exactly its LLM exchanges reach user space, in order', async () => {
  const plan: Array<[string, string, number]> = [
    ['GET', '/v1/models', 0],
    ['POST', '/v1/chat/completions', 900],
    ['POST', '/api/orders', 1500],
    ['POST', '/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', 700],
    ['GET', '/healthz', 0],
    ['POST', '/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke', 500],
    ['POST', '/v1/embeddings', 300],
  ];
  const before = recording.connections.length;
  const run = await runProcess(keepAliveClient, [certs.caCertPath, String(recording.port), ...plan.flatMap(([method, target, size]) => [method, target, String(size)])]);
  expect(run.stderr).toBe('');
  expect(run.stdout.trim()).toBe('done');
  const recorded = recording.connections.slice(before);
  expect(recorded).toHaveLength(1);
  const { exchanges } = recorded[0];
  expect(exchanges.map((e) => e.request.toString('latin1').split(' ').slice(0, 2).join(' '))).toEqual(plan.map(([method, target]) => `${method} ${target}`));
  const llm = [1, 3, 5, 6].map((index) => exchanges[index]);
  const wantOut = Buffer.concat(llm.map((e) => e.request));
  const wantIn = Buffer.concat(llm.map((e) => e.response));
  await harness.waitFor(() => harness.connectionsOf(run.pid).some((c) => c.out.length >= wantOut.length && c.in.length >= wantIn.length), 10_000, 'the LLM exchanges');
  const [connection, ...others] = harness.connectionsOf(run.pid);
  expect(others).toHaveLength(0);
  expect(connection.out.toString('latin1')).toBe(wantOut.toString('latin1'));
  // Each response read was posted before its request was written, while the connection was quiet between LLM calls.
  expect(connection.in.toString('latin1')).toBe(wantIn.toString('latin1'));
});

