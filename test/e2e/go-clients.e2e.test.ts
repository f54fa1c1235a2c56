/**
 * Go programs calling an OpenAI-style endpoint, seen by the real sensor: Go clients built here from source with
 * Debian's Go (net/http, crypto/tls), over HTTP/2 (Go's default over TLS) and HTTP/1.1, with their symbol table
 * and stripped, two started before the sensor and two after, each sending an Authorization bearer. Every call
 * must become a span with model, tokens and content; no credential may appear in any span or log line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { GO_LLM_CLIENT, buildGoProgram } from '../support/go-programs';
import { LineProcess, killLineProcesses } from '../support/line-process';
import { startSensorProcess, type ExportedSpan, type SensorProcess } from '../support/sensor-process';

const KEY = 'sk-test-SECRET-go-client-901';
const CALLS = 2;

interface ClientPlan {
  /** The executable's name: each client runs its own copy, a file the sensor has not seen before. */
  name: string;
  http1: boolean;
  stripped: boolean;
  early: boolean;
}

const PLANS: ClientPlan[] = [
  { name: 'llm-h2-early', http1: false, stripped: false, early: true },
  { name: 'llm-h1-early-s', http1: true, stripped: true, early: true },
  { name: 'llm-h2-late-s', http1: false, stripped: true, early: false },
  { name: 'llm-h1-late', http1: true, stripped: false, early: false },
];

interface CallResult {
  stream: boolean;
  proto: string;
  status: number;
  id: string;
  model: string;
  content: string;
  usage: { prompt_tokens: number; completion_tokens: number };
  prompt: string;
}

interface ClientRun {
  plan: ClientPlan;
  pid: number;
  results: CallResult[];
  /** Late clients: from exec to the sensor's probes being on their executable. */
  attachMs?: number;
}

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let sensor: SensorProcess;
const runs: ClientRun[] = [];

function startClient(plan: ClientPlan, executable: string): LineProcess {
  const file = path.join(workDir, plan.name);
  fs.copyFileSync(executable, file);
  fs.chmodSync(file, 0o755);
  const args = ['-url', `${mock.url}/v1/chat/completions`, '-ca', certs.caCertPath, '-key', KEY, '-calls', String(CALLS), '-wait', '-prompt', `Go ${plan.name} asks`];
  return new LineProcess(file, plan.http1 ? [...args, '-http1'] : args);
}

async function finishClient(plan: ClientPlan, client: LineProcess, attachMs?: number): Promise<void> {
  client.say('go');
  const lines = await client.lines(2);
  const output = JSON.parse(lines[1]) as { pid: number; results: CallResult[] };
  expect(await client.exited).toBe(0);
  expect(output.pid).toBe(client.pid);
  runs.push({ plan, pid: client.pid, results: output.results, attachMs });
}

/** The sensor logs each file it attached to; a late client calls only once its executable is covered. */
async function waitForAttach(file: string, since: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  while (!sensor.stderr().split('\n').some((line) => line.includes('capture: attached') && line.includes(`"file":"${file} (Go crypto/tls`))) {
    if (Date.now() > deadline) throw new Error(`the sensor did not attach to ${file} within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - since;
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-e2e-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) }, streamIntervalMs: 2 });
  const builds = {
    symbols: buildGoProgram(workDir, 'llm-client', GO_LLM_CLIENT),
    stripped: buildGoProgram(workDir, 'llm-client-stripped', GO_LLM_CLIENT, { stripped: true }),
  };
  const executable = (plan: ClientPlan) => (plan.stripped ? builds.stripped : builds.symbols);

  const early = PLANS.filter((plan) => plan.early).map((plan) => ({ plan, client: startClient(plan, executable(plan)) }));
  for (const { client } of early) await client.lines(1);
  // Debug logging, so that the credential check covers every line the sensor can write.
  sensor = await startSensorProcess({ env: { SIGHTLINE_LOG_LEVEL: 'debug' } });
  await Promise.all(early.map(({ plan, client }) => finishClient(plan, client)));
  for (const plan of PLANS.filter((candidate) => !candidate.early)) {
    const started = Date.now();
    const client = startClient(plan, executable(plan));
    await client.lines(1);
    const attachMs = await waitForAttach(path.join(workDir, plan.name), started);
    await finishClient(plan, client, attachMs);
  }
}, 240_000);

afterAll(async () => {
  killLineProcesses();
  await sensor?.remove();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

const runOf = (name: string) => runs.find((run) => run.plan.name === name)!;

describe.each(PLANS)('Go client $name (HTTP/1.1: $http1, stripped: $stripped, started before the sensor: $early)', (plan) => {
  let spans: ExportedSpan[];
  beforeAll(async () => {
    spans = await sensor.waitForSpans(runOf(plan.name).pid, CALLS);
  });

  it('spoke the protocol it was built for', () => {
    expect(runOf(plan.name).results.map((result) => [result.proto, result.status])).toEqual(Array(CALLS).fill([plan.http1 ? 'HTTP/1.1' : 'HTTP/2.0', 200]));
  });

  it('every call is one span with model, tokens and content, as the client received them', () => {
    const { results } = runOf(plan.name);
    expect(spans).toHaveLength(CALLS);
    for (const result of results) {
      const span = spans.find((candidate) => candidate.attributes['gen_ai.response.id'] === result.id);
      expect(span).toBeDefined();
      expect(span!.name).toBe('chat gpt-4o-mini');
      expect(span!.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.response.model': result.model,
        'gen_ai.request.stream': result.stream,
        'gen_ai.request.max_tokens': 64,
        'gen_ai.usage.input_tokens': result.usage.prompt_tokens,
        'gen_ai.usage.output_tokens': result.usage.completion_tokens,
        'http.response.status_code': 200,
        'server.address': '127.0.0.1',
        'server.port': mock.port,
        // The socket behind the *tls.Conn, read through the Go runtime's structs.
        'network.peer.address': '127.0.0.1',
        'network.peer.port': mock.port,
        'sightline.client': plan.name,
        'sightline.source': 'ebpf',
      });
      // Chat completions carry the system prompt as a message, and it is reported as one.
      expect(JSON.parse(span!.attributes['gen_ai.input.messages'] as string)).toEqual([
        { role: 'system', parts: [{ type: 'text', content: 'Answer briefly.' }] },
        { role: 'user', parts: [{ type: 'text', content: result.prompt }] },
      ]);
      expect(JSON.parse(span!.attributes['gen_ai.output.messages'] as string)).toEqual([
        { role: 'assistant', parts: [{ type: 'text', content: result.content }], finish_reason: 'stop' },
      ]);
      expect(result.content).toContain(result.prompt.split(' ').slice(0, 4).join(' '));
      expect(span!.resource['process.pid']).toBe(runOf(plan.name).pid);
    }
    expect(results.map((result) => result.stream)).toEqual([false, true]);
  });
});

test('late clients were covered within a second of their exec', () => {
  const late = runs.filter((run) => !run.plan.early);
  expect(late).toHaveLength(2);
  for (const run of late) expect(run.attachMs).toBeLessThan(1000);
  console.log(`go e2e: late clients attached ${late.map((run) => `${run.attachMs} ms`).join(', ')} after their start`);
});

test('no credential in any span or log line', () => {
  expect(fs.readFileSync(sensor.otlpFile, 'utf8')).not.toContain(KEY);
  expect(fs.readFileSync(sensor.otlpFile, 'utf8')).not.toContain('SECRET');
  expect(sensor.stderr()).not.toContain('SECRET');
  expect(sensor.stderr()).toContain('Go crypto/tls');
});
