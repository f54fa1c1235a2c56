/**
 * From TLS bytes to OpenTelemetry GenAI spans, for real: the compiled sensor runs in its own process with
 * its eBPF probes attached; the official openai, @anthropic-ai/sdk and @aws-sdk/client-bedrock-runtime
 * clients, Debian's python3 (httpx over HTTP/2) and curl --http2 call a local TLS mock provider from
 * child processes; every span they cause is read back from the sensor's --otlp-file and checked
 * attribute by attribute. Other sensors and clients may run on this machine, so spans are picked by pid.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates, type TestCertificates } from '../../sensor/demo/test-ca';
import { startSensorProcess, type ExportedSpan, type SensorProcess } from '../support/sensor-process';
import { runProcess, type ClientRun } from '../support/tls-clients';

const CLIENTS = path.join(__dirname, 'clients');
/** Debian's interpreter, linked against the system libssl the sensor probes (and shipping httpx and h2). */
const PYTHON = '/usr/bin/python3';
/** What the sensor names the process: the executable behind the python3 link (python3.11 on Debian 12). */
const PYTHON_EXECUTABLE = path.basename(fs.realpathSync(PYTHON));
const SPAN_KIND_CLIENT = 3;
const STATUS_ERROR = 2;

// The mock's answer: input tokens are the words of the prompt (system text included), the reply is this
// sentence with the first four words of the last user turn, output tokens are its words (cut at max tokens).
const PROMPT = 'Tell me about the sea';
const SYSTEM = 'You are a terse assistant.';
const reply = (lastUserTurn: string, maxWords = Infinity): string =>
  `This is a deterministic mock answer about: ${lastUserTurn.split(' ').slice(0, 4).join(' ')}`.split(' ').slice(0, maxWords).join(' ');
const words = (text: string): number => text.split(/\s+/).filter(Boolean).length;
const REPLY = reply(PROMPT);

