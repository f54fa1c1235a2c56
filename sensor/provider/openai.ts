/**
 * OpenAI and OpenAI-compatible servers (Azure OpenAI, vLLM, LiteLLM, Ollama), recognised by path and
 * body shape, never by host: the same wire format is served from anywhere.
 */
import { rememberedText } from '../common/remembered';
import type { HttpExchange } from '../http/http-exchange';
import { parseSseEvents } from '../http/sse';
import { finishCall, guardParse, startCall } from './call-builder';
import {
  choiceAt,
  message,
  opaquePart,
  orderedChoices,
  plainText,
  reasoningPart,
  StreamedChoice,
  textPart,
  toolCallPart,
  toolCallResponsePart,
  type MessagePart,
} from './content';
import { contentType, looksLikeSse, pathOnly, queryParameter } from './exchange-facts';
import {
  arrayField,
  asArray,
  asBoolean,
  asCount,
  asNumber,
  asObject,
  asString,
  booleanField,
  codeField,
  countField,
  isObject,
  numberField,
  objectField,
  readJsonObjectBody,
  stringField,
  tryParseJson,
  type JsonObject,
} from './json-fields';
import {
  ProviderParseError,
  type ChatMessage,
  type LlmCall,
  type ProviderAdapter,
  type ProviderError,
  type ProviderName,
  type TokenUsage,
} from './llm-call';

const ADAPTER = 'openai';

type OpenAiApi = 'chat' | 'responses' | 'embeddings' | 'completions';
type OllamaApi = 'ollama-chat' | 'ollama-generate' | 'ollama-embed';

export interface OpenAiRoute {
  api: OpenAiApi | OllamaApi;
  provider: ProviderName;
  /** Azure OpenAI deployment name from the path; it stands in for the model when the body has none. */
  deployment?: string;
}

const AZURE_DEPLOYMENT_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;
/** `/v1/...` under any prefix (`/openai/v1`, `/api/v1`, a proxy's mount point), and LiteLLM's unprefixed paths. */
const OPENAI_PATH = /^(?:\/.*)?\/v1\/(chat\/completions|completions|embeddings|responses)$|^\/(chat\/completions|completions|embeddings|responses)$/;
const AZURE_RESPONSES_PATH = /^\/openai\/(?:v1\/)?(responses|chat\/completions|embeddings)$/;
const OLLAMA_PATH = /^\/api\/(chat|generate|embed|embeddings)$/;

const OPENAI_APIS: Record<string, OpenAiApi> = {
  'chat/completions': 'chat',
  completions: 'completions',
  embeddings: 'embeddings',
  responses: 'responses',
};
const OLLAMA_APIS: Record<string, OllamaApi> = {
  chat: 'ollama-chat',
  generate: 'ollama-generate',
  embed: 'ollama-embed',
  embeddings: 'ollama-embed',
};

/**
 * Routes of paths seen before: a call asks for its route up to three times (is it an LLM request, whose is it, how
 * to parse it) and a client sends the same few paths again and again. The routes are never modified.
 */
/** Which OpenAI-compatible API a request path addresses, if any. */
export const openAiRoute: (path: string) => Readonly<OpenAiRoute> | undefined = rememberedText(routeOf, 1024, 512);

function routeOf(path: string): OpenAiRoute | undefined {
  const pathname = pathOnly(path);
  const azure = AZURE_DEPLOYMENT_PATH.exec(pathname);
  if (azure) {
    return { api: OPENAI_APIS[azure[2]], provider: 'azure.ai.openai', deployment: safeDecode(azure[1]) };
  }
  const azureUnified = AZURE_RESPONSES_PATH.exec(pathname);
  if (azureUnified && queryParameter(path, 'api-version') !== undefined) {
    return { api: OPENAI_APIS[azureUnified[1]], provider: 'azure.ai.openai' };
  }
  const openai = OPENAI_PATH.exec(pathname);
  if (openai) return { api: OPENAI_APIS[openai[1] ?? openai[2]], provider: 'openai' };
  const ollama = OLLAMA_PATH.exec(pathname);
  if (ollama) return { api: OLLAMA_APIS[ollama[1]], provider: 'openai' };
  return undefined;
}

export function isOpenAiPath(path: string): boolean {
  return openAiRoute(path) !== undefined;
}

