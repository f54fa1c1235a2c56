/** The mock's demo behaviours, through the official SDKs: tool calls once per conversation, and per-model failures and delays. */
import { mkdtemp, readFile, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { Agent, fetch as undiciFetch } from 'undici';
import { startMockProvider, type MockProvider } from '../../sensor/demo/mock-provider';
import { generateTestCertificates } from '../../sensor/demo/test-ca';

let dir: string;
let mock: MockProvider;
let dispatcher: Agent;
let ca: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sightline-mock-tools-'));
  const certs = await generateTestCertificates(dir);
  ca = await readFile(certs.caCertPath, 'utf8');
  mock = await startMockProvider({
    tls: { key: await readFile(certs.keyPath), cert: await readFile(certs.certPath) },
    slowModels: { 'o3-mini': 300 },
    rateLimitedModels: ['gpt-4.1'],
    deniedModels: ['anthropic.claude-3-opus-20240229-v1:0'],
  });
  dispatcher = new Agent({ connect: { ca } });
});

afterAll(async () => {
  await dispatcher?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

const sdkOptions = (apiKey: string, baseURL: string) => ({ apiKey, baseURL, maxRetries: 0, fetch: undiciFetch as unknown as typeof fetch, fetchOptions: { dispatcher } as Record<string, unknown> });
const weather = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

test('OpenAI: a tool call first, with the city the user named; text once the tool answered, also for later turns', async () => {
  const openai = new OpenAI(sdkOptions('sk-test', `${mock.url}/v1`));
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Lisbon tomorrow?' }];
  const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weather] });
  expect(first.choices[0].finish_reason).toBe('tool_calls');
  const call = first.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Lisbon"}' });
  messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"forecast":"sunny"}' });
  const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weather] });
  expect(second.choices[0].message.content).toMatch(/^This is a deterministic mock answer/);
  messages.push(second.choices[0].message, { role: 'user', content: 'And in Porto?' });
  const third = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weather] });
  expect(third.choices[0].finish_reason).toBe('stop');
});

test('Anthropic: tool_use first, text after the tool_result', async () => {
  const anthropic = new Anthropic(sdkOptions('sk-ant-test', mock.url));
  const tools = [{ name: 'find_hotel', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Find me a quiet hotel in Porto.' }];
  const first = await anthropic.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 100, tools, messages });
  expect(first.stop_reason).toBe('tool_use');
  const use = first.content[0] as Anthropic.ToolUseBlock;
  expect([use.name, use.input]).toEqual(['find_hotel', { city: 'Porto' }]);
  messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Casa do Rio' }] });
  const second = await anthropic.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 100, tools, messages });
  expect(second.stop_reason).toBe('end_turn');
});

test('per-model options: a slow model, a rate-limited one, a Bedrock model without access', async () => {
  const openai = new OpenAI(sdkOptions('sk-test', `${mock.url}/v1`));
  const started = Date.now();
  await openai.chat.completions.create({ model: 'o3-mini', messages: [{ role: 'user', content: 'think' }] });
  expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  await expect(openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 429 });
  const bedrock = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: mock.url, maxAttempts: 1, credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'x' }, requestHandler: { nodeHttp2ConnectOptions: { ca } } as never });
  await expect(bedrock.send(new ConverseCommand({ modelId: 'anthropic.claude-3-opus-20240229-v1:0', messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  bedrock.destroy();
});
