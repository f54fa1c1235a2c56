/**
 * A local TLS server that answers like OpenAI, Anthropic and AWS Bedrock Runtime, so that the demo
 * and the end-to-end tests produce real provider traffic (through the official SDKs) with no account.
 *
 * Answers are deterministic: input tokens are the words of the prompt, the reply is a fixed sentence
 * about the prompt, output tokens are its words (cut at the request's max tokens).
 * Triggers in the model name: `error-429` answers the provider's rate-limit error, a Bedrock model id
 * containing `denied` answers 403 AccessDeniedException, `slow` answers after SLOW_MODEL_DELAY_MS (the options
 * name real models for the same). A chat request with tools whose last turn is the user's gets a call of its first
 * tool (OpenAI chat and Anthropic messages, not streamed), once per conversation; after its result, text answers.
 */
import http2 from 'http2';
import type { TLSSocket } from 'tls';
import { randomUUID } from 'crypto';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

type Request = http2.Http2ServerRequest;
type Response = http2.Http2ServerResponse;
type Json = Record<string, unknown>;

export interface MockCallInfo {
  provider: 'openai' | 'anthropic' | 'aws.bedrock';
  path: string;
  model: string;
  stream: boolean;
}

export interface MockProviderOptions {
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  tls: { key: string | Buffer; cert: string | Buffer };
  /** Delay before the response head, per call. @default 0 */
  latencyMs?: number | ((call: MockCallInfo) => number);
  /** Delay between streamed events. @default 0 */
  streamIntervalMs?: number;
  /** Extra delay per model, e.g. a reasoning model that thinks for a while. @default {} */
  slowModels?: Record<string, number>;
  /** Models that answer with the provider's rate-limit error (429), as a model past its quota does. @default [] */
  rateLimitedModels?: string[];
  /** Bedrock model ids that answer 403 AccessDeniedException, as a model without granted access does. @default [] */
  deniedModels?: string[];
}

export interface MockProvider {
  host: string;
  port: number;
  /** `https://host:port`, for SDK base URLs and endpoints. */
  url: string;
  close(): Promise<void>;
}

/** Long enough to trip the 1 s SLA alarm of the demo's alert rules. */
export const SLOW_MODEL_DELAY_MS = 1200;
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
const EMBEDDING_DIMENSIONS = 8;