export const openAiAdapter: ProviderAdapter = {
  name: ADAPTER,
  recognises(exchange: HttpExchange): boolean {
    return exchange.request.method.toUpperCase() === 'POST' && isOpenAiPath(exchange.request.path);
  },
  parse(exchange: HttpExchange): LlmCall {
    const route = openAiRoute(exchange.request.path);
    if (!route) {
      throw new ProviderParseError(ADAPTER, `path ${pathOnly(exchange.request.path)} is not an OpenAI-compatible endpoint`);
    }
    return guardParse(ADAPTER, () => parseRoute(route, exchange));
  },
};

function parseRoute(route: OpenAiRoute, exchange: HttpExchange): LlmCall {
  const { request, response } = exchange;
  const requestBody = readJsonObjectBody(ADAPTER, 'request', request.body, request.bodyTruncated);
  const call = startCall(exchange, route.provider, operationOf(route.api));
  if (requestBody) readRequest(route.api, requestBody, call);
  if (!call.requestModel && route.deployment) call.requestModel = route.deployment;
  if (!requestBody && response) call.stream = looksLikeSse(response.headers, response.body) || isNdjson(response.headers);

  if (response) {
    if (response.status >= 400) call.error = readErrorBody(response.body, response.status);
    else if (route.api.startsWith('ollama-')) readOllamaResponse(exchange, call);
    else if (looksLikeSse(response.headers, response.body)) readStream(route.api, exchange, call);
    else readResponse(route.api, exchange, call);
  }
  return finishCall(call);
}

function operationOf(api: OpenAiRoute['api']): LlmCall['operation'] {
  switch (api) {
    case 'embeddings':
    case 'ollama-embed':
      return 'embeddings';
    case 'completions':
    case 'ollama-generate':
      return 'text_completion';
    default:
      return 'chat';
  }
}

// ---- requests ----

function readRequest(api: OpenAiRoute['api'], body: JsonObject, call: LlmCall): void {
  const model = asString(body.model);
  if (model) call.requestModel = model;
  call.stream = asBoolean(body.stream) ?? false;
  call.temperature = asNumber(body.temperature);
  call.topP = asNumber(body.top_p);
  switch (api) {
    case 'chat':
      return readChatRequest(body, call);
    case 'completions':
      return readCompletionsRequest(body, call);
    case 'responses':
      return readResponsesRequest(body, call);
    case 'embeddings':
      if (body.input === undefined) throw shapeError('embeddings request has no "input"');
      return;
    case 'ollama-chat':
    case 'ollama-generate':
    case 'ollama-embed':
      return readOllamaRequest(api, body, call);
  }
}

function readChatRequest(body: JsonObject, call: LlmCall): void {
  const messages = asArray(body.messages);
  if (!messages) throw shapeError('chat request has no "messages" array');
  call.maxTokens = asCount(body.max_completion_tokens) ?? asCount(body.max_tokens);
  call.choiceCount = asCount(body.n);
  call.requestMessageCount = messages.length;
  call.hasSystemPrompt = messages.some((m) => isInstructionRole(asString(asObject(m)?.role)));
  call.requestToolsUsed =
    nonEmpty(asArray(body.tools)) ||
    nonEmpty(asArray(body.functions)) ||
    messages.some((m) => asString(asObject(m)?.role) === 'tool' || nonEmpty(asArray(asObject(m)?.tool_calls)));
  call.inputMessages = messages.map(chatMessage);
}

function readCompletionsRequest(body: JsonObject, call: LlmCall): void {
  const prompt = body.prompt;
  const prompts = typeof prompt === 'string' ? [prompt] : Array.isArray(prompt) ? prompt : undefined;
  if (!prompts) throw shapeError('completions request has no "prompt"');
  call.maxTokens = countField(body, 'max_tokens');
  call.choiceCount = countField(body, 'n');
  call.requestMessageCount = prompts.length;
  // Token-id prompts (arrays of numbers) carry no readable text.
  call.inputMessages = prompts.filter((p): p is string => typeof p === 'string').map((p) => message('user', [textPart(p)]));
}

