/**
 * The capture starting while a Go client's keep-alive connection is open, for real. Go's connection reader posts its
 * Read for the next answer before the next request is written, so when the probes are attached it is usually parked
 * in a Read that started without them. Each exchange captured must still pair a request with its own answer: the
 * answer of a request the capture never saw is not sent, and the answer of a request it saw is, even though its Read
 * started before the probes were there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { llmPathSegments } from '../../sensor/provider/registry';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { CaptureHarness } from '../support/capture-harness';
import { buildGoProgram } from '../support/go-programs';
import { LineProcess, killLineProcesses } from '../support/line-process';

/**
 * Reads lines `MODEL PROMPT` from stdin and makes one chat completion each over a single HTTP/1.1 keep-alive
 * connection, printing `done PROMPT`; a line starting with `bg ` makes its call in the background and prints
 * `started PROMPT` as it starts it.
 */
const GO_LINE_CLIENT = `package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	ca, _ := os.ReadFile(os.Args[1])
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxConnsPerHost: 1, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	call := func(model, prompt string) {
		body, _ := json.Marshal(map[string]interface{}{"model": model, "messages": []map[string]string{{"role": "user", "content": prompt}}})
		req, _ := http.NewRequest("POST", os.Args[2]+"/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println("done", prompt)
	}
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		fields := strings.SplitN(lines.Text(), " ", 3)
		if fields[0] == "bg" {
			fmt.Println("started", fields[2])
			go call(fields[1], fields[2])
		} else {
			call(fields[0], fields[1])
		}
	}
}
`;

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let client: string;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-start-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  // A held answer stays in flight across the capture's start.
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) }, latencyMs: (call) => (call.model === 'gpt-held' ? 3000 : 0) });
  client = buildGoProgram(workDir, 'line-client', GO_LINE_CLIENT, { stripped: true });
}, 240_000);

afterAll(async () => {
  killLineProcesses();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

async function waitForLine(process: LineProcess, line: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!process.stdout.split('\n').includes(line)) {
    if (Date.now() > deadline || process.child.exitCode !== null) throw new Error(`no "${line}" from the client: ${process.stdout} ${process.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** What the capture sent of the client's connection, record by record: direction and the call each names. */
function exchanges(harness: CaptureHarness, pid: number): string[] {
  const connections = harness.connectionsOf(pid);
  expect(connections).toHaveLength(1);
  return connections[0].events.map((event) => `${event.dir} ${/call-\d/.exec(event.data.toString('latin1'))?.[0] ?? '?'}`);
}

async function calls(process: LineProcess, prompts: string[]): Promise<void> {
  for (const prompt of prompts) {
    process.say(`gpt-4o-mini ${prompt}`);
    await waitForLine(process, `done ${prompt}`);
  }
}

test('an idle connection, its reader parked in a Read from before the start: the next request and its answer are captured as a pair', async () => {
  const go = new LineProcess(client, [certs.caCertPath, mock.url]);
  await calls(go, ['call-1']);
  const harness = new CaptureHarness({ judgeConnections: true, llmPathSegments });
  harness.start();
  try {
    await calls(go, ['call-2', 'call-3']);
    await harness.waitFor(() => harness.connectionsOf(go.pid)[0]?.events.length >= 4, 10_000, 'two exchanges');
    expect(exchanges(harness, go.pid)).toEqual(['out call-2', 'in call-2', 'out call-3', 'in call-3']);
  } finally {
    harness.stop();
  }
  expect(await go.finish()).toBe(0);
});

test('an answer in flight at the start, to a request the capture never saw, is not sent; the exchanges after it are, paired', async () => {
  const go = new LineProcess(client, [certs.caCertPath, mock.url]);
  go.say('bg gpt-held call-1');
  await waitForLine(go, 'started call-1');
  await new Promise((resolve) => setTimeout(resolve, 500)); // the request is written, its answer held
  const harness = new CaptureHarness({ judgeConnections: true, llmPathSegments });
  harness.start();
  try {
    const before = harness.capture.counters().mutedCalls;
    await waitForLine(go, 'done call-1');
    await calls(go, ['call-2', 'call-3']);
    await harness.waitFor(() => harness.connectionsOf(go.pid)[0]?.events.length >= 4, 10_000, 'two exchanges');
    expect(exchanges(harness, go.pid)).toEqual(['out call-2', 'in call-2', 'out call-3', 'in call-3']);
    expect(harness.capture.counters().mutedCalls).toBeGreaterThan(before);
  } finally {
    harness.stop();
  }
  expect(await go.finish()).toBe(0);
});