export async function startMockProvider(options: MockProviderOptions): Promise<MockProvider> {
  const host = options.host ?? '127.0.0.1';
  const server = http2.createSecureServer({ key: options.tls.key, cert: options.tls.cert, allowHTTP1: true });
  const sockets = new Set<TLSSocket>();
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            resolve();
          }, ms);
          timers.add(timer);
        });
  const context: CallContext = { sleep, options };

  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req: Request, res: Response) => {
    handle(req, res, context).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { error: { message: `mock provider: ${(err as Error).message}`, type: 'server_error' } });
      else if (!res.destroyed) res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    url: `https://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        // Keep-alive clients (the AWS SDK's h2 session, fetch pools) would otherwise hold close() open.
        for (const socket of sockets) socket.destroy();
      }),
  };
}

interface CallContext {
  sleep(ms: number): Promise<void>;
  options: MockProviderOptions;
}

async function handle(req: Request, res: Response, context: CallContext): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'POST') return sendJson(res, 405, { error: { message: `mock provider: ${req.method} ${path} is not supported; use POST`, type: 'invalid_request_error' } });
  const raw = await readBody(req);
  if (raw === undefined) return sendJson(res, 413, { error: { message: `mock provider: request body over ${MAX_REQUEST_BYTES} bytes`, type: 'invalid_request_error' } });

  const bedrock = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|converse|converse-stream)$/.exec(path);
  let body: Json;
  try {
    const parsed: unknown = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    body = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : {};
  } catch {
    if (bedrock) return sendBedrockError(res, 400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
    if (path === '/v1/messages') return sendAnthropicError(res, 400, 'invalid_request_error', 'The request body is not valid JSON.');
    return sendOpenAiError(res, 400, 'invalid_request_error', 'We could not parse the JSON body of your request.', null);
  }

  if (bedrock) {
    const modelId = safeDecode(bedrock[1]);
    const action = bedrock[2];
    return answerBedrock(res, context, modelId, action, body);
  }
  switch (path) {
    case '/v1/chat/completions':
    case '/v1/completions':
    case '/v1/responses':
    case '/v1/embeddings':
      return answerOpenAi(res, context, path, body);
    case '/v1/messages':
      return answerAnthropic(res, context, body);
    default:
      return sendOpenAiError(res, 404, 'invalid_request_error', `Unknown request URL: POST ${path}.`, 'unknown_url');
  }
}

function readBody(req: Request): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function delayFor(context: CallContext, call: MockCallInfo): Promise<void> {
  const configured = context.options.latencyMs;
  const base = typeof configured === 'function' ? configured(call) : (configured ?? 0);
  const slow = call.model.includes('slow') ? SLOW_MODEL_DELAY_MS : (context.options.slowModels?.[call.model] ?? 0);
  await context.sleep(base + slow);
}

function rateLimited(context: CallContext, model: string): boolean {
  return model.includes('error-429') || (context.options.rateLimitedModels ?? []).includes(model);
}

function denied(context: CallContext, modelId: string): boolean {
  return modelId.includes('denied') || (context.options.deniedModels ?? []).includes(modelId);
}

interface ToolUse {
  name: string;
  arguments: Json;
}

/**
 * The call the mock makes when tools are offered and the user spoke last: the first tool, its required string
 * parameters filled with the last capitalised word the user wrote (`Weather in Lisbon?` -> `{"city":"Lisbon"}`).
 */
function toolUse(tools: unknown, lastRole: unknown, lastUser: string, schemaOf: (tool: Json) => unknown, nameOf: (tool: Json) => unknown): ToolUse | undefined {
  if (!Array.isArray(tools) || tools.length === 0 || lastRole !== 'user') return undefined;
  const tool = tools[0] as Json;
  const name = nameOf(tool);
  if (typeof name !== 'string') return undefined;
  const schema = (schemaOf(tool) ?? {}) as Json;
  const required = Array.isArray(schema.required) ? schema.required.filter((key): key is string => typeof key === 'string') : [];
  const capitalised = lastUser.match(/\b[A-Z][\p{L}-]+/gu) ?? [];
  const value = capitalised.at(-1) ?? lastUser.trim();
  return { name, arguments: Object.fromEntries(required.map((key) => [key, value])) };
}

/** Who spoke last; 'tool' once any tool result is in the history, since the mock calls its tool once per conversation. */
function lastRole(messages: unknown): unknown {
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const toolAnswered = messages.some((message) => {
    const entry = message as Json;
    return entry?.role === 'tool' || (Array.isArray(entry?.content) && entry.content.some((block) => (block as Json)?.type === 'tool_result'));
  });
  if (toolAnswered) return 'tool';
  const last = messages[messages.length - 1] as Json;
  // An Anthropic user turn that only carries tool results is the tool answering, not the user.
  if (last.role === 'user' && Array.isArray(last.content) && last.content.every((block) => (block as Json)?.type === 'tool_result')) return 'tool';
  return last.role;
}

// ---------------------------------------------------------------------------------------------
// The deterministic conversation

interface Reply {
  text: string;
  words: string[];
  inputTokens: number;
  outputTokens: number;
  /** True when max tokens cut the reply. */
  truncated: boolean;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function makeReply(promptText: string, lastUserText: string, maxTokens: number | undefined): Reply {
  const topic = lastUserText.split(/\s+/).filter(Boolean).slice(0, 4).join(' ') || 'nothing';
  const full = `This is a deterministic mock answer about: ${topic}`.split(' ');
  const limit = maxTokens !== undefined && maxTokens >= 0 ? Math.min(maxTokens, full.length) : full.length;
  const words = full.slice(0, limit);
  return { text: words.join(' '), words, inputTokens: countWords(promptText), outputTokens: words.length, truncated: limit < full.length };
}

/** Text of a content field: a string, or blocks with `text` (OpenAI, Anthropic, Converse, Responses). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block) => {
      if (typeof block === 'string') return block;
      if (typeof block !== 'object' || block === null) return '';
      const entry = block as Json;
      if (typeof entry.text === 'string') return entry.text;
      return contentText(entry.content);
    })
    .filter(Boolean)
    .join(' ');
}

/** All prompt text of a message list (plus any system text), and the last user turn's text. */
function conversationText(messages: unknown, system?: unknown): { all: string; lastUser: string } {
  const list = Array.isArray(messages) ? (messages as unknown[]) : [];
  const texts = [contentText(system)];
  let lastUser = '';
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null) continue;
    const turn = entry as Json;
    const text = contentText(turn.content ?? turn.message);
    texts.push(text);
    if (turn.role === 'user' || turn.role === 'USER' || turn.role === undefined) lastUser = text;
  }
  return { all: texts.filter(Boolean).join(' '), lastUser };
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.length > 0 ? value : fallback;
}

function shortId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 24);
}

// ---------------------------------------------------------------------------------------------
// OpenAI

async function answerOpenAi(res: Response, context: CallContext, path: string, body: Json): Promise<void> {
  const model = stringOr(body.model, 'gpt-4o-mini');
  const stream = body.stream === true;
  await delayFor(context, { provider: 'openai', path, model, stream });
  if (rateLimited(context, model)) {
    res.setHeader('retry-after', '1');
    return sendOpenAiError(
      res,
      429,
      'requests',
      `Rate limit reached for ${model} in organization org-mock on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.`,
      'rate_limit_exceeded',
    );
  }
  res.setHeader('x-request-id', `req_${shortId()}`);
  res.setHeader('openai-processing-ms', '1');
  const created = Math.floor(Date.now() / 1000);
  const interval = context.options.streamIntervalMs ?? 0;

  if (path === '/v1/embeddings') {
    const inputs = Array.isArray(body.input) && !body.input.every((item) => typeof item === 'number') ? body.input : [body.input];
    const dimensions = numberOr(body.dimensions) ?? EMBEDDING_DIMENSIONS;
    const tokens = inputs.reduce<number>((sum, input) => sum + (typeof input === 'string' ? countWords(input) : Array.isArray(input) ? input.length : 0), 0);
    const data = inputs.map((input, index) => {
      const vector = embeddingFor(JSON.stringify(input), dimensions);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(Float32Array.from(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    return sendJson(res, 200, { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }

  if (path === '/v1/completions') {
    const prompt = Array.isArray(body.prompt) ? body.prompt.join(' ') : stringOr(body.prompt, '');
    const reply = makeReply(prompt, prompt, numberOr(body.max_tokens) ?? 16);
    const id = `cmpl-${shortId()}`;
    const finish = reply.truncated ? 'length' : 'stop';
    const usage = { prompt_tokens: reply.inputTokens, completion_tokens: reply.outputTokens, total_tokens: reply.inputTokens + reply.outputTokens };
    if (!stream) {
      return sendJson(res, 200, { id, object: 'text_completion', created, model, choices: [{ text: reply.text, index: 0, logprobs: null, finish_reason: finish }], usage });
    }
    const base = { id, object: 'text_completion', created, model };
    const events: Json[] = reply.words.map((word, i) => ({ ...base, choices: [{ text: i === 0 ? word : ` ${word}`, index: 0, logprobs: null, finish_reason: null }] }));
    events.push({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: finish }] });
    if (includeUsage(body)) events.push({ ...base, choices: [], usage });
    return sendSse(res, context, interval, [...events.map((event) => ({ data: JSON.stringify(event) })), { data: '[DONE]' }]);
  }

  if (path === '/v1/responses') return answerOpenAiResponses(res, context, body, model, created);

  // /v1/chat/completions
  const { all, lastUser } = conversationText(body.messages);
  const reply = makeReply(all, lastUser, numberOr(body.max_completion_tokens) ?? numberOr(body.max_tokens));
  const choiceCount = Math.max(1, Math.min(8, numberOr(body.n) ?? 1));
  const id = `chatcmpl-${shortId()}`;
  const finish = reply.truncated ? 'length' : 'stop';
  const outputTokens = reply.outputTokens * choiceCount;
  const usage = {
    prompt_tokens: reply.inputTokens,
    completion_tokens: outputTokens,
    total_tokens: reply.inputTokens + outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  const fingerprint = 'fp_mock0001';
  const tool = stream
    ? undefined
    : toolUse(body.tools, lastRole(body.messages), lastUser, (entry) => (entry.function as Json | undefined)?.parameters, (entry) => (entry.function as Json | undefined)?.name);
  if (tool) {
    const toolCalls = [{ id: `call_${shortId()}`, type: 'function', function: { name: tool.name, arguments: JSON.stringify(tool.arguments) } }];
    const toolUsage = { ...usage, completion_tokens: 12, total_tokens: reply.inputTokens + 12 };
    return sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: toolCalls, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'tool_calls' }],
      usage: toolUsage,
      service_tier: 'default',
      system_fingerprint: fingerprint,
    });
  }
  if (!stream) {
    const choices = Array.from({ length: choiceCount }, (_, index) => ({
      index,
      message: { role: 'assistant', content: reply.text, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: finish,
    }));
    return sendJson(res, 200, { id, object: 'chat.completion', created, model, choices, usage, service_tier: 'default', system_fingerprint: fingerprint });
  }
  const base = { id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: fingerprint };
  const chunk = (choices: unknown[], extra: Json = {}): string => JSON.stringify({ ...base, choices, ...extra });
  const events: string[] = [];
  for (let index = 0; index < choiceCount; index++) {
    events.push(chunk([{ index, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]));
    reply.words.forEach((word, i) => events.push(chunk([{ index, delta: { content: i === 0 ? word : ` ${word}` }, logprobs: null, finish_reason: null }])));
    events.push(chunk([{ index, delta: {}, logprobs: null, finish_reason: finish }]));
  }
  if (includeUsage(body)) events.push(chunk([], { usage }));
  return sendSse(res, context, interval, [...events.map((data) => ({ data })), { data: '[DONE]' }]);
}

function includeUsage(body: Json): boolean {
  const streamOptions = body.stream_options;
  return typeof streamOptions === 'object' && streamOptions !== null && (streamOptions as Json).include_usage === true;
}

async function answerOpenAiResponses(res: Response, context: CallContext, body: Json, model: string, created: number): Promise<void> {
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : body.input;
  const { all, lastUser } = conversationText(input, body.instructions);
  const reply = makeReply(all, lastUser, numberOr(body.max_output_tokens));
  const responseId = `resp_${shortId()}`;
  const messageId = `msg_${shortId()}`;
  const usage = {
    input_tokens: reply.inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: reply.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: reply.inputTokens + reply.outputTokens,
  };
  const outputText = { type: 'output_text', text: reply.text, annotations: [], logprobs: [] };
  const item = { id: messageId, type: 'message', status: 'completed', role: 'assistant', content: [outputText] };
  const response = (status: string, output: unknown[], withUsage: boolean): Json => ({
    id: responseId,
    object: 'response',
    created_at: created,
    status,
    error: null,
    incomplete_details: reply.truncated && status !== 'in_progress' ? { reason: 'max_output_tokens' } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output,
    parallel_tool_calls: true,
    temperature: body.temperature ?? 1,
    tool_choice: 'auto',
    tools: [],
    top_p: body.top_p ?? 1,
    usage: withUsage ? usage : null,
  });
  const finalStatus = reply.truncated ? 'incomplete' : 'completed';
  if (body.stream !== true) return sendJson(res, 200, response(finalStatus, [item], true));

  let sequence = 0;
  const event = (type: string, fields: Json): { event: string; data: string } => ({ event: type, data: JSON.stringify({ type, sequence_number: sequence++, ...fields }) });
  const events = [
    event('response.created', { response: response('in_progress', [], false) }),
    event('response.in_progress', { response: response('in_progress', [], false) }),
    event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
    event('response.content_part.added', { item_id: messageId, output_index: 0, content_index: 0, part: { ...outputText, text: '' } }),
    ...reply.words.map((word, i) =>
      event('response.output_text.delta', { item_id: messageId, output_index: 0, content_index: 0, delta: i === 0 ? word : ` ${word}`, logprobs: [] }),
    ),
    event('response.output_text.done', { item_id: messageId, output_index: 0, content_index: 0, text: reply.text, logprobs: [] }),
    event('response.content_part.done', { item_id: messageId, output_index: 0, content_index: 0, part: outputText }),
    event('response.output_item.done', { output_index: 0, item }),
    event(reply.truncated ? 'response.incomplete' : 'response.completed', { response: response(finalStatus, [item], true) }),
  ];
  return sendSse(res, context, context.options.streamIntervalMs ?? 0, events);
}

/** Unit-length vector derived from the input, so equal inputs embed equally. */
function embeddingFor(text: string, dimensions: number): number[] {
  let seed = 2166136261;
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 16777619) >>> 0;
  const vector = Array.from({ length: dimensions }, (_, i) => Math.sin(seed + i * 7919));
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => Math.round((value / norm) * 1e6) / 1e6);
}

function sendOpenAiError(res: Response, status: number, type: string, message: string, code: string | null): void {
  sendJson(res, status, { error: { message, type, param: null, code } });
}

// ---------------------------------------------------------------------------------------------
// Anthropic

interface AnthropicAnswer {
  message: Json;
  /** The stream events of the same answer, each `{type, ...}`. */
  events: Json[];
}

function anthropicAnswer(body: Json, model: string, bedrock: boolean): AnthropicAnswer {
  const { all, lastUser } = conversationText(body.messages, body.system);
  const reply = makeReply(all, lastUser, numberOr(body.max_tokens));
  const stopReason = reply.truncated ? 'max_tokens' : 'end_turn';
  const id = bedrock ? `msg_bdrk_${shortId()}` : `msg_${shortId()}`;
  const usage = { input_tokens: reply.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: reply.outputTokens };
  const message = { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: reply.text }], stop_reason: stopReason, stop_sequence: null, usage };
  const events: Json[] = [
    { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
    ...reply.words.map((word, i) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: i === 0 ? word : ` ${word}` } })),
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: reply.outputTokens } },
    { type: 'message_stop' },
  ];
  return { message, events };
}

async function answerAnthropic(res: Response, context: CallContext, body: Json): Promise<void> {
  const model = stringOr(body.model, 'claude-3-5-haiku-20241022');
  const stream = body.stream === true;
  await delayFor(context, { provider: 'anthropic', path: '/v1/messages', model, stream });
  res.setHeader('request-id', `req_${shortId()}`);
  if (rateLimited(context, model)) {
    res.setHeader('retry-after', '1');
    return sendAnthropicError(res, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit. Please try again later.');
  }
  const { all, lastUser } = conversationText(body.messages, body.system);
  const tool = stream ? undefined : toolUse(body.tools, lastRole(body.messages), lastUser, (entry) => entry.input_schema, (entry) => entry.name);
  if (tool) {
    return sendJson(res, 200, {
      id: `msg_${shortId()}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'tool_use', id: `toolu_${shortId()}`, name: tool.name, input: tool.arguments }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: countWords(all), cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 15 },
    });
  }
  const answer = anthropicAnswer(body, model, false);
  if (!stream) return sendJson(res, 200, answer.message);
  const events = answer.events.map((event) => ({ event: String(event.type), data: JSON.stringify(event) }));
  return sendSse(res, context, context.options.streamIntervalMs ?? 0, events);
}