function readResponsesRequest(body: JsonObject, call: LlmCall): void {
  const input = body.input;
  const instructions = stringField(body, 'instructions');
  if (input === undefined && instructions === undefined && stringField(body, 'previous_response_id') === undefined) {
    throw shapeError('responses request has no "input"');
  }
  call.maxTokens = countField(body, 'max_output_tokens');
  if (instructions) {
    call.systemInstructions = [textPart(instructions)];
    call.hasSystemPrompt = true;
  }
  const items = typeof input === 'string' ? [{ role: 'user', content: input }] : Array.isArray(input) ? input : [];
  call.requestMessageCount = items.length;
  if (items.some((item) => isInstructionRole(stringField(item, 'role')))) call.hasSystemPrompt = true;
  call.requestToolsUsed =
    nonEmpty(arrayField(body, 'tools')) ||
    items.some((item) => ['function_call', 'function_call_output'].includes(stringField(item, 'type') ?? ''));
  call.inputMessages = items.map(responsesInputItem).filter((m): m is ChatMessage => m !== undefined);
}

function chatMessage(raw: unknown): ChatMessage {
  const object = asObject(raw);
  const role = asString(object?.role) ?? 'user';
  const content = object?.content;
  if (role === 'tool' || role === 'function') {
    const id = asString(object?.tool_call_id) ?? asString(object?.name);
    return message('tool', [toolCallResponsePart(id, toolResponse(content))]);
  }
  const parts = contentParts(content);
  for (const call of asArray(object?.tool_calls) ?? []) {
    const fn = objectField(call, 'function');
    parts.push(toolCallPart(stringField(call, 'id'), stringField(fn, 'name'), fn?.arguments));
  }
  const legacyCall = asObject(object?.function_call);
  if (legacyCall) parts.push(toolCallPart(undefined, stringField(legacyCall, 'name'), legacyCall.arguments));
  return message(role, parts);
}

/** Chat and Responses content: a string, or typed parts (text, images, audio, files). */
function contentParts(content: unknown): MessagePart[] {
  if (typeof content === 'string') return [textPart(content)];
  if (!Array.isArray(content)) return [];
  const parts: MessagePart[] = [];
  for (const part of content) {
    if (typeof part === 'string') {
      parts.push(textPart(part));
      continue;
    }
    const object = asObject(part);
    const type = asString(object?.type) ?? 'unknown';
    const text = asString(object?.text) ?? asString(object?.refusal);
    if (text !== undefined && ['text', 'input_text', 'output_text', 'refusal'].includes(type)) parts.push(textPart(text));
    else if (type === 'image_url' || type === 'input_image') parts.push(imagePart(part));
    else if (type === 'input_audio') parts.push(opaquePart('blob', { modality: 'audio' }));
    else parts.push(opaquePart(type === 'input_file' ? 'file' : type));
  }
  return parts;
}

/** A tool's output as text when it is text; typed parts (images, files) keep their kind but not their bytes. */
function toolResponse(content: unknown): unknown {
  return plainText(content) ?? (Array.isArray(content) ? contentParts(content) : content);
}

function imagePart(part: unknown): MessagePart {
  const url = stringField(objectField(part, 'image_url'), 'url') ?? stringField(part, 'image_url');
  if (url && !url.startsWith('data:')) return opaquePart('uri', { modality: 'image', uri: url });
  const mimeType = url ? /^data:([^;,]+)/.exec(url)?.[1] : undefined;
  return opaquePart('blob', mimeType ? { modality: 'image', mime_type: mimeType } : { modality: 'image' });
}

function responsesInputItem(item: unknown): ChatMessage | undefined {
  const type = stringField(item, 'type');
  if (type === 'function_call') {
    return message('assistant', [toolCallPart(stringField(item, 'call_id'), stringField(item, 'name'), (item as JsonObject).arguments)]);
  }
  if (type === 'function_call_output') {
    return message('tool', [toolCallResponsePart(stringField(item, 'call_id'), toolResponse((item as JsonObject).output))]);
  }
  const role = stringField(item, 'role');
  if (!role) return undefined;
  return message(role, contentParts((item as JsonObject).content));
}

// ---- non-streamed responses ----

