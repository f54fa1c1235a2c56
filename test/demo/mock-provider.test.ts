/**
 * The mock provider, driven by the official SDKs over real TLS: if the SDKs parse its answers,
 * the mock speaks the providers' wire formats (JSON, SSE, AWS event-stream over HTTP/2).
 */
import { mkdtemp, readFile, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import http2 from 'http2';
import https from 'https';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { Agent, fetch as undiciFetch } from 'undici';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates } from '../../sensor/demo/test-ca';
import { decodeEventStream } from '../../sensor/http/eventstream';

// "Tell me about the sea" is 5 words; the mock answers with the first four words of the last user turn.
const PROMPT = 'Tell me about the sea';
const REPLY = 'This is a deterministic mock answer about: Tell me about the';
const REPLY_WORDS = 11;

let dir: string;
let ca: string;
let mock: MockProvider;
let dispatcher: Agent;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sightline-mock-'));
  const certs = await generateTestCertificates(dir);
  ca = await readFile(certs.caCertPath, 'utf8');
  mock = await startMockProvider({ tls: { key: await readFile(certs.keyPath), cert: await readFile(certs.certPath) } });
  dispatcher = new Agent({ connect: { ca } });
});

afterAll(async () => {
  await dispatcher?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

function openai(): OpenAI {
  return new OpenAI({
    apiKey: 'sk-test-not-a-key',
    baseURL: `${mock.url}/v1`,
    maxRetries: 0,
    fetch: undiciFetch as unknown as typeof fetch,
    fetchOptions: { dispatcher } as Record<string, unknown>,
  });
}

function anthropic(): Anthropic {
  return new Anthropic({
    apiKey: 'sk-ant-test-not-a-key',
    baseURL: mock.url,
    maxRetries: 0,
    fetch: undiciFetch as unknown as typeof fetch,
    fetchOptions: { dispatcher } as Record<string, unknown>,
  });
}

function bedrock(): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: mock.url,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    maxAttempts: 1,
    // The SDK's default HTTP/2 handler, trusting the throwaway CA.
    requestHandler: { nodeHttp2ConnectOptions: { ca }, disableConcurrentStreams: true },
  });
}

describe('test CA', () => {
  it('issues a certificate that a strict TLS client accepts for 127.0.0.1 and localhost', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request({ host, port: mock.port, method: 'POST', path: '/v1/models-nowhere', ca, servername: host === 'localhost' ? host : undefined }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end('{}');
      });
      expect(status).toBe(404);
    }
  });

  it('is refused by a client that does not trust the CA', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: mock.port, method: 'POST', path: '/v1/chat/completions' }, resolve);
        req.on('error', reject);
        req.end('{}');
      }),
    ).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('names the missing openssl command', async () => {
    await expect(generateTestCertificates(join(dir, 'none'), { openssl: '/nonexistent/openssl' })).rejects.toThrow(
      "demo: the '/nonexistent/openssl' command was not found; install OpenSSL",
    );
  });
});