function sendAnthropicError(res: Response, status: number, type: string, message: string): void {
  sendJson(res, status, { type: 'error', error: { type, message } });
}

// ---------------------------------------------------------------------------------------------
// AWS Bedrock Runtime

const codec = new EventStreamCodec(toUtf8, fromUtf8);

type BedrockFamily = 'anthropic' | 'nova' | 'titan-text' | 'titan-embed' | 'llama' | 'mistral' | 'cohere-chat' | 'cohere-embed';

function bedrockFamily(modelId: string): BedrockFamily {
  const id = (modelId.split('/').pop() ?? modelId).replace(/^(?:us|eu|apac|global)\./, '');
  if (id.startsWith('anthropic.')) return 'anthropic';
  if (id.startsWith('amazon.titan-embed')) return 'titan-embed';
  if (id.startsWith('amazon.titan')) return 'titan-text';
  if (id.startsWith('meta.')) return 'llama';
  if (id.startsWith('mistral.')) return 'mistral';
  if (id.startsWith('cohere.embed')) return 'cohere-embed';
  if (id.startsWith('cohere.')) return 'cohere-chat';
  return 'nova';
}

interface BedrockAnswer {
  /** The non-streaming body. */
  body: Json;
  /** The family's own stream events, for invoke-with-response-stream chunks. */
  events: Json[];
  inputTokens: number;
  outputTokens: number;
}