// Distinctive fake credentials: none of them may appear in any span or log line.
const OPENAI_KEY = 'sk-test-SECRET-openai-123';
const ANTHROPIC_KEY = 'sk-ant-test-SECRET-anthropic-456';
const PYTHON_KEY = 'sk-test-SECRET-python-789';
const CURL_API_KEY = 'sk-ant-test-SECRET-curl-key-012';
const CURL_BEARER = 'SECRET-curl-bearer-345';
const AWS_CREDENTIALS = {
  accessKeyId: 'AKIAE2ESECRETKEYID01',
  secretAccessKey: 'e2e-SECRET-aws-secret-access-key',
  sessionToken: 'e2e-SECRET-aws-session-token-678',
};
const INFERENCE_PROFILE = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
const INFERENCE_PROFILE_ARN = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/${INFERENCE_PROFILE}`;
/** The foundation model the cross-region profile runs. */
const INFERENCE_PROFILE_MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';

const PRICES = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../sensor/pipeline/prices.json'), 'utf8')).models as Record<string, { input: number; output: number }>;

interface ClientResult {
  pid: number;
  results: Array<{ name: string; ok: boolean; value?: any; error?: { status?: number; name?: string; message?: string } }>;
  signedHeaders?: Array<Record<string, string>>;
}

let workDir: string;
let certs: TestCertificates;
let mock: MockProvider;
let sensor: SensorProcess;
let openaiRun: ClientResult;
let anthropicRun: ClientResult;
let bedrockRun: ClientResult;
let pythonRun: PythonRun;
let curlRun: ClientRun;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-'));
  certs = await generateTestCertificates(path.join(workDir, 'tls'));
  mock = await startMockProvider({ tls: { key: fs.readFileSync(certs.keyPath), cert: fs.readFileSync(certs.certPath) }, streamIntervalMs: 2 });
  // Debug logging, so that the credential check covers every line the sensor can write.
  sensor = await startSensorProcess({ env: { SIGHTLINE_LOG_LEVEL: 'debug' } });
  // Independent processes, so they may run side by side; their spans are told apart by pid.
  [openaiRun, anthropicRun, bedrockRun, pythonRun, curlRun] = await Promise.all([
    runNodeClient('openai-client.js', { baseURL: `${mock.url}/v1`, caPath: certs.caCertPath, apiKey: OPENAI_KEY, calls: OPENAI_CALLS }),
    runNodeClient('anthropic-client.js', { baseURL: mock.url, caPath: certs.caCertPath, apiKey: ANTHROPIC_KEY, calls: ANTHROPIC_CALLS }),
    runNodeClient('bedrock-client.js', { endpoint: mock.url, caPath: certs.caCertPath, credentials: AWS_CREDENTIALS, calls: BEDROCK_CALLS }),
    runPython(),
    runCurlAnthropic(),
  ]);
}, 45_000);

afterAll(async () => {
  await pythonRun?.finish();
  await sensor?.remove();
  await mock?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The calls

const OPENAI_CALLS = [
  {
    name: 'chat',
    api: 'chat',
    params: {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: PROMPT },
      ],
      temperature: 0.2,
      max_tokens: 200,
      top_p: 0.9,
      n: 2,
    },
  },
  {
    name: 'chat-stream',
    api: 'chat-stream',
    params: { model: 'gpt-4o', messages: [{ role: 'user', content: PROMPT }], temperature: 0.7, max_tokens: 5, stream: true, stream_options: { include_usage: true } },
  },
  {
    name: 'responses',
    api: 'responses',
    params: { model: 'gpt-4.1-mini', instructions: 'Answer briefly.', input: PROMPT, max_output_tokens: 64, temperature: 0.5, top_p: 0.8 },
  },
  { name: 'responses-stream', api: 'responses-stream', params: { model: 'gpt-4.1-nano', input: [{ role: 'user', content: PROMPT }], max_output_tokens: 3 } },
  { name: 'embeddings', api: 'embeddings', params: { model: 'text-embedding-3-small', input: ['the sea is wide', 'the sky is blue'] } },
  { name: 'rate-limited', api: 'chat', params: { model: 'gpt-4o-mini-error-429', messages: [{ role: 'user', content: PROMPT }] } },
];

const FOLLOW_UP = 'The Baltic sea please';
const ANTHROPIC_CALLS = [
  {
    name: 'messages',
    api: 'messages',
    params: { model: 'claude-3-5-haiku-20241022', system: SYSTEM, messages: [{ role: 'user', content: PROMPT }], max_tokens: 256, temperature: 0.3, top_p: 0.95 },
  },
  {
    name: 'messages-stream',
    api: 'messages-stream',
    params: {
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'user', content: PROMPT },
        { role: 'assistant', content: 'Which sea?' },
        { role: 'user', content: FOLLOW_UP },
      ],
      max_tokens: 1024,
      tools: [{ name: 'sea_temperature', description: 'Water temperature of a sea in degrees Celsius.', input_schema: { type: 'object', properties: { sea: { type: 'string' } } } }],
    },
  },
  { name: 'rate-limited', api: 'messages', params: { model: 'claude-error-429', messages: [{ role: 'user', content: PROMPT }], max_tokens: 16 } },
];

const BEDROCK_CALLS = [
  {
    name: 'converse',
    api: 'converse',
    params: {
      modelId: 'amazon.nova-lite-v1:0',
      system: [{ text: SYSTEM }],
      messages: [{ role: 'user', content: [{ text: PROMPT }] }],
      inferenceConfig: { maxTokens: 300, temperature: 0.4, topP: 0.85 },
    },
  },
  {
    name: 'converse-stream',
    api: 'converse-stream',
    params: { modelId: INFERENCE_PROFILE_ARN, messages: [{ role: 'user', content: [{ text: PROMPT }] }], inferenceConfig: { maxTokens: 500 } },
  },
  {
    name: 'invoke',
    api: 'invoke',
    params: {
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      contentType: 'application/json',
      accept: 'application/json',
      body: { anthropic_version: 'bedrock-2023-05-31', system: 'Be brief.', messages: [{ role: 'user', content: PROMPT }], max_tokens: 128, temperature: 0.1 },
    },
  },
  {
    name: 'invoke-stream',
    api: 'invoke-stream',
    params: {
      modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      contentType: 'application/json',
      body: { anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: PROMPT }], max_tokens: 4 },
    },
  },
  { name: 'denied', api: 'converse', params: { modelId: 'anthropic.claude-denied-v1:0', messages: [{ role: 'user', content: [{ text: PROMPT }] }] } },
];

const PYTHON_PROMPT = 'Write a haiku about TLS';
const CURL_BODY = { model: 'claude-3-haiku-20240307', max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] };

async function runNodeClient(script: string, plan: unknown): Promise<ClientResult> {
  const run = await runProcess(process.execPath, [path.join(CLIENTS, script)], process.env, JSON.stringify(plan));
  if (run.exitCode !== 0) throw new Error(`${script} failed (${run.exitCode}): ${run.stderr}`);
  const output = JSON.parse(run.stdout) as ClientResult;
  expect(output.pid).toBe(run.pid);
  return output;
}

interface PythonRun {
  pid: number;
  output: any;
  /** Closes its stdin, which lets it exit; resolves to the exit code. */
  finish(): Promise<number | null>;
}

/** Starts the python client and waits for its answer; it keeps running (process still there to enrich from) until finish(). */
async function runPython(): Promise<PythonRun> {
  const plan = {
    url: `${mock.url}/v1/chat/completions`,
    caPath: certs.caCertPath,
    apiKey: PYTHON_KEY,
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: PYTHON_PROMPT }], temperature: 0, max_tokens: 50 },
  };
  const child = spawn(PYTHON, [path.join(CLIENTS, 'openai_chat_httpx.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.write(`${JSON.stringify(plan)}\n`);
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('\n')) resolve(stdout.slice(0, stdout.indexOf('\n')));
    });
    child.on('error', reject);
    void exited.then((code) => reject(new Error(`python client exited (${code}) without an answer: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    output: JSON.parse(line),
    finish: () => {
      child.stdin.end();
      return exited;
    },
  };
}

/** Header values go through a file, so that no credential is on curl's command line (the sensor records it). */
function curlFiles(name: string, headers: string[], body: string | object): { headers: string; body: string } {
  const headerFile = path.join(workDir, `${name}.headers`);
  const bodyFile = path.join(workDir, `${name}.body`);
  fs.writeFileSync(headerFile, headers.map((header) => `${header}\n`).join(''));
  fs.writeFileSync(bodyFile, typeof body === 'string' ? body : JSON.stringify(body));
  return { headers: headerFile, body: bodyFile };
}

async function runCurlAnthropic(): Promise<ClientRun> {
  const files = curlFiles('anthropic', [`x-api-key: ${CURL_API_KEY}`, `authorization: Bearer ${CURL_BEARER}`, 'anthropic-version: 2023-06-01', 'content-type: application/json'], CURL_BODY);
  const run = await runProcess('curl', ['-sS', '--fail-with-body', '--http2', '--cacert', certs.caCertPath, '-H', `@${files.headers}`, '--data-binary', `@${files.body}`, `${mock.url}/v1/messages`]);
  if (run.exitCode !== 0) throw new Error(`curl failed (${run.exitCode}): ${run.stderr}`);
  return run;
}

// ---------------------------------------------------------------------------------------------
// Expected attributes

type Attributes = Record<string, unknown>;