function readResponse(api: OpenAiRoute['api'], exchange: HttpExchange, call: LlmCall): void {
  const response = exchange.response!;
  const body = readJsonObjectBody(ADAPTER, 'response', response.body, response.bodyTruncated || !response.complete);
  if (!body) return;
  const error = objectField(body, 'error');
  if (error) call.error = errorFrom(error, response.status);
  switch (api) {
    case 'chat':
    case 'completions':
      return readChoicesResponse(body, call);
    case 'responses':
      return readResponsesObject(body, call);
    case 'embeddings':
      call.responseModel = stringField(body, 'model');
      call.usage = readUsage(objectField(body, 'usage'));
      return;
    default:
      return;
  }
}

function readChoicesResponse(body: JsonObject, call: LlmCall): void {
  const choices = asArray(body.choices);
  if (!choices && !call.error) throw shapeError('response has no "choices" array');
  readResponseIdentity(body, call);
  call.usage = readUsage(asObject(body.usage));
  if (call.choiceCount === undefined && choices) call.choiceCount = choices.length;
  for (const entry of choices ?? []) {
    const choice = asObject(entry);
    const finishReason = asString(choice?.finish_reason);
    if (finishReason) call.finishReasons.push(finishReason);
    const text = asString(choice?.text);
    if (text !== undefined) {
      call.outputMessages.push(message('assistant', [textPart(text)], finishReason));
      continue;
    }
    const reply = asObject(choice?.message);
    const parts = contentParts(reply?.content);
    const refusal = asString(reply?.refusal);
    if (refusal) parts.push(textPart(refusal));
    const reasoning = asString(reply?.reasoning_content);
    if (reasoning) parts.unshift(reasoningPart(reasoning));
    for (const toolCall of asArray(reply?.tool_calls) ?? []) {
      const fn = objectField(toolCall, 'function');
      parts.push(toolCallPart(stringField(toolCall, 'id'), stringField(fn, 'name'), fn?.arguments));
      call.responseToolCalls++;
    }
    call.outputMessages.push(message(asString(reply?.role) ?? 'assistant', parts, finishReason));
  }
}

function readResponseIdentity(body: JsonObject, call: LlmCall): void {
  const id = asString(body.id);
  if (id) call.messageId = id;
  const model = asString(body.model);
  if (model) call.responseModel = model;
  const fingerprint = asString(body.system_fingerprint);
  if (fingerprint) call.systemFingerprint = fingerprint;
}

/** Output item types of the Responses API that are the model using a tool. */
const RESPONSES_TOOL_ITEMS = new Set([
  'function_call',
  'web_search_call',
  'file_search_call',
  'code_interpreter_call',
  'computer_call',
  'image_generation_call',
  'local_shell_call',
  'mcp_call',
  'custom_tool_call',
]);

/** A Responses API `response` object, whole (non-streamed, or the payload of `response.completed`). */
function readResponsesObject(body: JsonObject, call: LlmCall): void {
  const output = arrayField(body, 'output');
  if (!output && !call.error && stringField(body, 'object') !== 'response') throw shapeError('response has no "output" array');
  readResponseIdentity(body, call);
  const usage = objectField(body, 'usage');
  if (usage) call.usage = readUsage(usage);
  const failure = objectField(body, 'error');
  if (failure) call.error = errorFrom(failure, call.httpStatus ?? 200);
  if (output) call.outputMessages = [responsesOutputMessage(output, call)];
  const finishReason = responsesFinishReason(body, output ?? []);
  if (finishReason) {
    call.finishReasons = [finishReason];
    if (call.outputMessages[0]) call.outputMessages[0].finish_reason = finishReason;
  }
}

function responsesOutputMessage(output: unknown[], call: LlmCall): ChatMessage {
  const parts: MessagePart[] = [];
  call.responseToolCalls = 0;
  for (const item of output) {
    const type = stringField(item, 'type') ?? '';
    if (type === 'message') parts.push(...contentParts((item as JsonObject).content));
    else if (type === 'reasoning') {
      const summary = plainText(arrayField(item, 'summary'));
      if (summary) parts.push(reasoningPart(summary));
    } else if (type === 'function_call') {
      parts.push(toolCallPart(stringField(item, 'call_id'), stringField(item, 'name'), (item as JsonObject).arguments));
    } else if (type) parts.push(opaquePart(type));
    if (RESPONSES_TOOL_ITEMS.has(type)) call.responseToolCalls++;
  }
  return message('assistant', parts);
}