async function answerBedrock(res: Response, context: CallContext, modelId: string, action: string, body: Json): Promise<void> {
  const stream = action.endsWith('stream');
  await delayFor(context, { provider: 'aws.bedrock', path: `/model/${modelId}/${action}`, model: modelId, stream });
  const startedAt = Date.now();
  res.setHeader('x-amzn-requestid', randomUUID());
  if (denied(context, modelId)) {
    return sendBedrockError(res, 403, 'AccessDeniedException', "You don't have access to the model with the specified model ID.");
  }
  if (rateLimited(context, modelId)) {
    return sendBedrockError(res, 429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
  }
  const interval = context.options.streamIntervalMs ?? 0;

  if (action === 'converse' || action === 'converse-stream') {
    const { all, lastUser } = conversationText(body.messages, body.system);
    const config = (typeof body.inferenceConfig === 'object' && body.inferenceConfig !== null ? body.inferenceConfig : {}) as Json;
    const reply = makeReply(all, lastUser, numberOr(config.maxTokens));
    const stopReason = reply.truncated ? 'max_tokens' : 'end_turn';
    const usage = { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens, totalTokens: reply.inputTokens + reply.outputTokens };
    if (action === 'converse') {
      return sendJson(res, 200, {
        output: { message: { role: 'assistant', content: [{ text: reply.text }] } },
        stopReason,
        usage,
        metrics: { latencyMs: Date.now() - startedAt },
      });
    }
    const events: Array<[string, Json]> = [
      ['messageStart', { role: 'assistant' }],
      ...reply.words.map((word, i): [string, Json] => ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: i === 0 ? word : ` ${word}` } }]),
      ['contentBlockStop', { contentBlockIndex: 0 }],
      ['messageStop', { stopReason }],
      ['metadata', { usage, metrics: { latencyMs: Date.now() - startedAt } }],
    ];
    // Bedrock pads event payloads with a `p` field so that sizes do not reveal content.
    return sendEventStream(res, context, interval, events.map(([type, payload]) => [type, { ...payload, p: 'abcdefghij'.slice(0, 1 + (type.length % 10)) }]));
  }

  const answer = bedrockInvokeAnswer(bedrockFamily(modelId), body, modelId);
  if (action === 'invoke') {
    res.setHeader('x-amzn-bedrock-input-token-count', String(answer.inputTokens));
    res.setHeader('x-amzn-bedrock-output-token-count', String(answer.outputTokens));
    res.setHeader('x-amzn-bedrock-invocation-latency', String(Date.now() - startedAt));
    return sendJson(res, 200, answer.body);
  }
  res.setHeader('x-amzn-bedrock-content-type', 'application/json');
  const chunks = answer.events.map((event, i): [string, Json] => {
    const last = i === answer.events.length - 1;
    const latency = Date.now() - startedAt;
    const withMetrics = last
      ? { ...event, 'amazon-bedrock-invocationMetrics': { inputTokenCount: answer.inputTokens, outputTokenCount: answer.outputTokens, invocationLatency: latency, firstByteLatency: latency } }
      : event;
    return ['chunk', { bytes: Buffer.from(JSON.stringify(withMetrics)).toString('base64') }];
  });
  return sendEventStream(res, context, interval, chunks);
}