function identity(provider: string, operation: string, requestModel: string): Attributes {
  return {
    'gen_ai.operation.name': operation,
    'gen_ai.system': provider,
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': requestModel,
    'sightline.source': 'ebpf',
  };
}

function usage(input: number, output: number | undefined, extra: Attributes = {}): Attributes {
  const total = input + (output ?? 0);
  return {
    'gen_ai.response.usage.input_tokens': input,
    'gen_ai.usage.input_tokens': input,
    ...(output === undefined ? {} : { 'gen_ai.response.usage.output_tokens': output, 'gen_ai.usage.output_tokens': output }),
    'gen_ai.response.usage.total_tokens': total,
    ...extra,
  };
}

function finish(...reasons: string[]): Attributes {
  return { 'gen_ai.response.finish_reason': reasons.join(','), 'gen_ai.response.finish_reasons': reasons };
}

/** Where the call went, and who made it (the process's executable name). */
function endpoint(client: string, status: number): Attributes {
  return {
    'server.address': '127.0.0.1',
    'server.port': mock.port,
    'sightline.server': '127.0.0.1',
    'sightline.client': client,
    'http.response.status_code': status,
    // python hands its connected socket to OpenSSL (SSL_set_fd), so the capture resolves the socket's peer;
    // node and curl feed OpenSSL through their own BIOs and get none.
    ...(client === PYTHON_EXECUTABLE ? { 'network.peer.address': '127.0.0.1', 'network.peer.port': mock.port } : {}),
  };
}

function cost(priceKey: string, input: number, output: number): Attributes {
  const price = PRICES[priceKey];
  if (!price) throw new Error(`prices.json has no ${priceKey}`);
  return { 'sightline.cost.usd': (input * price.input + output * price.output) / 1e6 };
}

const text = (content: string) => ({ type: 'text', content });
const user = (content: string) => ({ role: 'user', parts: [text(content)] });
const assistant = (content: string, finishReason: string) => ({ role: 'assistant', parts: [text(content)], finish_reason: finishReason });

/** Content attributes are JSON strings; compare them as values. */
function readable(attributes: Attributes): Attributes {
  const out = { ...attributes };
  for (const name of ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions']) {
    if (typeof out[name] === 'string') out[name] = JSON.parse(out[name] as string);
  }
  return out;
}

function spanNamed(spans: ExportedSpan[], name: string): ExportedSpan {
  const matching = spans.filter((span) => span.name === name);
  if (matching.length !== 1) throw new Error(`expected one span named '${name}', found ${matching.length} among: ${spans.map((span) => span.name).join(', ')}`);
  return matching[0];
}