function responsesFinishReason(body: JsonObject, output: unknown[]): string | undefined {
  const status = stringField(body, 'status');
  if (status === 'completed') {
    return output.some((item) => stringField(item, 'type') === 'function_call') ? 'tool_calls' : 'stop';
  }
  if (status === 'incomplete') {
    const reason = stringField(objectField(body, 'incomplete_details'), 'reason') ?? 'incomplete';
    // Same vocabulary as chat completions, so that a reply cut by the token limit reads `length` in either API.
    return reason === 'max_output_tokens' ? 'length' : reason;
  }
  if (status === 'failed') return 'error';
  return status && status !== 'in_progress' && status !== 'queued' ? status : undefined;
}

/** Chat/completions (`prompt_tokens`...) and Responses (`input_tokens`...) usage; both count cached tokens inside input. */
function readUsage(usage: JsonObject | undefined): TokenUsage {
  const result: TokenUsage = {};
  if (!usage) return result;
  const input = asCount(usage.prompt_tokens) ?? asCount(usage.input_tokens);
  const output = asCount(usage.completion_tokens) ?? asCount(usage.output_tokens);
  const total = asCount(usage.total_tokens);
  const inputDetails = asObject(usage.prompt_tokens_details) ?? asObject(usage.input_tokens_details);
  const outputDetails = asObject(usage.completion_tokens_details) ?? asObject(usage.output_tokens_details);
  const cached = asCount(inputDetails?.cached_tokens);
  const reasoning = asCount(outputDetails?.reasoning_tokens);
  if (input !== undefined) result.inputTokens = input;
  if (output !== undefined) result.outputTokens = output;
  if (total !== undefined) result.totalTokens = total;
  if (cached !== undefined) result.cacheReadInputTokens = cached;
  if (reasoning !== undefined) result.reasoningOutputTokens = reasoning;
  return result;
}

// ---- streamed responses ----

function readStream(api: OpenAiRoute['api'], exchange: HttpExchange, call: LlmCall): void {
  const response = exchange.response!;
  const mayBeCut = response.bodyTruncated || !response.complete;
  const events = parseSseEvents(response.body);
  const payloads: JsonObject[] = [];
  for (const event of events) {
    if (event.data === '[DONE]') continue;
    const payload = tryParseJson(event.data);
    if (isObject(payload)) payloads.push({ ...payload, ...(event.event && !payload.type ? { type: event.event } : {}) });
  }
  if (payloads.length === 0 && events.some((e) => e.data !== '[DONE]') && !mayBeCut) {
    throw shapeError('event stream has no JSON events');
  }
  if (api === 'responses') readResponsesStream(payloads, call);
  else readChunkStream(payloads, call);
}

/** `chat.completion.chunk` / `text_completion` chunks; usage comes in a final chunk when `stream_options.include_usage`. */
function readChunkStream(chunks: JsonObject[], call: LlmCall): void {
  const choices = new Map<number, StreamedChoice>();
  for (const chunk of chunks) {
    const error = asObject(chunk.error);
    if (error) call.error = errorFrom(error, call.httpStatus ?? 200);
    if (!call.messageId || !call.responseModel || !call.systemFingerprint) readResponseIdentity(chunk, call);
    const usage = asObject(chunk.usage);
    if (usage) call.usage = readUsage(usage);
    const chunkChoices = asArray(chunk.choices) ?? [];
    chunkChoices.forEach((raw, position) => {
      const entry = asObject(raw);
      const choice = choiceAt(choices, asCount(entry?.index) ?? position);
      const text = asString(entry?.text);
      if (text !== undefined) choice.text += text;
      const delta = asObject(entry?.delta);
      const role = asString(delta?.role);
      if (role) choice.role = role;
      const content = asString(delta?.content);
      if (content) choice.text += content;
      const reasoning = asString(delta?.reasoning_content) ?? asString(delta?.reasoning);
      if (reasoning) choice.reasoning += reasoning;
      (asArray(delta?.tool_calls) ?? []).forEach((toolCall, toolPosition) => {
        const fn = objectField(toolCall, 'function');
        const index = countField(toolCall, 'index') ?? toolPosition;
        choice.addToolCallDelta(index, stringField(toolCall, 'id'), stringField(fn, 'name'), stringField(fn, 'arguments'));
      });
      const finishReason = asString(entry?.finish_reason);
      if (finishReason) choice.finishReason = finishReason;
    });
  }
  const ordered = orderedChoices(choices);
  call.outputMessages = ordered.map((choice) => choice.toMessage());
  call.finishReasons = ordered.map((choice) => choice.finishReason).filter((r): r is string => r !== undefined);
  call.responseToolCalls = ordered.reduce((sum, choice) => sum + choice.toolCalls.size, 0);
  if (call.choiceCount === undefined && ordered.length > 0) call.choiceCount = ordered.length;
}

