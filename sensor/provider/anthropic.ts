/** Anthropic Messages API (`POST /v1/messages`), streamed and not. */
import type { HttpExchange } from '../http/http-exchange';
import { parseSseEvents } from '../http/sse';
import { finishCall, guardParse, startCall } from './call-builder';
import {
  message,
  opaquePart,
  plainText,
  reasoningPart,
  textPart,
  toolCallPart,
  toolCallResponsePart,
  type MessagePart,
} from './content';
import { looksLikeSse, pathOnly } from './exchange-facts';
import {
  asArray,
  asBoolean,
  asCount,
  asNumber,
  asObject,
  asString,
  countField,
  isObject,
  objectField,
  readJsonObjectBody,
  stringField,
  tryParseJson,
  type JsonObject,
} from './json-fields';
import { ProviderParseError, type LlmCall, type ProviderAdapter, type ProviderError, type TokenUsage } from './llm-call';

const ADAPTER = 'anthropic';

/** `/v1/messages` at the root or under a proxy prefix; `count_tokens` and batches are not model calls. */
const MESSAGES_PATH = /^(?:\/.*)?\/v1\/messages$/;

export function isAnthropicPath(path: string): boolean {
  return MESSAGES_PATH.test(pathOnly(path));
}

export const anthropicAdapter: ProviderAdapter = {
  name: ADAPTER,
  recognises(exchange: HttpExchange): boolean {
    return exchange.request.method.toUpperCase() === 'POST' && isAnthropicPath(exchange.request.path);
  },
  parse(exchange: HttpExchange): LlmCall {
    if (!isAnthropicPath(exchange.request.path)) {
      throw new ProviderParseError(ADAPTER, `path ${pathOnly(exchange.request.path)} is not the Messages API`);
    }
    return guardParse(ADAPTER, () => parseMessagesCall(exchange));
  },
};

function parseMessagesCall(exchange: HttpExchange): LlmCall {
  const { request, response } = exchange;
  const call = startCall(exchange, 'anthropic', 'chat');
  const requestBody = readJsonObjectBody(ADAPTER, 'request', request.body, request.bodyTruncated);
  if (requestBody) readRequest(requestBody, call);
  else if (response) call.stream = looksLikeSse(response.headers, response.body);

  if (response) {
    if (response.status >= 400) call.error = readErrorBody(response.body, response.status);
    else if (looksLikeSse(response.headers, response.body)) readStream(exchange, call);
    else {
      const body = readJsonObjectBody(ADAPTER, 'response', response.body, response.bodyTruncated || !response.complete);
      if (body) readMessage(body, call);
    }
  }
  return finishCall(call);
}

function readRequest(body: JsonObject, call: LlmCall): void {
  const messages = asArray(body.messages);
  if (!messages) throw new ProviderParseError(ADAPTER, 'request has no "messages" array');
  const model = asString(body.model);
  if (model) call.requestModel = model;
  call.stream = asBoolean(body.stream) ?? false;
  call.temperature = asNumber(body.temperature);
  call.topP = asNumber(body.top_p);
  call.maxTokens = asCount(body.max_tokens);
  call.requestMessageCount = messages.length;
  call.systemInstructions = systemInstructions(body.system);
  call.hasSystemPrompt = call.systemInstructions.length > 0;
  call.requestToolsUsed =
    (asArray(body.tools)?.length ?? 0) > 0 ||
    messages.some((m) => (asArray(asObject(m)?.content) ?? []).some((block) => isToolBlock(asString(asObject(block)?.type))));
  call.inputMessages = messages.map((m) => {
    const object = asObject(m);
    return message(asString(object?.role) ?? 'user', contentParts(object?.content));
  });
}

/** `system` is a string or a list of text blocks (with cache_control); both become text parts. */
function systemInstructions(system: unknown): MessagePart[] {
  if (typeof system === 'string') return system ? [textPart(system)] : [];
  if (!Array.isArray(system)) return [];
  return system.map((block) => asString(asObject(block)?.text)).filter((text): text is string => text !== undefined).map(textPart);
}

function isToolBlock(type: string | undefined): boolean {
  return type === 'tool_use' || type === 'tool_result' || type === 'server_tool_use';
}

function contentParts(content: unknown): MessagePart[] {
  if (typeof content === 'string') return [textPart(content)];
  if (!Array.isArray(content)) return [];
  return content.map(blockPart);
}

function blockPart(block: unknown): MessagePart {
  const object = asObject(block);
  const type = asString(object?.type) ?? 'unknown';
  switch (type) {
    case 'text':
      return textPart(asString(object?.text) ?? '');
    case 'thinking':
      return reasoningPart(asString(object?.thinking) ?? '');
    case 'tool_use':
    case 'server_tool_use':
      return toolCallPart(stringField(block, 'id'), stringField(block, 'name'), (block as JsonObject).input);
    case 'tool_result': {
      // Text results read as text; image or document results keep their kind, not their base64 bytes.
      const content = (block as JsonObject).content;
      const response = plainText(content) ?? (Array.isArray(content) ? content.map(blockPart) : content);
      return toolCallResponsePart(stringField(block, 'tool_use_id'), response);
    }
    case 'image':
      return opaquePart('blob', { modality: 'image' });
    default:
      return opaquePart(type);
  }
}

/** A complete `message` object: the non-streamed response, or `message_start`'s snapshot. */
function readMessage(body: JsonObject, call: LlmCall): void {
  const content = asArray(body.content);
  if (!content && asString(body.type) !== 'message') throw new ProviderParseError(ADAPTER, 'response has no "content" array');
  readIdentity(body, call);
  call.usage = readUsage(asObject(body.usage), {});
  const stopReason = asString(body.stop_reason);
  call.finishReasons = stopReason ? [stopReason] : [];
  call.responseToolCalls = (content ?? []).filter((block) => asString(asObject(block)?.type) === 'tool_use').length;
  call.outputMessages = [message(asString(body.role) ?? 'assistant', (content ?? []).map(blockPart), stopReason)];
}

