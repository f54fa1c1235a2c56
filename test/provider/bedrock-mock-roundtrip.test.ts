/**
 * Bytes from the demo's mock Bedrock (whose wire format the official SDK accepts, see
 * test/demo/mock-provider.test.ts) read back by the adapter: what the demo sends, the sensor understands.
 */
import { mkdtemp, readFile, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import http2 from 'http2';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates } from '../../sensor/demo/test-ca';
import type { HttpExchange } from '../../sensor/http/http-exchange';
import { bedrockAdapter } from '../../sensor/provider/bedrock';

let dir: string;
let ca: string;
let mock: MockProvider;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sightline-bedrock-rt-'));
  const certs = await generateTestCertificates(dir);
  ca = await readFile(certs.caCertPath, 'utf8');
  mock = await startMockProvider({ tls: { key: await readFile(certs.keyPath), cert: await readFile(certs.certPath) } });
});

afterAll(async () => {
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends one request over h2 and records it as the HTTP stage would. */
async function exchangeWithMock(path: string, requestBody: unknown): Promise<HttpExchange> {
  const body = Buffer.from(JSON.stringify(requestBody));
  const session = http2.connect(mock.url, { ca });
  try {
    return await new Promise<HttpExchange>((resolve, reject) => {
      const startTsMs = Date.now();
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: Record<string, string> = {};
      let responseStart = 0;
      let firstBodyByteTsMs: number | undefined;
      req.on('response', (raw) => {
        responseStart = Date.now();
        status = Number(raw[':status']);
        headers = Object.fromEntries(
          Object.entries(raw)
            .filter(([name]) => !name.startsWith(':'))
            .map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]),
        );
      });
      req.on('data', (chunk: Buffer) => {
        firstBodyByteTsMs ??= Date.now();
        chunks.push(chunk);
      });
      req.on('end', () =>
        resolve({
          connection: { conn: 'rt', connectionId: 3, pid: 1, tid: 1, comm: 'test', cgroupId: 0n, fd: 3 },
          protocol: 'h2',
          streamId: 1,
          request: { method: 'POST', path, authority: `127.0.0.1:${mock.port}`, headers: { 'content-type': 'application/json' }, body, bodyTruncated: false, startTsMs, endTsMs: startTsMs },
          response: { status, headers, body: Buffer.concat(chunks), bodyTruncated: false, startTsMs: responseStart, firstBodyByteTsMs, endTsMs: Date.now(), complete: true },
        }),
      );
      req.on('error', reject);
      req.end(body);
    });
  } finally {
    session.close();
  }
}

describe('bedrock adapter reads the mock provider', () => {
  it('converse-stream', async () => {
    const call = bedrockAdapter.parse(
      await exchangeWithMock('/model/us.amazon.nova-pro-v1%3A0/converse-stream', { messages: [{ role: 'user', content: [{ text: 'one two three' }] }] }),
    );
    expect(call).toMatchObject({ operation: 'chat', stream: true, requestModel: 'us.amazon.nova-pro-v1:0', finishReasons: ['end_turn'], httpStatus: 200, serverPort: mock.port });
    expect(call.usage).toEqual({ inputTokens: 3, outputTokens: 10, totalTokens: 13 });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'This is a deterministic mock answer about: one two three' }]);
  });

  it('invoke-with-response-stream, Anthropic family', async () => {
    const call = bedrockAdapter.parse(
      await exchangeWithMock('/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream', {
        anthropic_version: 'bedrock-2023-05-31',
        max_tokens: 2,
        messages: [{ role: 'user', content: 'alpha beta' }],
      }),
    );
    expect(call).toMatchObject({ operation: 'chat', stream: true, responseModel: 'claude-3-haiku-20240307', finishReasons: ['max_tokens'], maxTokens: 2 });
    expect(call.usage).toEqual({ inputTokens: 2, outputTokens: 2, totalTokens: 4, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'This is' }]);
  });

  it('invoke-with-response-stream, Mistral family: usage only from the invocation metrics', async () => {
    const call = bedrockAdapter.parse(await exchangeWithMock('/model/mistral.mistral-7b-instruct-v0%3A2/invoke-with-response-stream', { prompt: 'a b c d' }));
    expect(call.operation).toBe('text_completion');
    expect(call.usage).toEqual({ inputTokens: 4, outputTokens: 11, totalTokens: 15 });
  });

  it('invoke, Cohere chat family: usage only from the x-amzn-bedrock headers', async () => {
    const call = bedrockAdapter.parse(await exchangeWithMock('/model/cohere.command-r-plus-v1%3A0/invoke', { message: 'hello there' }));
    expect(call.usage).toEqual({ inputTokens: 2, outputTokens: 9, totalTokens: 11 });
    expect(call.finishReasons).toEqual(['COMPLETE']);
  });

  it('a denied model', async () => {
    const call = bedrockAdapter.parse(await exchangeWithMock('/model/anthropic.claude-denied/converse', { messages: [] }));
    expect(call.httpStatus).toBe(403);
    expect(call.error).toEqual({ type: 'AccessDeniedException', code: '403', message: "You don't have access to the model with the specified model ID." });
  });
});