/**
 * Responses API events. The terminal event (`response.completed`, `.incomplete`, `.failed`) repeats the
 * whole response with usage; without it (a cut stream) the output is rebuilt from deltas and finished items.
 */
function readResponsesStream(events: JsonObject[], call: LlmCall): void {
  const items = new Map<number, unknown>();
  const texts = new Map<number, string>();
  let terminal: JsonObject | undefined;
  for (const event of events) {
    const type = stringField(event, 'type') ?? '';
    const snapshot = objectField(event, 'response');
    if (snapshot && (type === 'response.created' || type === 'response.in_progress')) readResponseIdentity(snapshot, call);
    else if (snapshot && ['response.completed', 'response.incomplete', 'response.failed'].includes(type)) terminal = snapshot;
    else if (type === 'response.output_text.delta') {
      const index = countField(event, 'output_index') ?? 0;
      texts.set(index, (texts.get(index) ?? '') + (stringField(event, 'delta') ?? ''));
    } else if (type === 'response.output_item.done') {
      items.set(countField(event, 'output_index') ?? items.size, event.item);
    } else if (type === 'error') {
      call.error = streamErrorEvent(event);
    }
  }
  if (terminal) {
    readResponsesObject(terminal, call);
    return;
  }
  for (const [index, text] of texts) {
    if (!items.has(index)) items.set(index, { type: 'message', content: [{ type: 'output_text', text }] });
  }
  const ordered = [...items.keys()].sort((a, b) => a - b).map((index) => items.get(index));
  if (ordered.length > 0) call.outputMessages = [responsesOutputMessage(ordered, call)];
}

/**
 * `{"type": "error", "code": "rate_limit_exceeded", "message": ...}`: the event's `type` only says it is an error,
 * so the code names it (some servers nest the fields under `error` instead).
 */
function streamErrorEvent(event: JsonObject): ProviderError {
  const fields = objectField(event, 'error') ?? event;
  const code = codeField(fields, 'code');
  const nestedType = fields === event ? undefined : stringField(fields, 'type');
  const result: ProviderError = { type: nestedType || code || 'error' };
  if (code) result.code = code;
  const text = stringField(fields, 'message');
  if (text) result.message = text;
  return result;
}

// ---- Ollama native API ----

function readOllamaRequest(api: OllamaApi, body: JsonObject, call: LlmCall): void {
  // Ollama streams unless told not to.
  call.stream = booleanField(body, 'stream') ?? true;
  const options = objectField(body, 'options');
  call.temperature = numberField(options, 'temperature');
  call.topP = numberField(options, 'top_p');
  call.maxTokens = countField(options, 'num_predict');
  if (api === 'ollama-embed') {
    call.stream = false;
    if (body.input === undefined && body.prompt === undefined) throw shapeError('Ollama embed request has no "input"');
    return;
  }
  const system = stringField(body, 'system');
  if (system) {
    call.systemInstructions = [textPart(system)];
    call.hasSystemPrompt = true;
  }
  call.requestToolsUsed = nonEmpty(arrayField(body, 'tools'));
  if (api === 'ollama-generate') {
    const prompt = stringField(body, 'prompt');
    if (prompt === undefined) throw shapeError('Ollama generate request has no "prompt"');
    call.requestMessageCount = 1;
    call.inputMessages = [message('user', [textPart(prompt)])];
    return;
  }
  const messages = arrayField(body, 'messages');
  if (!messages) throw shapeError('Ollama chat request has no "messages" array');
  call.requestMessageCount = messages.length;
  if (messages.some((m) => isInstructionRole(stringField(m, 'role')))) call.hasSystemPrompt = true;
  if (messages.some((m) => stringField(m, 'role') === 'tool')) call.requestToolsUsed = true;
  call.inputMessages = messages.map(chatMessage);
}

