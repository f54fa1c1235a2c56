import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { startOtlpReceiver, type RunningOtlpReceiver } from '../../sensor/receiver/otlp-receiver';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

/** A plain-HTTP stand-in for the Chat Completions API. */
async function startFakeOpenAi(): Promise<{ server: http.Server; port: number; requests: Array<{ path: string; body: Record<string, unknown> }> }> {
  const requests: Array<{ path: string; body: Record<string, unknown> }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      requests.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'Content-Type': 'application/json', 'x-request-id': 'req_123' });
      res.end(JSON.stringify({
        id: 'chatcmpl-test-1',
        object: 'chat.completion',
        created: 1_760_000_000,
        model: 'gpt-4o-mini-2024-07-18',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Paris', refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 21, completion_tokens: 2, total_tokens: 23 },
        system_fingerprint: 'fp_test',
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

/**
 * The instrumented application runs as its own Node process: the instrumentation hooks `require` and the
 * OTLP exporter loads `http` with a dynamic import(), and neither works inside jest's module sandbox.
 * This is also how it runs for real: an untouched app with the OTel SDK, exporting to the receiver.
 */
const INSTRUMENTED_CLIENT = `
const { NodeTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'geo-quiz' }),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_URL }))],
});
provider.register();
// Enabled on construction: hooks require('openai') and reports to the registered global provider.
new OpenAIInstrumentation();
const { OpenAI } = require('openai');
(async () => {
  const client = new OpenAI({ apiKey: 'sk-test-not-a-real-key-000000000000', baseURL: process.env.OPENAI_BASE_URL, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Capital of France?' }],
    temperature: 0.2,
  });
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(completion.choices[0].message.content + '\\n');
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exitCode = 1;
});
`;

function runInstrumentedClient(receiverPort: number, openAiPort: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', INSTRUMENTED_CLIENT], {
      cwd: process.cwd(),
      env: {
        PATH: process.env.PATH,
        OTLP_URL: `http://127.0.0.1:${receiverPort}/v1/traces`,
        OPENAI_BASE_URL: `http://127.0.0.1:${openAiPort}/v1`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('spans from @opentelemetry/instrumentation-openai', () => {
  let receiver: RunningOtlpReceiver;
  let fakeOpenAi: Awaited<ReturnType<typeof startFakeOpenAi>>;

  afterEach(async () => {
    await receiver?.close();
    await new Promise((resolve) => fakeOpenAi?.server.close(resolve));
  });

  it('arrive at the receiver normalised, with model and tokens', async () => {
    const received: GenAiSpan[] = [];
    receiver = await startOtlpReceiver({ config: { host: '127.0.0.1', port: 0 }, onSpans: (spans) => void received.push(...spans) });
    fakeOpenAi = await startFakeOpenAi();

    const child = await runInstrumentedClient(receiver.port, fakeOpenAi.port);
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    expect(child.stdout.trim()).toBe('Paris');
    expect(fakeOpenAi.requests.map((request) => request.path)).toEqual(['/v1/chat/completions']);

    expect(received).toHaveLength(1);
    const [span] = received;
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.kind).toBe('client');
    expect(span.source).toBe('otlp');
    expect(span.resource['service.name']).toBe('geo-quiz');
    expect(span.attributes).toMatchObject({
      'gen_ai.system': 'openai',
      'gen_ai.provider.name': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 2,
      'gen_ai.response.usage.input_tokens': 21,
      'gen_ai.response.usage.output_tokens': 2,
      'gen_ai.response.usage.total_tokens': 23,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.response.finish_reason': 'stop',
      'gen_ai.response.id': 'chatcmpl-test-1',
      'server.address': '127.0.0.1',
      'sightline.client': 'geo-quiz',
      'sightline.server': '127.0.0.1',
    });
    expect(JSON.stringify(span.attributes)).not.toContain('sk-test-not-a-real-key');
  });
});