describe('mock OpenAI, through the openai SDK', () => {
  it('chat completions', async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: PROMPT }],
    });
    expect(completion.choices[0].message.content).toBe(REPLY);
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: REPLY_WORDS, total_tokens: 16 });
  });

  it('chat completions cut by max_tokens finish with length', async () => {
    const completion = await openai().chat.completions.create({ model: 'gpt-4o', max_tokens: 3, messages: [{ role: 'user', content: PROMPT }] });
    expect(completion.choices[0].message.content).toBe('This is a');
    expect(completion.choices[0].finish_reason).toBe('length');
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  it('streaming chat completions, with and without the usage chunk', async () => {
    const withUsage = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief' }, { role: 'user', content: PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null = null;
    for await (const chunk of withUsage) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(REPLY);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 7, completion_tokens: REPLY_WORDS });

    const withoutUsage = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }], stream: true });
    let sawUsage = false;
    text = '';
    for await (const chunk of withoutUsage) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) sawUsage = true;
    }
    expect(text).toBe(REPLY);
    expect(sawUsage).toBe(false);
  });

  it('responses, streaming and not', async () => {
    const response = await openai().responses.create({ model: 'gpt-4.1-mini', input: PROMPT, instructions: 'Answer' });
    expect(response.output_text).toBe(REPLY);
    expect(response.usage).toMatchObject({ input_tokens: 6, output_tokens: REPLY_WORDS, total_tokens: 17 });

    const stream = await openai().responses.create({ model: 'gpt-4.1-mini', input: [{ role: 'user', content: PROMPT }], stream: true });
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(text).toBe(REPLY);
    expect(completed?.usage?.output_tokens).toBe(REPLY_WORDS);
  });

  it('embeddings, base64 as the SDK asks by default, and floats', async () => {
    const base64 = await openai().embeddings.create({ model: 'text-embedding-3-small', input: ['one two', 'three'] });
    expect(base64.data).toHaveLength(2);
    expect(base64.data[0].embedding).toHaveLength(8);
    expect(base64.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const floats = await openai().embeddings.create({ model: 'text-embedding-3-small', input: 'one two', encoding_format: 'float', dimensions: 4 });
    expect(floats.data[0].embedding).toHaveLength(4);
    const norm = Math.hypot(...floats.data[0].embedding);
    expect(norm).toBeCloseTo(1, 4);
  });

  it('legacy completions, streaming and not', async () => {
    const completion = await openai().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: PROMPT, max_tokens: 50 });
    expect(completion.choices[0].text).toBe(REPLY);
    expect(completion.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: REPLY_WORDS });
    const stream = await openai().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: PROMPT, max_tokens: 50, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(REPLY);
  });

  it('a model named error-429 gets the rate-limit error', async () => {
    const failure = await openai()
      .chat.completions.create({ model: 'gpt-4o-error-429', messages: [{ role: 'user', content: 'hi' }] })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(OpenAI.RateLimitError);
    expect((failure as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded');
  });
});