function isNdjson(headers: Record<string, string> | undefined): boolean {
  return contentType(headers).startsWith('application/x-ndjson');
}

/** One JSON object (`stream: false`) or NDJSON lines, the last with `done: true` and the token counts. */
function readOllamaResponse(exchange: HttpExchange, call: LlmCall): void {
  const response = exchange.response!;
  const mayBeCut = response.bodyTruncated || !response.complete;
  if (looksLikeSse(response.headers, response.body)) {
    throw shapeError('an Ollama native endpoint answered with an event stream');
  }
  const lines = response.body.toString('utf8').split('\n').filter((line) => line.trim() !== '');
  const objects: JsonObject[] = [];
  for (const [position, line] of lines.entries()) {
    const parsed = tryParseJson(line);
    if (isObject(parsed)) objects.push(parsed);
    else if (!(mayBeCut && position === lines.length - 1)) throw shapeError(`Ollama response line ${position + 1} is not a JSON object`);
  }
  const choice = new StreamedChoice();
  for (const object of objects) {
    const error = stringField(object, 'error');
    if (error) call.error = { type: 'stream_error', message: error };
    const model = stringField(object, 'model');
    if (model) call.responseModel = model;
    const reply = objectField(object, 'message');
    choice.text += stringField(reply, 'content') ?? stringField(object, 'response') ?? '';
    choice.reasoning += stringField(reply, 'thinking') ?? stringField(object, 'thinking') ?? '';
    for (const toolCall of arrayField(reply, 'tool_calls') ?? []) {
      const fn = objectField(toolCall, 'function');
      const args = JSON.stringify(fn?.arguments ?? null);
      choice.addToolCallDelta(choice.toolCalls.size, stringField(toolCall, 'id'), stringField(fn, 'name'), args);
    }
    if (booleanField(object, 'done') === true) {
      choice.finishReason = stringField(object, 'done_reason') ?? 'stop';
      const input = countField(object, 'prompt_eval_count');
      const output = countField(object, 'eval_count');
      if (input !== undefined) call.usage.inputTokens = input;
      if (output !== undefined) call.usage.outputTokens = output;
    } else if (Array.isArray(object.embeddings) || Array.isArray(object.embedding)) {
      const input = countField(object, 'prompt_eval_count');
      if (input !== undefined) call.usage.inputTokens = input;
    }
  }
  if (call.operation === 'embeddings') return;
  if (choice.text || choice.reasoning || choice.toolCalls.size > 0 || choice.finishReason) {
    call.outputMessages = [choice.toMessage()];
  }
  if (choice.finishReason) call.finishReasons = [choice.finishReason];
  call.responseToolCalls = choice.toolCalls.size;
}

// ---- errors ----

/**
 * OpenAI, Azure and LiteLLM wrap errors as `{error: {message, type, code, param}}`; vLLM puts the same
 * fields at the top level; Ollama sends `{error: "text"}`. A body that is none of these still yields the status.
 */
export function readErrorBody(body: Buffer, status: number): ProviderError {
  const parsed = tryParseJson(body.toString('utf8'));
  const wrapped = objectField(parsed, 'error');
  if (wrapped) return errorFrom(wrapped, status);
  const text = stringField(parsed, 'error');
  if (text) return { type: String(status), message: text };
  if (isObject(parsed) && (stringField(parsed, 'message') || stringField(parsed, 'object') === 'error')) return errorFrom(parsed, status);
  return { type: String(status) };
}

function errorFrom(error: JsonObject, status: number): ProviderError {
  const result: ProviderError = { type: stringField(error, 'type') || codeField(error, 'code') || String(status) };
  const code = codeField(error, 'code');
  if (code) result.code = code;
  const text = stringField(error, 'message');
  if (text) result.message = text;
  return result;
}

// ---- small helpers ----

function isInstructionRole(role: string | undefined): boolean {
  return role === 'system' || role === 'developer';
}

function nonEmpty(list: unknown[] | undefined): boolean {
  return list !== undefined && list.length > 0;
}

function shapeError(message: string): ProviderParseError {
  return new ProviderParseError(ADAPTER, message);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
