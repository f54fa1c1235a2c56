/**
 * An application already instrumented with OpenTelemetry (@opentelemetry/instrumentation-openai, the OTel SDK and
 * its OTLP/HTTP exporter) sends its spans straight to the real `sightline gateway`, while it calls the local TLS
 * mock provider. The gateway writes them normalised (seed and semconv names, cost) and counts them in /metrics.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomInt } from 'node:crypto';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { FAST_DELIVERY, REPO_ROOT, sampleValue, startGatewayProcess, waitFor, type ServiceProcess } from '../support/gateway-process';

jest.setTimeout(60_000);

const prices = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../sensor/pipeline/prices.json'), 'utf8')).models as Record<
  string,
  { input: number; output: number }
>;
// Eight digits: unique per run, and read by the price table as a dated snapshot of the model, so it is priced.
const run = String(randomInt(10_000_000, 100_000_000));
const MODEL = `gpt-4o-${run}`;
const SERVICE = `harbour-quiz-${run}`;
const PROMPTS = ['Which harbour is the oldest in Europe', 'Which harbour handles the most containers'];

// Runs as its own process: the instrumentation hooks `require('openai')`, which jest's module sandbox would hide.
const INSTRUMENTED_APP = `
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': process.env.SERVICE_NAME }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_URL }))],
});
provider.register();
const instrumentation = new OpenAIInstrumentation();
// 0.21.0 declares its metric instruments as class fields, which reset them after the base constructor made them,
// and its stream path then throws; setting the meter provider makes them again.
instrumentation.setMeterProvider(require('@opentelemetry/api').metrics.getMeterProvider());
const { OpenAI } = require('openai');
const [plainPrompt, streamPrompt] = JSON.parse(process.env.PROMPTS);
(async () => {
  const client = new OpenAI({ apiKey: 'sk-test-not-a-real-key-000000000000', baseURL: process.env.OPENAI_BASE_URL, maxRetries: 0 });
  const model = process.env.MODEL;
  const plain = await client.chat.completions.create({ model, messages: [{ role: 'user', content: plainPrompt }] });
  let streamed = '';
  const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: streamPrompt }], stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify([plain.choices[0].message.content, streamed]));
})().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exitCode = 1; });
`;

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let gateway: ServiceProcess;
let otlpFile: string;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-otel-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) } });
  otlpFile = path.join(workDir, 'gateway-spans.jsonl');
  gateway = await startGatewayProcess({ workDir: path.join(workDir, 'gateway'), config: { exporters: { ...FAST_DELIVERY } }, otlpFile });
});

afterAll(async () => {
  await gateway?.stop();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

function runInstrumentedApp(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = path.join(workDir, 'instrumented-app.js');
  fs.writeFileSync(script, INSTRUMENTED_APP);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
        NODE_EXTRA_CA_CERTS: certs.caCertPath,
        OTLP_URL: `http://127.0.0.1:${gateway.otlpPort}/v1/traces`,
        OPENAI_BASE_URL: `${mock.url}/v1`,
        SERVICE_NAME: SERVICE,
        MODEL,
        PROMPTS: JSON.stringify(PROMPTS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: AnyValue[] } };
type KeyValue = { key: string; value: AnyValue };
interface FileSpan {
  name: string;
  startTimeUnixNano: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

function valueOf(value: AnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

const flatten = (attributes: KeyValue[] = []) => Object.fromEntries(attributes.map((kv) => [kv.key, valueOf(kv.value)]));

/** The spans of the gateway's --otlp-file, one OTLP/JSON ExportTraceServiceRequest per line. */
function spansInFile(): FileSpan[] {
  if (!fs.existsSync(otlpFile)) return [];
  const spans: FileSpan[] = [];
  for (const line of fs.readFileSync(otlpFile, 'utf8').split('\n').filter((l) => l.trim() !== '')) {
    const request = JSON.parse(line) as {
      resourceSpans: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans: Array<{ spans: Array<{ name: string; startTimeUnixNano: string; kind: number; attributes?: KeyValue[] }> }> }>;
    };
    for (const resourceSpans of request.resourceSpans) {
      const resource = flatten(resourceSpans.resource?.attributes);
      for (const scope of resourceSpans.scopeSpans) {
        for (const span of scope.spans) spans.push({ name: span.name, startTimeUnixNano: span.startTimeUnixNano, kind: span.kind, attributes: flatten(span.attributes), resource });
      }
    }
  }
  return spans;
}

test('spans of @opentelemetry/instrumentation-openai reach the gateway normalised, priced and counted', async () => {
  const app = await runInstrumentedApp();
  expect(app.stderr).toBe('');
  expect(app.code).toBe(0);
  const replies = JSON.parse(app.stdout) as string[];

  const spans = await waitFor('two spans in the gateway --otlp-file', () => {
    const ours = spansInFile().filter((span) => span.resource['service.name'] === SERVICE);
    return ours.length >= 2 ? ours : undefined;
  });
  expect(spans).toHaveLength(2);
  // The app makes its calls one after the other: plain first, then streamed.
  spans.sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
  const words = (text: string) => text.trim().split(/\s+/).length;

  PROMPTS.forEach((prompt, i) => {
    const span = spans[i];
    const inputTokens = words(prompt);
    const outputTokens = words(replies[i]);
    expect(span.name).toBe(`chat ${MODEL}`);
    expect(span.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(span.attributes).toMatchObject({
      // OpenTelemetry semantic-convention names
      'gen_ai.provider.name': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': MODEL,
      'gen_ai.response.model': MODEL,
      'gen_ai.usage.input_tokens': inputTokens,
      'gen_ai.usage.output_tokens': outputTokens,
      'gen_ai.response.finish_reasons': ['stop'],
      'server.address': '127.0.0.1',
      'server.port': mock.port,
      // the seed's names
      'gen_ai.system': 'openai',
      'gen_ai.response.usage.input_tokens': inputTokens,
      'gen_ai.response.usage.output_tokens': outputTokens,
      'gen_ai.response.usage.total_tokens': inputTokens + outputTokens,
      'gen_ai.response.finish_reason': 'stop',
      'sightline.client': SERVICE,
    });
    expect(span.attributes['sightline.cost.usd']).toBeCloseTo((inputTokens * prices['gpt-4o'].input + outputTokens * prices['gpt-4o'].output) / 1e6, 12);
    expect(JSON.stringify(span)).not.toContain('sk-test-not-a-real-key');
  });

  const metrics = await gateway.metrics();
  const model = { gen_ai_request_model: MODEL };
  const totalInput = PROMPTS.reduce((sum, prompt) => sum + words(prompt), 0);
  const totalOutput = replies.reduce((sum, reply) => sum + words(reply), 0);
  expect(sampleValue(metrics, 'sightline_gen_ai_requests_total', { ...model, gen_ai_system: 'openai', client: SERVICE })).toBe(2);
  expect(sampleValue(metrics, 'sightline_gen_ai_errors_total', model) ?? 0).toBe(0);
  expect(sampleValue(metrics, 'sightline_gen_ai_response_usage_input_tokens', model)).toBe(totalInput);
  expect(sampleValue(metrics, 'sightline_gen_ai_response_usage_total_tokens', model)).toBe(totalInput + totalOutput);
  expect(sampleValue(metrics, 'gen_ai_client_token_usage_sum', { ...model, gen_ai_token_type: 'output' })).toBe(totalOutput);
  expect(sampleValue(metrics, 'gen_ai_client_operation_duration_seconds_count', { ...model, gen_ai_operation_name: 'chat' })).toBe(2);
});