function bedrockInvokeAnswer(family: BedrockFamily, body: Json, modelId: string): BedrockAnswer {
  const pieces = (reply: Reply): string[] => reply.words.map((word, i) => (i === 0 ? word : ` ${word}`));
  switch (family) {
    case 'anthropic': {
      const answer = anthropicAnswer(body, modelId.replace(/^.*anthropic\./, '').replace(/-v\d+:\d+$/, ''), true);
      const usage = answer.message.usage as Json;
      return { body: answer.message, events: answer.events.filter((event) => event.type !== 'ping'), inputTokens: Number(usage.input_tokens), outputTokens: Number(usage.output_tokens) };
    }
    case 'nova': {
      const { all, lastUser } = conversationText(body.messages, body.system);
      const config = (typeof body.inferenceConfig === 'object' && body.inferenceConfig !== null ? body.inferenceConfig : {}) as Json;
      const reply = makeReply(all, lastUser, numberOr(config.maxTokens) ?? numberOr(config.max_new_tokens));
      const stopReason = reply.truncated ? 'max_tokens' : 'end_turn';
      const usage = { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens, totalTokens: reply.inputTokens + reply.outputTokens, cacheReadInputTokenCount: 0, cacheWriteInputTokenCount: 0 };
      return {
        body: { output: { message: { role: 'assistant', content: [{ text: reply.text }] } }, stopReason, usage },
        events: [
          { messageStart: { role: 'assistant' } },
          ...pieces(reply).map((text) => ({ contentBlockDelta: { delta: { text }, contentBlockIndex: 0 } })),
          { contentBlockStop: { contentBlockIndex: 0 } },
          { messageStop: { stopReason } },
          { metadata: { usage: { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens }, metrics: {}, trace: {} } },
        ],
        inputTokens: reply.inputTokens,
        outputTokens: reply.outputTokens,
      };
    }
    case 'titan-text': {
      const prompt = stringOr(body.inputText, '');
      const config = (typeof body.textGenerationConfig === 'object' && body.textGenerationConfig !== null ? body.textGenerationConfig : {}) as Json;
      const reply = makeReply(prompt, prompt, numberOr(config.maxTokenCount));
      const reason = reply.truncated ? 'LENGTH' : 'FINISH';
      let sent = 0;
      return {
        body: { inputTextTokenCount: reply.inputTokens, results: [{ tokenCount: reply.outputTokens, outputText: reply.text, completionReason: reason }] },
        events: pieces(reply).map((text, i, all) => ({
          outputText: text,
          index: 0,
          totalOutputTextTokenCount: (sent += 1),
          completionReason: i === all.length - 1 ? reason : null,
          inputTextTokenCount: i === 0 ? reply.inputTokens : null,
        })),
        inputTokens: reply.inputTokens,
        outputTokens: reply.outputTokens,
      };
    }
    case 'titan-embed': {
      const text = stringOr(body.inputText, '');
      const tokens = countWords(text);
      return { body: { embedding: embeddingFor(text, numberOr(body.dimensions) ?? EMBEDDING_DIMENSIONS), inputTextTokenCount: tokens }, events: [], inputTokens: tokens, outputTokens: 0 };
    }
    case 'cohere-embed': {
      const texts = (Array.isArray(body.texts) ? body.texts : []).filter((text): text is string => typeof text === 'string');
      const tokens = texts.reduce((sum, text) => sum + countWords(text), 0);
      return {
        body: { id: randomUUID(), embeddings: texts.map((text) => embeddingFor(text, EMBEDDING_DIMENSIONS)), response_type: 'embeddings_floats', texts },
        events: [],
        inputTokens: tokens,
        outputTokens: 0,
      };
    }
    case 'llama': {
      const prompt = stringOr(body.prompt, '');
      const reply = makeReply(prompt, prompt, numberOr(body.max_gen_len));
      const reason = reply.truncated ? 'length' : 'stop';
      return {
        body: { generation: reply.text, prompt_token_count: reply.inputTokens, generation_token_count: reply.outputTokens, stop_reason: reason },
        events: pieces(reply).map((generation, i, all) => ({
          generation,
          prompt_token_count: i === 0 ? reply.inputTokens : null,
          generation_token_count: i + 1,
          stop_reason: i === all.length - 1 ? reason : null,
        })),
        inputTokens: reply.inputTokens,
        outputTokens: reply.outputTokens,
      };
    }
    case 'mistral': {
      const prompt = stringOr(body.prompt, '');
      const reply = makeReply(prompt, prompt, numberOr(body.max_tokens));
      const reason = reply.truncated ? 'length' : 'stop';
      return {
        body: { outputs: [{ text: reply.text, stop_reason: reason }] },
        events: pieces(reply).map((text, i, all) => ({ outputs: [{ text, stop_reason: i === all.length - 1 ? reason : null }] })),
        inputTokens: reply.inputTokens,
        outputTokens: reply.outputTokens,
      };
    }
    case 'cohere-chat': {
      const history = Array.isArray(body.chat_history) ? body.chat_history : [];
      const current = stringOr(body.message, '');
      const { all } = conversationText(history, body.preamble);
      const reply = makeReply(`${all} ${current}`, current, numberOr(body.max_tokens));
      const reason = reply.truncated ? 'MAX_TOKENS' : 'COMPLETE';
      const generationId = randomUUID();
      const responseId = randomUUID();
      const final = { response_id: responseId, generation_id: generationId, text: reply.text, finish_reason: reason, chat_history: [] };
      return {
        body: final,
        events: [
          { event_type: 'stream-start', is_finished: false, generation_id: generationId },
          ...pieces(reply).map((text) => ({ event_type: 'text-generation', is_finished: false, text })),
          { event_type: 'stream-end', is_finished: true, finish_reason: reason, response: final },
        ],
        inputTokens: reply.inputTokens,
        outputTokens: reply.outputTokens,
      };
    }
  }
}

