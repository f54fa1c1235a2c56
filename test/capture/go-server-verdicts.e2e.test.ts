/**
 * A Go HTTPS server (an LLM gateway or proxy written in Go receives LLM requests too) is judged in the kernel like
 * any server: its side of a connection is muted at its first read, over HTTP/1.1 and HTTP/2, while the client's
 * side of the same exchange is followed. Otherwise the server would report every call it serves a second time.
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

let workDir: string;
let certs: TestCertificates;
let server: LineProcess;
let port: string;
const harness = new CaptureHarness({ judgeConnections: true, llmPathSegments });
/** A second capture without verdicts, beside it: proof that the Go server's probes fire at all. */
const everything = new CaptureHarness();

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-server-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  const executable = buildGoProgram(workDir, 'go-llm-server', GO_SERVER, { stripped: true });
  harness.start();
  everything.start();
  server = new LineProcess(executable, [certs.certPath, certs.keyPath]);
  port = (await server.lines(1))[0];
  const fileKey = fileKeyOf(fs.statSync(executable));
  await harness.waitFor(() => harness.capture.attachedFiles.some((file) => file.fileKey === fileKey), 10_000, 'probes on the Go server');
}, 120_000);

afterAll(() => {
  killLineProcesses();
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