function readIdentity(body: JsonObject, call: LlmCall): void {
  const id = asString(body.id);
  if (id) call.messageId = id;
  const model = asString(body.model);
  if (model) call.responseModel = model;
}

/**
 * Anthropic counts cache reads and writes apart from `input_tokens`; semconv's input count includes them.
 * `previous` carries counts from `message_start` that a later `message_delta` may not repeat.
 */
function readUsage(usage: JsonObject | undefined, previous: TokenUsage): TokenUsage {
  const uncached = asCount(usage?.input_tokens);
  const cacheRead = asCount(usage?.cache_read_input_tokens) ?? previous.cacheReadInputTokens;
  const cacheCreation = asCount(usage?.cache_creation_input_tokens) ?? previous.cacheCreationInputTokens;
  const output = asCount(usage?.output_tokens) ?? previous.outputTokens;
  const result: TokenUsage = {};
  const priorUncached =
    previous.inputTokens === undefined ? undefined : previous.inputTokens - (previous.cacheReadInputTokens ?? 0) - (previous.cacheCreationInputTokens ?? 0);
  const base = uncached ?? priorUncached;
  if (base !== undefined) result.inputTokens = base + (cacheRead ?? 0) + (cacheCreation ?? 0);
  if (output !== undefined) result.outputTokens = output;
  if (cacheRead !== undefined) result.cacheReadInputTokens = cacheRead;
  if (cacheCreation !== undefined) result.cacheCreationInputTokens = cacheCreation;
  if (result.inputTokens !== undefined && output !== undefined) result.totalTokens = result.inputTokens + output;
  return result;
}

interface StreamedBlock {
  block: JsonObject;
  text: string;
  partialJson: string;
}

/**
 * `message_start` (id, model, input usage), `content_block_start/delta/stop`, `message_delta`
 * (stop_reason, cumulative usage), `message_stop`; an `error` event can arrive at any point.
 */
function readStream(exchange: HttpExchange, call: LlmCall): void {
  const response = exchange.response!;
  const events = parseSseEvents(response.body);
  const blocks = new Map<number, StreamedBlock>();
  let stopReason: string | undefined;
  let parsedEvents = 0;
  for (const event of events) {
    const payload = tryParseJson(event.data);
    if (!isObject(payload)) continue;
    parsedEvents++;
    const type = stringField(payload, 'type') ?? event.event ?? '';
    switch (type) {
      case 'message_start': {
        const snapshot = objectField(payload, 'message');
        if (snapshot) {
          readIdentity(snapshot, call);
          call.usage = readUsage(objectField(snapshot, 'usage'), {});
        }
        break;
      }
      case 'content_block_start': {
        const block = objectField(payload, 'content_block');
        if (block) blocks.set(countField(payload, 'index') ?? blocks.size, { block, text: '', partialJson: '' });
        break;
      }
      case 'content_block_delta': {
        const streamed = blocks.get(countField(payload, 'index') ?? -1);
        const delta = objectField(payload, 'delta');
        if (!streamed || !delta) break;
        streamed.text += stringField(delta, 'text') ?? stringField(delta, 'thinking') ?? '';
        streamed.partialJson += stringField(delta, 'partial_json') ?? '';
        break;
      }
      case 'message_delta':
        stopReason = stringField(objectField(payload, 'delta'), 'stop_reason') ?? stopReason;
        call.usage = readUsage(objectField(payload, 'usage'), call.usage);
        break;
      case 'error':
        call.error = errorFrom(objectField(payload, 'error'), call.httpStatus ?? 200);
        break;
      default:
        break;
    }
  }
  if (parsedEvents === 0 && events.length > 0 && !response.bodyTruncated && response.complete) {
    throw new ProviderParseError(ADAPTER, 'event stream has no JSON events');
  }
  const ordered = [...blocks.keys()].sort((a, b) => a - b).map((index) => streamedBlockPart(blocks.get(index)!));
  call.responseToolCalls = [...blocks.values()].filter((b) => stringField(b.block, 'type') === 'tool_use').length;
  if (stopReason) call.finishReasons = [stopReason];
  if (ordered.length > 0 || stopReason) call.outputMessages = [message('assistant', ordered, stopReason)];
}

function streamedBlockPart(streamed: StreamedBlock): MessagePart {
  const type = stringField(streamed.block, 'type');
  if (type === 'text') return textPart((stringField(streamed.block, 'text') ?? '') + streamed.text);
  if (type === 'thinking') return reasoningPart((stringField(streamed.block, 'thinking') ?? '') + streamed.text);
  if (type === 'tool_use' || type === 'server_tool_use') {
    const input = streamed.partialJson ? streamed.partialJson : streamed.block.input;
    return toolCallPart(stringField(streamed.block, 'id'), stringField(streamed.block, 'name'), input);
  }
  return blockPart(streamed.block);
}

/** `{type: "error", error: {type, message}}`; a non-JSON body (a proxy's page) still yields the status. */
export function readErrorBody(body: Buffer, status: number): ProviderError {
  const parsed = tryParseJson(body.toString('utf8'));
  return errorFrom(objectField(parsed, 'error'), status);
}

function errorFrom(error: JsonObject | undefined, status: number): ProviderError {
  const result: ProviderError = { type: stringField(error, 'type') || String(status) };
  const text = stringField(error, 'message');
  if (text) result.message = text;
  return result;
}