function sendBedrockError(res: Response, status: number, errorType: string, message: string): void {
  res.setHeader('x-amzn-errortype', `${errorType}:http://internal.amazon.com/coral/com.amazon.coral.service/`);
  sendJson(res, status, { message });
}

// ---------------------------------------------------------------------------------------------
// Wire framing

function sendJson(res: Response, status: number, body: unknown): void {
  if (res.destroyed) return;
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(payload.length) });
  res.end(payload);
}

async function sendSse(res: Response, context: CallContext, intervalMs: number, events: Array<{ event?: string; data: string }>): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  for (const { event, data } of events) {
    if (res.destroyed) return;
    res.write(`${event ? `event: ${event}\n` : ''}data: ${data}\n\n`);
    await context.sleep(intervalMs);
  }
  if (!res.destroyed) res.end();
}

async function sendEventStream(res: Response, context: CallContext, intervalMs: number, events: Array<[string, Json]>): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
  for (const [eventType, payload] of events) {
    if (res.destroyed) return;
    const frame = codec.encode({
      headers: {
        ':event-type': { type: 'string', value: eventType },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      },
      body: Buffer.from(JSON.stringify(payload)),
    });
    res.write(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    await context.sleep(intervalMs);
  }
  if (!res.destroyed) res.end();
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