/** The span's full attribute set equals `expected` (cost compared to 12 digits), and its shape is a CLIENT span. */
function expectSpan(span: ExportedSpan, expected: Attributes, options: { error?: string; stream?: boolean } = {}): void {
  expect(span.kind).toBe(SPAN_KIND_CLIENT);
  expect(span.name).toBe(`${expected['gen_ai.operation.name']} ${expected['gen_ai.request.model']}`);
  expect(span.endTimeUnixNano).toBeGreaterThan(span.startTimeUnixNano);
  expect(span.status).toEqual(options.error === undefined ? { code: 0 } : { code: STATUS_ERROR, message: options.error });
  const { 'sightline.cost.usd': actualCost, 'gen_ai.response.time_to_first_chunk': firstChunk, ...actual } = readable(span.attributes);
  const { 'sightline.cost.usd': expectedCost, ...rest } = expected;
  expect(actual).toEqual(rest);
  if (expectedCost === undefined) expect(actualCost).toBeUndefined();
  else expect(actualCost).toBeCloseTo(expectedCost as number, 12);
  if (options.stream) {
    // Seconds from the end of the request to the first streamed chunk: within the span's duration.
    const durationSeconds = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e9;
    expect(typeof firstChunk).toBe('number');
    expect(firstChunk as number).toBeGreaterThan(0);
    expect(firstChunk as number).toBeLessThanOrEqual(durationSeconds);
  } else {
    expect(firstChunk).toBeUndefined();
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI

describe('openai SDK over HTTP/1.1', () => {
  let spans: ExportedSpan[];
  beforeAll(async () => {
    spans = await sensor.waitForSpans(openaiRun.pid, OPENAI_CALLS.length);
  });
  const result = (name: string) => openaiRun.results.find((entry) => entry.name === name)!;

  it('makes exactly one span per call', () => {
    expect(spans.map((span) => span.name).sort()).toEqual(
      ['chat gpt-4o-mini', 'chat gpt-4o', 'chat gpt-4.1-mini', 'chat gpt-4.1-nano', 'embeddings text-embedding-3-small', 'chat gpt-4o-mini-error-429'].sort(),
    );
  });

  it('chat completion with a system prompt, sampling parameters and two choices', () => {
    const completion = result('chat').value;
    expect(completion.choices.map((choice: any) => choice.message.content)).toEqual([REPLY, REPLY]);
    const input = words(SYSTEM) + words(PROMPT);
    const output = 2 * words(REPLY);
    expectSpan(spanNamed(spans, 'chat gpt-4o-mini'), {
      ...identity('openai', 'chat', 'gpt-4o-mini'),
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 200,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.stream': false,
      'gen_ai.request.message_count': 2,
      'gen_ai.request.system_prompt': true,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.choice_count': 2,
      'gen_ai.request.choice.count': 2,
      'gen_ai.response.message_id': completion.id,
      'gen_ai.response.id': completion.id,
      'gen_ai.response.system_fingerprint': 'fp_mock0001',
      'openai.response.system_fingerprint': 'fp_mock0001',
      ...finish('stop', 'stop'),
      'gen_ai.response.tools_used': 0,
      ...usage(input, output, { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.reasoning.output_tokens': 0 }),
      ...endpoint('node', 200),
      'gen_ai.input.messages': [{ role: 'system', parts: [text(SYSTEM)] }, user(PROMPT)],
      'gen_ai.output.messages': [assistant(REPLY, 'stop'), assistant(REPLY, 'stop')],
      ...cost('gpt-4o-mini', input, output),
    });
  });

  it('streamed chat completion cut by max_tokens, with usage from the last chunk', () => {
    const streamed = result('chat-stream').value;
    const answer = reply(PROMPT, 5);
    expect(streamed).toMatchObject({ text: answer, finishReason: 'length', usage: { prompt_tokens: 5, completion_tokens: 5 } });
    expectSpan(
      spanNamed(spans, 'chat gpt-4o'),
      {
        ...identity('openai', 'chat', 'gpt-4o'),
        'gen_ai.response.model': 'gpt-4o',
        'gen_ai.request.temperature': 0.7,
        'gen_ai.request.max_tokens': 5,
        'gen_ai.request.stream': true,
        'gen_ai.request.message_count': 1,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': false,
        'gen_ai.response.choice_count': 1,
        'gen_ai.request.choice.count': 1,
        'gen_ai.response.message_id': streamed.id,
        'gen_ai.response.id': streamed.id,
        'gen_ai.response.system_fingerprint': 'fp_mock0001',
        'openai.response.system_fingerprint': 'fp_mock0001',
        ...finish('length'),
        'gen_ai.response.tools_used': 0,
        ...usage(words(PROMPT), 5, { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.reasoning.output_tokens': 0 }),
        ...endpoint('node', 200),
        'gen_ai.input.messages': [user(PROMPT)],
        'gen_ai.output.messages': [assistant(answer, 'length')],
        ...cost('gpt-4o', words(PROMPT), 5),
      },
      { stream: true },
    );
  });

  it('responses API with instructions', () => {
    const response = result('responses').value;
    expect(response.output_text).toBe(REPLY);
    const input = words('Answer briefly.') + words(PROMPT);
    expectSpan(spanNamed(spans, 'chat gpt-4.1-mini'), {
      ...identity('openai', 'chat', 'gpt-4.1-mini'),
      'gen_ai.response.model': 'gpt-4.1-mini',
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.top_p': 0.8,
      'gen_ai.request.stream': false,
      'gen_ai.request.message_count': 1,
      'gen_ai.request.system_prompt': true,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.choice_count': 1,
      'gen_ai.request.choice.count': 1,
      'gen_ai.response.message_id': response.id,
      'gen_ai.response.id': response.id,
      ...finish('stop'),
      'gen_ai.response.tools_used': 0,
      ...usage(input, words(REPLY), { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.reasoning.output_tokens': 0 }),
      ...endpoint('node', 200),
      'gen_ai.input.messages': [user(PROMPT)],
      'gen_ai.system_instructions': [text('Answer briefly.')],
      'gen_ai.output.messages': [assistant(REPLY, 'stop')],
      ...cost('gpt-4.1-mini', input, words(REPLY)),
    });
  });

  it('streamed responses API call cut by max_output_tokens, with usage from the final event', () => {
    const streamed = result('responses-stream').value;
    const answer = reply(PROMPT, 3);
    expect(streamed).toMatchObject({ status: 'incomplete', text: answer, usage: { input_tokens: 5, output_tokens: 3 } });
    expectSpan(
      spanNamed(spans, 'chat gpt-4.1-nano'),
      {
        ...identity('openai', 'chat', 'gpt-4.1-nano'),
        'gen_ai.response.model': 'gpt-4.1-nano',
        'gen_ai.request.max_tokens': 3,
        'gen_ai.request.stream': true,
        'gen_ai.request.message_count': 1,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': false,
        'gen_ai.response.choice_count': 1,
        'gen_ai.request.choice.count': 1,
        'gen_ai.response.message_id': streamed.id,
        'gen_ai.response.id': streamed.id,
        ...finish('length'),
        'gen_ai.response.tools_used': 0,
        ...usage(words(PROMPT), 3, { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.reasoning.output_tokens': 0 }),
        ...endpoint('node', 200),
        'gen_ai.input.messages': [user(PROMPT)],
        'gen_ai.output.messages': [assistant(answer, 'length')],
        ...cost('gpt-4.1-nano', words(PROMPT), 3),
      },
      { stream: true },
    );
  });

  it('embeddings', () => {
    const embeddings = result('embeddings').value;
    expect(embeddings.data).toHaveLength(2);
    const input = words('the sea is wide') + words('the sky is blue');
    expectSpan(spanNamed(spans, 'embeddings text-embedding-3-small'), {
      ...identity('openai', 'embeddings', 'text-embedding-3-small'),
      'gen_ai.response.model': 'text-embedding-3-small',
      'gen_ai.request.stream': false,
      'gen_ai.request.system_prompt': false,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.tools_used': 0,
      ...usage(input, undefined),
      ...endpoint('node', 200),
      ...cost('text-embedding-3-small', input, 0),
    });
  });

  it('a 429 rate-limit error', () => {
    const failed = result('rate-limited');
    expect(failed.ok).toBe(false);
    expect(failed.error!.status).toBe(429);
    const message =
      'Rate limit reached for gpt-4o-mini-error-429 in organization org-mock on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.';
    expectSpan(
      spanNamed(spans, 'chat gpt-4o-mini-error-429'),
      {
        ...identity('openai', 'chat', 'gpt-4o-mini-error-429'),
        'gen_ai.request.stream': false,
        'gen_ai.request.message_count': 1,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': false,
        'gen_ai.response.tools_used': 0,
        'error.type': 'requests',
        'gen_ai.error.type': 'requests',
        'gen_ai.error.code': 'rate_limit_exceeded',
        'gen_ai.error.message': message,
        ...endpoint('node', 429),
        'gen_ai.input.messages': [user(PROMPT)],
      },
      { error: message },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Anthropic

describe('@anthropic-ai/sdk over HTTP/1.1', () => {
  let spans: ExportedSpan[];
  beforeAll(async () => {
    spans = await sensor.waitForSpans(anthropicRun.pid, ANTHROPIC_CALLS.length);
  });
  const result = (name: string) => anthropicRun.results.find((entry) => entry.name === name)!;

  it('makes exactly one span per call', () => {
    expect(spans.map((span) => span.name).sort()).toEqual(['chat claude-3-5-haiku-20241022', 'chat claude-sonnet-4-5', 'chat claude-error-429'].sort());
  });

  it('message with a system prompt and sampling parameters', () => {
    const message = result('messages').value;
    expect(message.content[0].text).toBe(REPLY);
    const input = words(SYSTEM) + words(PROMPT);
    expectSpan(spanNamed(spans, 'chat claude-3-5-haiku-20241022'), {
      ...identity('anthropic', 'chat', 'claude-3-5-haiku-20241022'),
      'gen_ai.response.model': 'claude-3-5-haiku-20241022',
      'gen_ai.request.temperature': 0.3,
      'gen_ai.request.max_tokens': 256,
      'gen_ai.request.top_p': 0.95,
      'gen_ai.request.stream': false,
      'gen_ai.request.message_count': 1,
      'gen_ai.request.system_prompt': true,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.choice_count': 1,
      'gen_ai.request.choice.count': 1,
      'gen_ai.response.message_id': message.id,
      'gen_ai.response.id': message.id,
      ...finish('end_turn'),
      'gen_ai.response.tools_used': 0,
      ...usage(input, words(REPLY), { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.cache_creation.input_tokens': 0 }),
      ...endpoint('node', 200),
      'gen_ai.input.messages': [user(PROMPT)],
      'gen_ai.system_instructions': [text(SYSTEM)],
      'gen_ai.output.messages': [assistant(REPLY, 'end_turn')],
      ...cost('claude-3-5-haiku', input, words(REPLY)),
    });
  });

  it('streamed message over a three-turn conversation, offering a tool', () => {
    const streamed = result('messages-stream').value;
    const answer = reply(FOLLOW_UP);
    expect(streamed).toMatchObject({ text: answer, stopReason: 'end_turn' });
    const input = words(PROMPT) + words('Which sea?') + words(FOLLOW_UP);
    expectSpan(
      spanNamed(spans, 'chat claude-sonnet-4-5'),
      {
        ...identity('anthropic', 'chat', 'claude-sonnet-4-5'),
        'gen_ai.response.model': 'claude-sonnet-4-5',
        'gen_ai.request.max_tokens': 1024,
        'gen_ai.request.stream': true,
        'gen_ai.request.message_count': 3,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': true,
        'gen_ai.response.choice_count': 1,
        'gen_ai.request.choice.count': 1,
        'gen_ai.response.message_id': streamed.id,
        'gen_ai.response.id': streamed.id,
        ...finish('end_turn'),
        'gen_ai.response.tools_used': 0,
        ...usage(input, words(answer), { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.cache_creation.input_tokens': 0 }),
        ...endpoint('node', 200),
        'gen_ai.input.messages': [user(PROMPT), { role: 'assistant', parts: [text('Which sea?')] }, user(FOLLOW_UP)],
        'gen_ai.output.messages': [assistant(answer, 'end_turn')],
        ...cost('claude-sonnet-4-5', input, words(answer)),
      },
      { stream: true },
    );
  });

  it('a 429 rate_limit_error', () => {
    const failed = result('rate-limited');
    expect(failed.ok).toBe(false);
    expect(failed.error!.status).toBe(429);
    const message = 'Number of request tokens has exceeded your per-minute rate limit. Please try again later.';
    expectSpan(
      spanNamed(spans, 'chat claude-error-429'),
      {
        ...identity('anthropic', 'chat', 'claude-error-429'),
        'gen_ai.request.max_tokens': 16,
        'gen_ai.request.stream': false,
        'gen_ai.request.message_count': 1,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': false,
        'gen_ai.response.tools_used': 0,
        'error.type': 'rate_limit_error',
        'gen_ai.error.type': 'rate_limit_error',
        'gen_ai.error.message': message,
        ...endpoint('node', 429),
        'gen_ai.input.messages': [user(PROMPT)],
      },
      { error: message },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Bedrock

describe('@aws-sdk/client-bedrock-runtime over HTTP/2', () => {
  let spans: ExportedSpan[];
  beforeAll(async () => {
    spans = await sensor.waitForSpans(bedrockRun.pid, BEDROCK_CALLS.length);
  });
  const result = (name: string) => bedrockRun.results.find((entry) => entry.name === name)!;

  it('makes exactly one span per call', () => {
    expect(spans.map((span) => span.name).sort()).toEqual(
      [
        'chat amazon.nova-lite-v1:0',
        `chat ${INFERENCE_PROFILE_ARN}`,
        'chat anthropic.claude-3-haiku-20240307-v1:0',
        'chat anthropic.claude-3-5-haiku-20241022-v1:0',
        'chat anthropic.claude-denied-v1:0',
      ].sort(),
    );
  });

  it('converse with system text and inference configuration', () => {
    const output = result('converse').value;
    expect(output.output.message.content[0].text).toBe(REPLY);
    const input = words(SYSTEM) + words(PROMPT);
    expectSpan(spanNamed(spans, 'chat amazon.nova-lite-v1:0'), {
      ...identity('aws.bedrock', 'chat', 'amazon.nova-lite-v1:0'),
      // Converse answers carry no model: the one addressed is the one that answered.
      'gen_ai.response.model': 'amazon.nova-lite-v1:0',
      'gen_ai.request.temperature': 0.4,
      'gen_ai.request.max_tokens': 300,
      'gen_ai.request.top_p': 0.85,
      'gen_ai.request.stream': false,
      'gen_ai.request.message_count': 1,
      'gen_ai.request.system_prompt': true,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.choice_count': 1,
      'gen_ai.request.choice.count': 1,
      ...finish('end_turn'),
      'gen_ai.response.tools_used': 0,
      ...usage(input, words(REPLY)),
      ...endpoint('node', 200),
      'gen_ai.input.messages': [user(PROMPT)],
      'gen_ai.system_instructions': [text(SYSTEM)],
      'gen_ai.output.messages': [assistant(REPLY, 'end_turn')],
      ...cost('amazon.nova-lite', input, words(REPLY)),
    });
  });

  it('converse-stream addressed by an inference-profile ARN: the ARN as requested, the model the profile runs as the one that answered', () => {
    expect(result('converse-stream').value).toMatchObject({ text: REPLY, stopReason: 'end_turn' });
    expectSpan(
      spanNamed(spans, `chat ${INFERENCE_PROFILE_ARN}`),
      {
        ...identity('aws.bedrock', 'chat', INFERENCE_PROFILE_ARN),
        'gen_ai.response.model': INFERENCE_PROFILE_MODEL,
        'gen_ai.request.max_tokens': 500,
        'gen_ai.request.stream': true,
        'gen_ai.request.message_count': 1,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': false,
        'gen_ai.response.choice_count': 1,
        'gen_ai.request.choice.count': 1,
        ...finish('end_turn'),
        'gen_ai.response.tools_used': 0,
        ...usage(words(PROMPT), words(REPLY)),
        ...endpoint('node', 200),
        'gen_ai.input.messages': [user(PROMPT)],
        'gen_ai.output.messages': [assistant(REPLY, 'end_turn')],
        ...cost('claude-3-5-haiku', words(PROMPT), words(REPLY)),
      },
      { stream: true },
    );
  });

  it('invoke with an Anthropic messages body', () => {
    const body = result('invoke').value;
    expect(body.content[0].text).toBe(REPLY);
    const input = words('Be brief.') + words(PROMPT);
    expectSpan(spanNamed(spans, 'chat anthropic.claude-3-haiku-20240307-v1:0'), {
      ...identity('aws.bedrock', 'chat', 'anthropic.claude-3-haiku-20240307-v1:0'),
      'gen_ai.response.model': 'claude-3-haiku-20240307',
      'gen_ai.request.temperature': 0.1,
      'gen_ai.request.max_tokens': 128,
      'gen_ai.request.stream': false,
      'gen_ai.request.message_count': 1,
      'gen_ai.request.system_prompt': true,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.choice_count': 1,
      'gen_ai.request.choice.count': 1,
      'gen_ai.response.message_id': body.id,
      'gen_ai.response.id': body.id,
      ...finish('end_turn'),
      'gen_ai.response.tools_used': 0,
      ...usage(input, words(REPLY), { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.cache_creation.input_tokens': 0 }),
      ...endpoint('node', 200),
      'gen_ai.input.messages': [user(PROMPT)],
      'gen_ai.system_instructions': [text('Be brief.')],
      'gen_ai.output.messages': [assistant(REPLY, 'end_turn')],
      ...cost('claude-3-haiku', input, words(REPLY)),
    });
  });

  it('invoke-with-response-stream cut by max_tokens', () => {
    const { chunks } = result('invoke-stream').value;
    const answer = reply(PROMPT, 4);
    const messageId = chunks[0].message.id;
    expect(chunks.filter((chunk: any) => chunk.type === 'content_block_delta').map((chunk: any) => chunk.delta.text).join('')).toBe(answer);
    expectSpan(
      spanNamed(spans, 'chat anthropic.claude-3-5-haiku-20241022-v1:0'),
      {
        ...identity('aws.bedrock', 'chat', 'anthropic.claude-3-5-haiku-20241022-v1:0'),
        'gen_ai.response.model': 'claude-3-5-haiku-20241022',
        'gen_ai.request.max_tokens': 4,
        'gen_ai.request.stream': true,
        'gen_ai.request.message_count': 1,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': false,
        'gen_ai.response.choice_count': 1,
        'gen_ai.request.choice.count': 1,
        'gen_ai.response.message_id': messageId,
        'gen_ai.response.id': messageId,
        ...finish('max_tokens'),
        'gen_ai.response.tools_used': 0,
        ...usage(words(PROMPT), 4, { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.cache_creation.input_tokens': 0 }),
        ...endpoint('node', 200),
        'gen_ai.input.messages': [user(PROMPT)],
        'gen_ai.output.messages': [assistant(answer, 'max_tokens')],
        ...cost('claude-3-5-haiku', words(PROMPT), 4),
      },
      { stream: true },
    );
  });

  it('an AccessDeniedException', () => {
    const failed = result('denied');
    expect(failed.ok).toBe(false);
    expect(failed.error).toMatchObject({ status: 403, name: 'AccessDeniedException' });
    const message = "You don't have access to the model with the specified model ID.";
    expectSpan(
      spanNamed(spans, 'chat anthropic.claude-denied-v1:0'),
      {
        ...identity('aws.bedrock', 'chat', 'anthropic.claude-denied-v1:0'),
        'gen_ai.request.stream': false,
        'gen_ai.request.message_count': 1,
        'gen_ai.request.system_prompt': false,
        'gen_ai.request.tools_used': false,
        'gen_ai.response.tools_used': 0,
        'error.type': 'AccessDeniedException',
        'gen_ai.error.type': 'AccessDeniedException',
        // Bedrock errors have no code of their own besides the type: the HTTP status stands in.
        'gen_ai.error.code': '403',
        'gen_ai.error.message': message,
        ...endpoint('node', 403),
        'gen_ai.input.messages': [user(PROMPT)],
      },
      { error: message },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Clients nobody here wrote

describe('python3 httpx over HTTP/2 and curl --http2', () => {
  it('python: chat completion with temperature 0', async () => {
    expect(pythonRun.output.httpVersion).toBe('HTTP/2');
    const completion = pythonRun.output.body;
    const answer = reply(PYTHON_PROMPT);
    expect(completion.choices[0].message.content).toBe(answer);
    const [span] = await sensor.waitForSpans(pythonRun.pid, 1);
    expect(await pythonRun.finish()).toBe(0);
    expect(sensor.readSpans().filter((candidate) => candidate.resource['process.pid'] === pythonRun.pid)).toHaveLength(1);
    expectSpan(span, {
      ...identity('openai', 'chat', 'gpt-4o-mini'),
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0,
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.stream': false,
      'gen_ai.request.message_count': 1,
      'gen_ai.request.system_prompt': false,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.choice_count': 1,
      'gen_ai.request.choice.count': 1,
      'gen_ai.response.message_id': completion.id,
      'gen_ai.response.id': completion.id,
      'gen_ai.response.system_fingerprint': 'fp_mock0001',
      'openai.response.system_fingerprint': 'fp_mock0001',
      ...finish('stop'),
      'gen_ai.response.tools_used': 0,
      ...usage(words(PYTHON_PROMPT), words(answer), { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.reasoning.output_tokens': 0 }),
      ...endpoint(PYTHON_EXECUTABLE, 200),
      'gen_ai.input.messages': [user(PYTHON_PROMPT)],
      'gen_ai.output.messages': [assistant(answer, 'stop')],
      ...cost('gpt-4o-mini', words(PYTHON_PROMPT), words(answer)),
    });
  });

  it('curl: Anthropic message sent with x-api-key and authorization headers', async () => {
    const message = JSON.parse(curlRun.stdout);
    expect(message.content[0].text).toBe(REPLY);
    const [span] = await sensor.waitForSpans(curlRun.pid, 1);
    expectSpan(span, {
      ...identity('anthropic', 'chat', 'claude-3-haiku-20240307'),
      'gen_ai.response.model': 'claude-3-haiku-20240307',
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.stream': false,
      'gen_ai.request.message_count': 1,
      'gen_ai.request.system_prompt': false,
      'gen_ai.request.tools_used': false,
      'gen_ai.response.choice_count': 1,
      'gen_ai.request.choice.count': 1,
      'gen_ai.response.message_id': message.id,
      'gen_ai.response.id': message.id,
      ...finish('end_turn'),
      'gen_ai.response.tools_used': 0,
      ...usage(words(PROMPT), words(REPLY), { 'gen_ai.usage.cache_read.input_tokens': 0, 'gen_ai.usage.cache_creation.input_tokens': 0 }),
      ...endpoint('curl', 200),
      'gen_ai.input.messages': [user(PROMPT)],
      'gen_ai.output.messages': [assistant(REPLY, 'end_turn')],
      ...cost('claude-3-haiku', words(PROMPT), words(REPLY)),
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Traffic that is not an LLM call

describe('traffic that is not an LLM call', () => {
  /** One curl process, one connection: the requests under test, then a valid LLM call whose span marks the end. */
  async function curlThenSentinel(name: string, requests: string[][]): Promise<ClientRun> {
    const sentinel = curlFiles(`${name}-sentinel`, [`x-api-key: ${CURL_API_KEY}`, 'content-type: application/json'], CURL_BODY);
    const args = ['-sS', '--http2', '--cacert', certs.caCertPath, '-o', '/dev/null'];
    for (const request of requests) args.push(...request, '--next', '--cacert', certs.caCertPath, '-o', '/dev/null');
    args.push('-H', `@${sentinel.headers}`, '--data-binary', `@${sentinel.body}`, `${mock.url}/v1/messages`);
    const run = await runProcess('curl', args);
    if (run.exitCode !== 0) throw new Error(`curl failed (${run.exitCode}): ${run.stderr}`);
    return run;
  }

  it('ordinary HTTPS requests make no span and are skipped without keeping their bodies', async () => {
    const ignoredBefore = (await sensor.metricValue('sightline_http_ignored_exchanges_total')) ?? 0;
    const run = await curlThenSentinel('plain', [[`${mock.url}/healthz`], [`${mock.url}/v1/models`], ['--data-binary', 'hello', `${mock.url}/upload`]]);
    const spans = await sensor.waitForSpans(run.pid, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sensor.readSpans().filter((span) => span.resource['process.pid'] === run.pid).map((span) => span.name)).toEqual(['chat claude-3-haiku-20240307']);
    expect(spans[0].attributes['http.response.status_code']).toBe(200);
    // Other clients on the machine may add to the count, never take from it.
    expect((await sensor.metricValue('sightline_http_ignored_exchanges_total'))! - ignoredBefore).toBeGreaterThanOrEqual(3);
  });

  it('an HTTP/1.1 keep-alive connection mixing ordinary requests and LLM calls: a span per LLM call, the rest never leaves the kernel', async () => {
    const skippedBefore = (await sensor.metricValue('sightline_capture_skipped_bytes_total')) ?? 0;
    const call = curlFiles('mixed-h1', [`x-api-key: ${CURL_API_KEY}`, 'content-type: application/json'], CURL_BODY);
    const upload = 'u'.repeat(20_000);
    const args = ['-sS', '--http1.1', '--cacert', certs.caCertPath, '-o', '/dev/null', `${mock.url}/healthz`];
    for (const request of [
      ['-H', `@${call.headers}`, '--data-binary', `@${call.body}`, `${mock.url}/v1/messages`],
      ['--data-binary', upload, `${mock.url}/upload`],
      ['-H', `@${call.headers}`, '--data-binary', `@${call.body}`, `${mock.url}/v1/messages`],
    ]) {
      args.push('--next', '-sS', '--http1.1', '--cacert', certs.caCertPath, '-o', '/dev/null', ...request);
    }
    const run = await runProcess('curl', args);
    expect(run.exitCode).toBe(0);
    await sensor.waitForSpans(run.pid, 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sensor.readSpans().filter((span) => span.resource['process.pid'] === run.pid).map((span) => span.name)).toEqual(['chat claude-3-haiku-20240307', 'chat claude-3-haiku-20240307']);
    // The upload and its answer, at least, were judged and skipped in the kernel.
    expect((await sensor.metricValue('sightline_capture_skipped_bytes_total'))! - skippedBefore).toBeGreaterThanOrEqual(upload.length);
    // This kernel (6.18) has uprobe sessions, and the sensor uses them.
    expect(await sensor.metricValue('sightline_capture_uprobe_sessions')).toBe(1);
  });

  it('an HTTP/2 connection whose first requests are no LLM call is muted whole', async () => {
    const verdictsBefore = (await sensor.metricValue('sightline_capture_user_verdicts_total')) ?? 0;
    const mutedBefore = (await sensor.metricValue('sightline_capture_muted_calls_total')) ?? 0;
    const args = ['-sS', '--http2', '--cacert', certs.caCertPath, '-o', '/dev/null', `${mock.url}/healthz`];
    for (let i = 0; i < 8; i++) args.push('--next', '-sS', '--http2', '--cacert', certs.caCertPath, '-o', '/dev/null', `${mock.url}/v1/models?page=${i}`);
    const run = await runProcess('curl', args);
    expect(run.exitCode).toBe(0);
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
      if (((await sensor.metricValue('sightline_capture_user_verdicts_total')) ?? 0) > verdictsBefore) break;
    }
    expect((await sensor.metricValue('sightline_capture_user_verdicts_total'))! - verdictsBefore).toBeGreaterThanOrEqual(1);
    // The requests after the verdict cost the kernel a lookup each, and user space nothing.
    expect((await sensor.metricValue('sightline_capture_muted_calls_total'))! - mutedBefore).toBeGreaterThan(0);
    expect(sensor.readSpans().filter((span) => span.resource['process.pid'] === run.pid)).toEqual([]);
  });

  it('a call on an LLM path whose body is not JSON is counted and logged as unparsed, not turned into a span', async () => {
    const unparsedBefore = (await sensor.metricValue('sightline_llm_unparsed_calls_total')) ?? 0;
    const marker = randomBytes(6).toString('hex');
    const run = await curlThenSentinel('unparsed', [['-H', 'content-type: application/json', '--data-binary', 'this is not json', `${mock.url}/v1/chat/completions?e2e=${marker}`]]);
    await sensor.waitForSpans(run.pid, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sensor.readSpans().filter((span) => span.resource['process.pid'] === run.pid).map((span) => span.name)).toEqual(['chat claude-3-haiku-20240307']);
    expect((await sensor.metricValue('sightline_llm_unparsed_calls_total'))! - unparsedBefore).toBeGreaterThanOrEqual(1);
    const warning = sensor
      .stderr()
      .split('\n')
      .filter((line) => line.includes('could not be parsed'))
      .map((line) => JSON.parse(line))
      .filter((line) => line.pid === run.pid);
    // The query string is left out of the log: it may carry a credential the parser does not know by name.
    expect(warning).toEqual([expect.objectContaining({ msg: 'an LLM call could not be parsed', provider: 'openai', path: '/v1/chat/completions', process: 'curl' })]);
    expect(sensor.stderr()).not.toContain(marker);
    expect(warning[0].reason).toMatch(/not a JSON object/);
  });
});

// ---------------------------------------------------------------------------------------------
// Credentials (last: it stops the sensor so that everything is flushed)

describe('credentials', () => {
  it('no API key, bearer token or SigV4 part reaches the OTLP file or the sensor log', async () => {
    const signed = bedrockRun.signedHeaders ?? [];
    expect(signed.length).toBe(BEDROCK_CALLS.length);
    const sigV4Parts = signed.flatMap((headers) => {
      expect(headers['x-amz-security-token']).toBe(AWS_CREDENTIALS.sessionToken);
      expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
      expect(headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
      const signature = /Signature=([0-9a-f]{64})/.exec(headers.authorization ?? '')?.[1];
      expect(signature).toBeDefined();
      return [headers.authorization, signature!, headers['x-amz-date'], headers['x-amz-content-sha256']].filter((value): value is string => Boolean(value));
    });
    const secrets = [
      OPENAI_KEY,
      ANTHROPIC_KEY,
      PYTHON_KEY,
      CURL_API_KEY,
      CURL_BEARER,
      AWS_CREDENTIALS.accessKeyId,
      AWS_CREDENTIALS.secretAccessKey,
      AWS_CREDENTIALS.sessionToken,
      ...sigV4Parts,
    ];
    expect(await sensor.stop()).toBe(0);
    const otlp = fs.readFileSync(sensor.otlpFile, 'utf8');
    const log = sensor.stderr();
    // The file does hold this run's calls, so an empty file cannot pass.
    expect(otlp).toContain(`"intValue":${curlRun.pid}`);
    for (const secret of secrets) {
      expect({ secret, inOtlpFile: otlp.includes(secret) }).toEqual({ secret, inOtlpFile: false });
      expect({ secret, inLog: log.includes(secret) }).toEqual({ secret, inLog: false });
    }
  });
});