describe('mock Anthropic, through the @anthropic-ai/sdk', () => {
  it('messages', async () => {
    const message = await anthropic().messages.create({
      model: 'claude-3-5-haiku-20241022',
      max_tokens: 100,
      system: 'Be kind',
      messages: [{ role: 'user', content: PROMPT }],
    });
    expect(message.content).toEqual([{ type: 'text', text: REPLY }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toMatchObject({ input_tokens: 7, output_tokens: REPLY_WORDS });
  });

  it('streaming messages', async () => {
    const stream = anthropic().messages.stream({ model: 'claude-3-5-haiku-20241022', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const message = await stream.finalMessage();
    expect(text).toBe(REPLY);
    expect(message.usage).toMatchObject({ input_tokens: 5, output_tokens: REPLY_WORDS });
    expect(message.stop_reason).toBe('end_turn');
  });

  it('a model named error-429 gets the rate-limit error', async () => {
    const failure = await anthropic()
      .messages.create({ model: 'claude-error-429', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Anthropic.RateLimitError);
    expect((failure as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });
});

describe('mock Bedrock, through @aws-sdk/client-bedrock-runtime over HTTP/2', () => {
  it('converse', async () => {
    const out = await bedrock().send(
      new ConverseCommand({
        modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
        messages: [{ role: 'user', content: [{ text: PROMPT }] }],
        system: [{ text: 'Be kind' }],
      }),
    );
    expect(out.output?.message?.content?.[0]?.text).toBe(REPLY);
    expect(out.stopReason).toBe('end_turn');
    expect(out.usage).toMatchObject({ inputTokens: 7, outputTokens: REPLY_WORDS, totalTokens: 18 });
    expect(typeof out.metrics?.latencyMs).toBe('number');
  });

  it('converse-stream, through an inference-profile ARN', async () => {
    const out = await bedrock().send(
      new ConverseStreamCommand({
        modelId: 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0',
        messages: [{ role: 'user', content: [{ text: PROMPT }] }],
        inferenceConfig: { maxTokens: 4 },
      }),
    );
    let text = '';
    let stopReason: string | undefined;
    let usage: { inputTokens?: number; outputTokens?: number } | undefined;
    for await (const event of out.stream!) {
      text += event.contentBlockDelta?.delta?.text ?? '';
      stopReason = event.messageStop?.stopReason ?? stopReason;
      usage = event.metadata?.usage ?? usage;
    }
    expect(text).toBe('This is a deterministic');
    expect(stopReason).toBe('max_tokens');
    expect(usage).toMatchObject({ inputTokens: 5, outputTokens: 4 });
  });

  it('invoke, Anthropic family, with token headers', async () => {
    const out = await bedrock().send(
      new InvokeModelCommand({
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        contentType: 'application/json',
        body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] }),
      }),
    );
    const body = JSON.parse(Buffer.from(out.body).toString('utf8'));
    expect(body.content[0].text).toBe(REPLY);
    expect(body.usage).toMatchObject({ input_tokens: 5, output_tokens: REPLY_WORDS });
    expect(body.model).toBe('claude-3-haiku-20240307');
  });

  it.each([
    ['amazon.titan-text-express-v1', { inputText: PROMPT }, (b: any) => b.results[0].outputText, (b: any) => b.inputTextTokenCount],
    ['meta.llama3-8b-instruct-v1:0', { prompt: PROMPT, max_gen_len: 100 }, (b: any) => b.generation, (b: any) => b.prompt_token_count],
    ['mistral.mistral-7b-instruct-v0:2', { prompt: PROMPT, max_tokens: 100 }, (b: any) => b.outputs[0].text, () => 5],
    ['cohere.command-r-v1:0', { message: PROMPT }, (b: any) => b.text, () => 5],
    ['amazon.nova-micro-v1:0', { messages: [{ role: 'user', content: [{ text: PROMPT }] }] }, (b: any) => b.output.message.content[0].text, (b: any) => b.usage.inputTokens],
  ])('invoke, %s family', async (modelId, request, replyOf, inputTokensOf) => {
    const out = await bedrock().send(new InvokeModelCommand({ modelId, contentType: 'application/json', body: JSON.stringify(request) }));
    const body = JSON.parse(Buffer.from(out.body).toString('utf8'));
    expect(replyOf(body)).toBe(REPLY);
    expect(inputTokensOf(body)).toBe(5);
  });

  it('invoke, embeddings families', async () => {
    const titan = await bedrock().send(new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', body: JSON.stringify({ inputText: 'one two three' }) }));
    expect(JSON.parse(Buffer.from(titan.body).toString())).toMatchObject({ inputTextTokenCount: 3 });
    const cohere = await bedrock().send(new InvokeModelCommand({ modelId: 'cohere.embed-english-v3', body: JSON.stringify({ texts: ['a', 'b'], input_type: 'search_query' }) }));
    expect(JSON.parse(Buffer.from(cohere.body).toString()).embeddings).toHaveLength(2);
  });

  it('invoke-with-response-stream, Anthropic family, with invocation metrics in the last chunk', async () => {
    const out = await bedrock().send(
      new InvokeModelWithResponseStreamCommand({
        modelId: 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
        contentType: 'application/json',
        body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] }),
      }),
    );
    const events: any[] = [];
    for await (const part of out.body!) events.push(JSON.parse(Buffer.from(part.chunk!.bytes!).toString('utf8')));
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
    expect(text).toBe(REPLY);
    expect(events[0]).toMatchObject({ type: 'message_start', message: { usage: { input_tokens: 5 } } });
    expect(events.at(-1)).toMatchObject({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 5, outputTokenCount: REPLY_WORDS } });
  });

  it('invoke-with-response-stream, Llama family', async () => {
    const out = await bedrock().send(
      new InvokeModelWithResponseStreamCommand({ modelId: 'meta.llama3-8b-instruct-v1:0', body: JSON.stringify({ prompt: PROMPT, max_gen_len: 100 }) }),
    );
    let text = '';
    let stopReason: string | null = null;
    for await (const part of out.body!) {
      const event = JSON.parse(Buffer.from(part.chunk!.bytes!).toString('utf8'));
      text += event.generation;
      stopReason = event.stop_reason ?? stopReason;
    }
    expect(text).toBe(REPLY);
    expect(stopReason).toBe('stop');
  });

  it('a model id containing "denied" gets AccessDeniedException with its x-amzn-errortype header', async () => {
    const failure = await bedrock()
      .send(new ConverseCommand({ modelId: 'anthropic.claude-denied-v1:0', messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))
      .catch((err: unknown) => err as { name: string; message: string; $metadata: { httpStatusCode?: number } });
    expect(failure).toMatchObject({ name: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." });
    expect((failure as { $metadata: { httpStatusCode?: number } }).$metadata.httpStatusCode).toBe(403);
  });

  it('a model id containing "error-429" gets ThrottlingException', async () => {
    const failure = await bedrock()
      .send(new InvokeModelWithResponseStreamCommand({ modelId: 'meta.llama-error-429', body: JSON.stringify({ prompt: 'x' }) }))
      .catch((err: unknown) => err as { name: string });
    expect(failure).toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('mock provider wire details', () => {
  /** A raw h2 request, to see the bytes the SDKs hide. */
  function h2Post(path: string, body: unknown): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(mock.url, { ca });
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
      const chunks: Buffer[] = [];
      let headers: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (headers = h));
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        session.close();
        resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) });
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  it('frames converse-stream as CRC-valid event-stream messages', async () => {
    const answer = await h2Post('/model/amazon.nova-pro-v1%3A0/converse-stream', { messages: [{ role: 'user', content: [{ text: 'hi there' }] }] });
    expect(answer.headers['content-type']).toBe('application/vnd.amazon.eventstream');
    const decoded = decodeEventStream(answer.body);
    expect(decoded.error).toBeUndefined();
    expect(decoded.messages.map((m) => m.eventType)).toEqual([
      'messageStart',
      ...Array(9).fill('contentBlockDelta'),
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    expect(JSON.parse(decoded.messages.at(-1)!.payload.toString()).usage).toEqual({ inputTokens: 2, outputTokens: 9, totalTokens: 11 });
  });

  it('sends the x-amzn-bedrock token headers on invoke and the error type header on a denied model', async () => {
    const ok = await h2Post('/model/mistral.mistral-7b-instruct-v0%3A2/invoke', { prompt: 'a b c' });
    expect(ok.headers['x-amzn-bedrock-input-token-count']).toBe('3');
    expect(ok.headers['x-amzn-bedrock-output-token-count']).toBe('10');
    expect(Number(ok.headers['x-amzn-bedrock-invocation-latency'])).toBeGreaterThanOrEqual(0);
    const denied = await h2Post('/model/amazon.titan-denied/invoke', { inputText: 'x' });
    expect(denied.status).toBe(403);
    expect(denied.headers['x-amzn-errortype']).toBe('AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/');
  });

  it('answers a body that is not JSON with the provider-shaped 400', async () => {
    const session = http2.connect(mock.url, { ca });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/v1/messages' });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end('{not json');
    });
    session.close();
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'The request body is not valid JSON.' } });
  });

  it('applies the configured latency and the slow-model delay', async () => {
    const certsDir = join(dir, 'latency');
    const certs = await generateTestCertificates(certsDir);
    const delayed = await startMockProvider({
      tls: { key: await readFile(certs.keyPath), cert: await readFile(certs.certPath) },
      latencyMs: (call) => (call.provider === 'anthropic' ? 150 : 0),
    });
    const client = new Anthropic({
      apiKey: 'x',
      baseURL: delayed.url,
      maxRetries: 0,
      fetch: undiciFetch as unknown as typeof fetch,
      fetchOptions: { dispatcher: new Agent({ connect: { ca: await readFile(certs.caCertPath, 'utf8') } }) } as Record<string, unknown>,
    });
    try {
      let started = Date.now();
      await client.messages.create({ model: 'claude-fast', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      started = Date.now();
      await client.messages.create({ model: 'claude-slow', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1350);
    } finally {
      await delayed.close();
    }
  });
});
