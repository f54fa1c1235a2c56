/**
 * AWS Bedrock Runtime: `POST /model/{modelId}/invoke | invoke-with-response-stream | converse | converse-stream`.
 *
 * `converse*` has one provider-neutral body shape. `invoke*` bodies are each model family's own format,
 * so the family is read from the model id, or from the body's shape when the id is an opaque ARN.
 * Streams are AWS event-stream framed; `invoke-with-response-stream` chunks wrap the family's own
 * stream events as base64 in `{"bytes": ...}`.
 */
import type { HttpExchange } from '../http/http-exchange';
import { decodeEventStream, type EventStreamMessage } from '../http/eventstream';
import {
  type ChatMessage,
  type LlmCall,
  type OperationName,
  type ProviderAdapter,
  type ProviderError,
  type TokenUsage,
  ProviderParseError,
} from './llm-call';
import {
  type MessagePart,
  StreamedChoice,
  choiceAt,
  message,
  opaquePart,
  orderedChoices,
  plainText,
  reasoningPart,
  textPart,
  toolCallPart,
  toolCallResponsePart,
} from './content';
import { finishCall, guardParse, startCall } from './call-builder';
import { contentType, pathOnly } from './exchange-facts';
import {
  type JsonObject,
  arrayField,
  countField,
  isObject,
  numberField,
  objectField,
  readJsonObjectBody,
  stringField,
  tryParseJson,
} from './json-fields';

const PROVIDER = 'aws.bedrock';

type BedrockAction = 'invoke' | 'invoke-with-response-stream' | 'converse' | 'converse-stream';

const BEDROCK_PATH = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|converse|converse-stream)\/?$/;

export function isBedrockPath(path: string): boolean {
  return BEDROCK_PATH.test(pathOnly(path));
}

interface BedrockRoute {
  /** The model id as sent, URL-decoded: a model id, an inference-profile id, or an ARN. Spans report it as the request model. */
  modelId: string;
  /** The foundation model the id runs (see resolvedModel); undefined behind an opaque ARN. */
  resolvedModel?: string;
  action: BedrockAction;
}

function parseRoute(path: string): BedrockRoute | undefined {
  const match = BEDROCK_PATH.exec(pathOnly(path));
  if (!match) return undefined;
  const modelId = safeDecode(match[1]);
  return { modelId, resolvedModel: resolvedModel(modelId), action: match[2] as BedrockAction };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `us.`, `eu.`, `apac.`, `global.` ... prefixes of cross-region inference profiles. */
const GEO_PREFIX = /^(?:us|eu|apac|ap|global|us-gov|jp|au|ca)\./;

/**
 * The foundation model a model id runs. Foundation-model ARNs and system inference profiles (`us.anthropic.claude-...`,
 * bare or as an ARN) name it; other ARNs (application profiles, provisioned throughput, custom models) carry opaque
 * ids, and then it is unknown.
 */
function resolvedModel(modelId: string): string | undefined {
  const arn = /^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:([a-z-]+)\/(.+)$/.exec(modelId);
  if (arn && arn[1] !== 'foundation-model' && arn[1] !== 'inference-profile') return undefined;
  return (arn ? arn[2] : modelId).replace(GEO_PREFIX, '');
}

type ModelFamily =
  | 'anthropic'
  | 'nova'
  | 'titan-text'
  | 'titan-embed'
  | 'llama'
  | 'mistral'
  | 'cohere-chat'
  | 'cohere-text'
  | 'cohere-embed'
  | 'unknown';

function familyFromModel(id: string): ModelFamily | undefined {
  if (id.startsWith('anthropic.')) return 'anthropic';
  if (id.startsWith('amazon.nova')) return id.includes('embed') ? 'titan-embed' : 'nova';
  if (id.startsWith('amazon.titan-embed')) return 'titan-embed';
  if (id.startsWith('amazon.titan')) return 'titan-text';
  if (id.startsWith('meta.llama')) return 'llama';
  if (id.startsWith('mistral.')) return 'mistral';
  if (id.startsWith('cohere.embed')) return 'cohere-embed';
  if (id.startsWith('cohere.command-r')) return 'cohere-chat';
  if (id.startsWith('cohere.command')) return 'cohere-text';
  return undefined;
}

function familyFromBody(body: JsonObject | undefined): ModelFamily {
  if (!body) return 'unknown';
  if ('anthropic_version' in body) return 'anthropic';
  if ('schemaVersion' in body || 'inferenceConfig' in body) return 'nova';
  if ('textGenerationConfig' in body) return 'titan-text';
  if ('inputText' in body) return 'titan-embed';
  if ('texts' in body) return 'cohere-embed';
  if ('message' in body || 'chat_history' in body) return 'cohere-chat';
  if ('max_gen_len' in body) return 'llama';
  if ('prompt' in body) return 'mistral';
  // Claude on Bedrock refuses an invoke body without `anthropic_version`, so bare `messages` are another
  // family's chat format (OpenAI-style for gpt-oss, Mistral, DeepSeek ...), read as 'unknown'.
  return 'unknown';
}

function operationFor(family: ModelFamily, body: JsonObject | undefined): OperationName {
  switch (family) {
    case 'titan-embed':
    case 'cohere-embed':
      return 'embeddings';
    case 'titan-text':
    case 'llama':
    case 'cohere-text':
      return 'text_completion';
    case 'mistral':
      return Array.isArray(body?.messages) ? 'chat' : 'text_completion';
    case 'unknown':
      return typeof body?.prompt === 'string' ? 'text_completion' : 'chat';
    default:
      return 'chat';
  }
}

export const bedrockAdapter: ProviderAdapter = {
  name: PROVIDER,

  recognises(exchange: HttpExchange): boolean {
    return exchange.request.method.toUpperCase() === 'POST' && isBedrockPath(exchange.request.path);
  },

  parse(exchange: HttpExchange): LlmCall {
    const route = parseRoute(exchange.request.path);
    if (!route) {
      throw new ProviderParseError(PROVIDER, `path ${pathOnly(exchange.request.path)} is not a Bedrock Runtime model path`);
    }
    return guardParse(PROVIDER, () => parseModelCall(route, exchange));
  },
};

function parseModelCall(route: BedrockRoute, exchange: HttpExchange): LlmCall {
  const { request, response } = exchange;
  const requestBody = readJsonObjectBody(PROVIDER, 'request', request.body, request.bodyTruncated);
  const converse = route.action === 'converse' || route.action === 'converse-stream';
  const family: ModelFamily = converse ? 'nova' : ((route.resolvedModel === undefined ? undefined : familyFromModel(route.resolvedModel)) ?? familyFromBody(requestBody));
  const shape: BodyShape = converse ? 'converse' : family;
  const call = startCall(exchange, PROVIDER, converse ? 'chat' : operationFor(family, requestBody));
  // As sent, ARN included, as OpenTelemetry's own Bedrock instrumentation reports it.
  call.requestModel = route.modelId;
  call.stream = route.action === 'converse-stream' || route.action === 'invoke-with-response-stream';
  if (requestBody) readRequest(call, shape, requestBody);

  const facts = new ResponseFacts();
  if (response) {
    if (response.status >= 400) {
      call.error = httpError(response.status, response.headers, response.body);
    } else if (call.stream || contentType(response.headers).startsWith('application/vnd.amazon.eventstream')) {
      readEventStream(facts, shape, response.body);
    } else if (response.body.length > 0) {
      const body = readJsonObjectBody(PROVIDER, 'response', response.body, response.bodyTruncated || !response.complete);
      if (body) readResponseBody(facts, shape, body);
    }
    facts.usage.fillFromHeaders(response.headers);
  }
  facts.applyTo(call, route);
  finishCall(call);
  // Bedrock's own measure stands in when the capture has no first-byte time.
  if (call.stream && call.timeToFirstChunkMs === undefined && facts.firstByteLatencyMs !== undefined) {
    call.timeToFirstChunkMs = facts.firstByteLatencyMs;
  }
  return call;
}

// ---------------------------------------------------------------------------------------------
// Requests

type BodyShape = ModelFamily | 'converse';

function readRequest(call: LlmCall, shape: BodyShape, body: JsonObject): void {
  switch (shape) {
    case 'converse':
    case 'nova':
      readConverseStyleRequest(call, body);
      return;
    case 'anthropic':
      readAnthropicRequest(call, body);
      return;
    case 'titan-text': {
      const config = objectField(body, 'textGenerationConfig');
      call.maxTokens = numberField(config, 'maxTokenCount');
      call.temperature = numberField(config, 'temperature');
      call.topP = numberField(config, 'topP');
      readPrompt(call, stringField(body, 'inputText'));
      return;
    }
    case 'titan-embed':
      readPrompt(call, stringField(body, 'inputText'));
      return;
    case 'cohere-embed': {
      const texts = (arrayField(body, 'texts') ?? []).filter((text): text is string => typeof text === 'string');
      call.inputMessages = texts.map((text) => message('user', [textPart(text)]));
      call.requestMessageCount = texts.length;
      return;
    }
    case 'llama':
      call.maxTokens = numberField(body, 'max_gen_len');
      readSampling(call, body, 'top_p');
      readPrompt(call, stringField(body, 'prompt'));
      return;
    case 'cohere-chat':
      readCohereChatRequest(call, body);
      return;
    case 'cohere-text':
      call.maxTokens = numberField(body, 'max_tokens');
      readSampling(call, body, 'p');
      call.choiceCount = numberField(body, 'num_generations');
      readPrompt(call, stringField(body, 'prompt'));
      return;
    case 'mistral':
    case 'unknown':
      call.maxTokens = numberField(body, 'max_tokens') ?? numberField(body, 'max_completion_tokens') ?? numberField(body, 'max_gen_len');
      readSampling(call, body, 'top_p');
      if (Array.isArray(body.messages)) readChatCompletionStyleRequest(call, body);
      else readPrompt(call, stringField(body, 'prompt'));
      return;
  }
}

function readSampling(call: LlmCall, body: JsonObject, topPKey: string): void {
  call.temperature = numberField(body, 'temperature');
  call.topP = numberField(body, topPKey);
}

function readPrompt(call: LlmCall, prompt: string | undefined): void {
  if (prompt === undefined) return;
  call.inputMessages = [message('user', [textPart(prompt)])];
  call.requestMessageCount = 1;
}

/** Converse and Amazon Nova `invoke` share content blocks (`{text}`, `{toolUse}`, `{toolResult}` ...). */
function readConverseStyleRequest(call: LlmCall, body: JsonObject): void {
  const config = objectField(body, 'inferenceConfig');
  call.maxTokens = numberField(config, 'maxTokens') ?? numberField(config, 'max_new_tokens');
  call.temperature = numberField(config, 'temperature');
  call.topP = numberField(config, 'topP') ?? numberField(config, 'top_p');
  const messages = (arrayField(body, 'messages') ?? []).filter(isObject);
  call.requestMessageCount = messages.length;
  call.inputMessages = messages.map((entry) => message(stringField(entry, 'role') ?? 'user', converseParts(arrayField(entry, 'content'))));
  const system = converseParts(arrayField(body, 'system'));
  call.systemInstructions = system;
  call.hasSystemPrompt = system.length > 0;
  call.requestToolsUsed = (arrayField(objectField(body, 'toolConfig'), 'tools')?.length ?? 0) > 0;
}

function converseParts(blocks: unknown[] | undefined): MessagePart[] {
  const parts: MessagePart[] = [];
  for (const block of blocks ?? []) {
    if (!isObject(block)) continue;
    const text = stringField(block, 'text');
    if (text !== undefined) {
      parts.push(textPart(text));
      continue;
    }
    const toolUse = objectField(block, 'toolUse');
    if (toolUse) {
      parts.push(toolCallPart(stringField(toolUse, 'toolUseId'), stringField(toolUse, 'name'), toolUse.input));
      continue;
    }
    const toolResult = objectField(block, 'toolResult');
    if (toolResult) {
      const content = arrayField(toolResult, 'content') ?? [];
      // JSON results stay as sent; image, document and video results keep their kind, not their base64 bytes.
      const result =
        plainText(content) ?? content.map((item) => (isObject(item) && 'json' in item ? item.json : (converseParts([item])[0] ?? null)));
      parts.push(toolCallResponsePart(stringField(toolResult, 'toolUseId'), result));
      continue;
    }
    const reasoning = stringField(objectField(objectField(block, 'reasoningContent'), 'reasoningText'), 'text');
    if (reasoning !== undefined) {
      parts.push(reasoningPart(reasoning));
      continue;
    }
    for (const kind of ['image', 'document', 'video']) {
      const media = objectField(block, kind);
      if (media) parts.push(opaquePart(kind === 'document' ? 'file' : 'blob', { modality: kind, format: stringField(media, 'format') }));
    }
    // cachePoint and guardContent blocks carry no conversation content.
  }
  return parts;
}

function readAnthropicRequest(call: LlmCall, body: JsonObject): void {
  call.maxTokens = numberField(body, 'max_tokens');
  readSampling(call, body, 'top_p');
  const messages = (arrayField(body, 'messages') ?? []).filter(isObject);
  call.requestMessageCount = messages.length;
  call.inputMessages = messages.map((entry) => message(stringField(entry, 'role') ?? 'user', anthropicParts(entry.content)));
  const system = body.system;
  call.systemInstructions = typeof system === 'string' ? [textPart(system)] : anthropicParts(system);
  call.hasSystemPrompt = call.systemInstructions.length > 0;
  call.requestToolsUsed = (arrayField(body, 'tools')?.length ?? 0) > 0;
}

function anthropicParts(content: unknown): MessagePart[] {
  if (typeof content === 'string') return [textPart(content)];
  const parts: MessagePart[] = [];
  for (const block of Array.isArray(content) ? content : []) {
    switch (stringField(block, 'type')) {
      case 'text':
        parts.push(textPart(stringField(block, 'text') ?? ''));
        break;
      case 'thinking':
        parts.push(reasoningPart(stringField(block, 'thinking') ?? ''));
        break;
      case 'tool_use':
        parts.push(toolCallPart(stringField(block, 'id'), stringField(block, 'name'), (block as JsonObject).input));
        break;
      case 'tool_result': {
        // Image or document results keep their kind, not their base64 bytes.
        const result = (block as JsonObject).content;
        const response = plainText(result) ?? (Array.isArray(result) ? anthropicParts(result) : result);
        parts.push(toolCallResponsePart(stringField(block, 'tool_use_id'), response));
        break;
      }
      case 'image':
      case 'document':
        parts.push(opaquePart('blob', { modality: stringField(block, 'type'), mime_type: stringField(objectField(block, 'source'), 'media_type') }));
        break;
      default:
        break;
    }
  }
  return parts;
}

function readCohereChatRequest(call: LlmCall, body: JsonObject): void {
  call.maxTokens = numberField(body, 'max_tokens');
  readSampling(call, body, 'p');
  const history = (arrayField(body, 'chat_history') ?? []).filter(isObject);
  const messages = history.map((entry) => message(cohereRole(stringField(entry, 'role')), [textPart(stringField(entry, 'message') ?? '')]));
  const current = stringField(body, 'message');
  if (current !== undefined) messages.push(message('user', [textPart(current)]));
  call.inputMessages = messages;
  call.requestMessageCount = messages.length;
  const preamble = stringField(body, 'preamble');
  if (preamble) {
    call.systemInstructions = [textPart(preamble)];
    call.hasSystemPrompt = true;
  }
  call.requestToolsUsed = (arrayField(body, 'tools')?.length ?? 0) > 0;
}

function cohereRole(role: string | undefined): string {
  switch (role?.toUpperCase()) {
    case 'CHATBOT':
      return 'assistant';
    case 'SYSTEM':
      return 'system';
    case 'TOOL':
      return 'tool';
    default:
      return 'user';
  }
}

/** Mistral Large on Bedrock also takes OpenAI-style `messages`. */
function readChatCompletionStyleRequest(call: LlmCall, body: JsonObject): void {
  const messages = (arrayField(body, 'messages') ?? []).filter(isObject);
  const conversation: ChatMessage[] = [];
  for (const entry of messages) {
    const role = stringField(entry, 'role') ?? 'user';
    const text = plainText(entry.content);
    if (role === 'system') {
      if (text !== undefined) call.systemInstructions.push(textPart(text));
      continue;
    }
    const parts: MessagePart[] = text !== undefined ? [textPart(text)] : [];
    if (role === 'tool') conversation.push(message(role, [toolCallResponsePart(stringField(entry, 'tool_call_id'), text ?? null)]));
    else conversation.push(message(role, parts.concat(chatCompletionToolCalls(entry))));
  }
  call.inputMessages = conversation;
  call.requestMessageCount = messages.length;
  call.hasSystemPrompt = call.systemInstructions.length > 0;
  call.requestToolsUsed = (arrayField(body, 'tools')?.length ?? 0) > 0;
}

function chatCompletionToolCalls(messageBody: JsonObject | undefined): MessagePart[] {
  return (arrayField(messageBody, 'tool_calls') ?? []).filter(isObject).map((toolCall) => {
    const fn = objectField(toolCall, 'function');
    return toolCallPart(stringField(toolCall, 'id'), stringField(fn, 'name'), fn?.arguments);
  });
}

// ---------------------------------------------------------------------------------------------
// Responses

/** Token counts as each source reports them: input without cache, cache apart (added in at the end). */
class UsageTally {
  input?: number;
  output?: number;
  total?: number;
  cacheRead?: number;
  cacheWrite?: number;

  /** Later sources only fill what earlier (more specific) ones left open. */
  fill(input: number | undefined, output: number | undefined, cacheRead?: number, cacheWrite?: number, total?: number): void {
    this.input ??= input;
    this.output ??= output;
    this.cacheRead ??= cacheRead;
    this.cacheWrite ??= cacheWrite;
    this.total ??= total;
  }

  /** Stream events report running totals; the latest one wins. */
  set(input: number | undefined, output: number | undefined, cacheRead?: number, cacheWrite?: number): void {
    if (input !== undefined) this.input = input;
    if (output !== undefined) this.output = output;
    if (cacheRead !== undefined) this.cacheRead = cacheRead;
    if (cacheWrite !== undefined) this.cacheWrite = cacheWrite;
  }

  /** `amazon-bedrock-invocationMetrics`, appended by Bedrock to the last invoke stream chunk. */
  fillFromInvocationMetrics(metrics: JsonObject | undefined): void {
    if (!metrics) return;
    this.fill(
      countField(metrics, 'inputTokenCount'),
      countField(metrics, 'outputTokenCount'),
      countField(metrics, 'cacheReadInputTokenCount'),
      countField(metrics, 'cacheWriteInputTokenCount'),
    );
  }

  fillFromHeaders(headers: Record<string, string>): void {
    this.fill(
      headerCount(headers, 'x-amzn-bedrock-input-token-count'),
      headerCount(headers, 'x-amzn-bedrock-output-token-count'),
      headerCount(headers, 'x-amzn-bedrock-cache-read-input-token-count'),
      headerCount(headers, 'x-amzn-bedrock-cache-write-input-token-count'),
    );
  }

  toTokenUsage(): TokenUsage {
    const usage: TokenUsage = {};
    const cached = (this.cacheRead ?? 0) + (this.cacheWrite ?? 0);
    if (this.input !== undefined) usage.inputTokens = this.input + cached;
    else if (cached > 0) usage.inputTokens = cached;
    if (this.output !== undefined) usage.outputTokens = this.output;
    if (usage.inputTokens !== undefined && usage.outputTokens !== undefined) usage.totalTokens = usage.inputTokens + usage.outputTokens;
    else if (this.total !== undefined) usage.totalTokens = this.total;
    if (this.cacheRead !== undefined) usage.cacheReadInputTokens = this.cacheRead;
    if (this.cacheWrite !== undefined) usage.cacheCreationInputTokens = this.cacheWrite;
    return usage;
  }
}

function headerCount(headers: Record<string, string>, name: string): number | undefined {
  const raw = headers[name];
  if (raw === undefined || !/^\s*\d+\s*$/.test(raw)) return undefined;
  return Number(raw);
}

class ResponseFacts {
  readonly usage = new UsageTally();
  responseModel?: string;
  messageId?: string;
  readonly finishReasons: string[] = [];
  readonly outputMessages: ChatMessage[] = [];
  /** Streamed output, per choice index. */
  readonly streamed = new Map<number, StreamedChoice>();
  error?: ProviderError;
  firstByteLatencyMs?: number;

  addFinishReason(reason: string | undefined): void {
    if (reason) this.finishReasons.push(reason);
  }

  applyTo(call: LlmCall, route: BedrockRoute): void {
    for (const choice of orderedChoices(this.streamed)) {
      this.addFinishReason(choice.finishReason);
      this.outputMessages.push(choice.toMessage());
    }
    call.outputMessages = this.outputMessages;
    call.finishReasons = this.finishReasons;
    call.responseToolCalls = this.outputMessages.reduce(
      (count, entry) => count + entry.parts.filter((part) => part.type === 'tool_call').length,
      0,
    );
    call.usage = this.usage.toTokenUsage();
    call.messageId = this.messageId;
    // The model the id resolves to answered, unless the body names it more precisely.
    call.responseModel = this.responseModel ?? (call.httpStatus !== undefined && call.httpStatus < 400 ? route.resolvedModel : undefined);
    call.error ??= this.error;
  }
}

function readResponseBody(facts: ResponseFacts, shape: BodyShape, body: JsonObject): void {
  switch (shape) {
    case 'converse':
    case 'nova':
      readConverseStyleResponse(facts, body);
      return;
    case 'anthropic':
      readAnthropicResponse(facts, body);
      return;
    case 'titan-text':
    case 'titan-embed': {
      let output: number | undefined;
      for (const result of (arrayField(body, 'results') ?? []).filter(isObject)) {
        output = (output ?? 0) + (countField(result, 'tokenCount') ?? 0);
        facts.addFinishReason(stringField(result, 'completionReason'));
        facts.outputMessages.push(message('assistant', [textPart(stringField(result, 'outputText') ?? '')], stringField(result, 'completionReason')));
      }
      facts.usage.fill(countField(body, 'inputTextTokenCount'), output);
      return;
    }
    case 'llama': {
      const stopReason = stringField(body, 'stop_reason');
      facts.addFinishReason(stopReason);
      const generation = stringField(body, 'generation');
      if (generation !== undefined) facts.outputMessages.push(message('assistant', [textPart(generation)], stopReason));
      facts.usage.fill(countField(body, 'prompt_token_count'), countField(body, 'generation_token_count'));
      return;
    }
    case 'cohere-chat':
      readCohereChatResponse(facts, body);
      return;
    case 'cohere-text':
      facts.messageId = stringField(body, 'id');
      for (const generation of (arrayField(body, 'generations') ?? []).filter(isObject)) {
        const reason = stringField(generation, 'finish_reason');
        facts.addFinishReason(reason);
        facts.outputMessages.push(message('assistant', [textPart(stringField(generation, 'text') ?? '')], reason));
      }
      return;
    case 'cohere-embed':
      facts.messageId = stringField(body, 'id');
      return;
    case 'mistral':
      readMistralResponse(facts, body);
      return;
    case 'unknown':
      readUnknownFamilyResponse(facts, body);
      return;
  }
}

/** Neither the model id nor the request named the family: the response's own shape decides. */
function readUnknownFamilyResponse(facts: ResponseFacts, body: JsonObject): void {
  if (objectField(objectField(body, 'output'), 'message')) readConverseStyleResponse(facts, body);
  else if (stringField(body, 'type') === 'message' && Array.isArray(body.content)) readAnthropicResponse(facts, body);
  else readMistralResponse(facts, body);
}

function readConverseStyleResponse(facts: ResponseFacts, body: JsonObject): void {
  const stopReason = stringField(body, 'stopReason');
  facts.addFinishReason(stopReason);
  const output = objectField(objectField(body, 'output'), 'message');
  if (output) {
    facts.outputMessages.push(message(stringField(output, 'role') ?? 'assistant', converseParts(arrayField(output, 'content')), stopReason));
  }
  readConverseUsage(facts.usage, objectField(body, 'usage'));
}

/** Converse says `cacheReadInputTokens`; Nova `invoke` says `cacheReadInputTokenCount`. */
function readConverseUsage(usage: UsageTally, body: JsonObject | undefined): void {
  if (!body) return;
  usage.fill(
    countField(body, 'inputTokens'),
    countField(body, 'outputTokens'),
    countField(body, 'cacheReadInputTokens') ?? countField(body, 'cacheReadInputTokenCount'),
    countField(body, 'cacheWriteInputTokens') ?? countField(body, 'cacheWriteInputTokenCount'),
    countField(body, 'totalTokens'),
  );
}

function readAnthropicResponse(facts: ResponseFacts, body: JsonObject): void {
  facts.messageId = stringField(body, 'id');
  facts.responseModel = stringField(body, 'model');
  const stopReason = stringField(body, 'stop_reason');
  facts.addFinishReason(stopReason);
  facts.outputMessages.push(message(stringField(body, 'role') ?? 'assistant', anthropicParts(body.content), stopReason));
  readAnthropicUsage(facts.usage, objectField(body, 'usage'), false);
}

function readAnthropicUsage(usage: UsageTally, body: JsonObject | undefined, latestWins: boolean): void {
  if (!body) return;
  const counts = [
    countField(body, 'input_tokens'),
    countField(body, 'output_tokens'),
    countField(body, 'cache_read_input_tokens'),
    countField(body, 'cache_creation_input_tokens'),
  ] as const;
  if (latestWins) usage.set(...counts);
  else usage.fill(...counts);
}

function readCohereChatResponse(facts: ResponseFacts, body: JsonObject): void {
  facts.messageId = stringField(body, 'response_id') ?? stringField(body, 'generation_id');
  const reason = stringField(body, 'finish_reason');
  facts.addFinishReason(reason);
  const toolCalls = (arrayField(body, 'tool_calls') ?? [])
    .filter(isObject)
    .map((toolCall) => toolCallPart(undefined, stringField(toolCall, 'name'), toolCall.parameters));
  const text = stringField(body, 'text');
  const parts = text ? [textPart(text), ...toolCalls] : toolCalls;
  facts.outputMessages.push(message('assistant', parts, reason));
  const billed = objectField(objectField(body, 'meta'), 'billed_units');
  facts.usage.fill(countField(billed, 'input_tokens'), countField(billed, 'output_tokens'));
}

function readMistralResponse(facts: ResponseFacts, body: JsonObject): void {
  for (const output of (arrayField(body, 'outputs') ?? []).filter(isObject)) {
    const reason = stringField(output, 'stop_reason');
    facts.addFinishReason(reason);
    facts.outputMessages.push(message('assistant', [textPart(stringField(output, 'text') ?? '')], reason));
  }
  for (const choice of (arrayField(body, 'choices') ?? []).filter(isObject)) {
    const reason = stringField(choice, 'stop_reason') ?? stringField(choice, 'finish_reason');
    facts.addFinishReason(reason);
    const reply = objectField(choice, 'message');
    const text = plainText(reply?.content);
    const parts = (text ? [textPart(text)] : []).concat(chatCompletionToolCalls(reply));
    facts.outputMessages.push(message(stringField(reply, 'role') ?? 'assistant', parts, reason));
  }
  facts.messageId = stringField(body, 'id');
  const usage = objectField(body, 'usage');
  facts.usage.fill(countField(usage, 'prompt_tokens'), countField(usage, 'completion_tokens'));
}

// ---------------------------------------------------------------------------------------------
// Streams

function readEventStream(facts: ResponseFacts, shape: BodyShape, body: Buffer): void {
  // A cut tail loses only the events after the cut; what decoded still describes the call.
  const { messages } = decodeEventStream(body);
  for (const event of messages) {
    if (event.messageType === 'exception' || event.messageType === 'error') {
      facts.error ??= streamError(event);
      continue;
    }
    const payload = tryParseJson(event.payload.toString('utf8'));
    if (!isObject(payload)) continue;
    if (shape === 'converse') {
      readConverseStreamEvent(facts, event.eventType ?? '', payload);
    } else if (event.eventType === 'chunk' || event.eventType === undefined) {
      const chunk = decodeChunk(payload);
      if (chunk) readInvokeStreamChunk(facts, shape, chunk);
    }
  }
}

/** `{"bytes": "<base64 JSON>"}` -> the family's own stream event. */
function decodeChunk(payload: JsonObject): JsonObject | undefined {
  const bytes = stringField(payload, 'bytes');
  if (bytes === undefined) return undefined;
  const chunk = tryParseJson(Buffer.from(bytes, 'base64').toString('utf8'));
  return isObject(chunk) ? chunk : undefined;
}

function streamError(event: EventStreamMessage): ProviderError {
  const payload = tryParseJson(event.payload.toString('utf8'));
  const exceptionType = event.headers[':exception-type'] ?? event.headers[':error-code'];
  const message = stringField(payload, 'message') ?? stringField(payload, 'Message') ?? event.headers[':error-message'];
  const error: ProviderError = { type: typeof exceptionType === 'string' ? exceptionName(exceptionType) : 'stream_error' };
  if (typeof message === 'string') error.message = message;
  const originalStatus = numberField(payload, 'originalStatusCode');
  if (originalStatus !== undefined) error.code = String(originalStatus);
  return error;
}

/** Stream exceptions are named as union members (`throttlingException`); HTTP errors as types (`ThrottlingException`). */
function exceptionName(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function readConverseStreamEvent(facts: ResponseFacts, eventType: string, payload: JsonObject): void {
  const index = numberField(payload, 'contentBlockIndex') ?? 0;
  const choice = choiceAt(facts.streamed, 0);
  switch (eventType) {
    case 'messageStart':
      choice.role = stringField(payload, 'role') ?? choice.role;
      return;
    case 'contentBlockStart': {
      const toolUse = objectField(objectField(payload, 'start'), 'toolUse');
      if (toolUse) choice.addToolCallDelta(index, stringField(toolUse, 'toolUseId'), stringField(toolUse, 'name'), undefined);
      return;
    }
    case 'contentBlockDelta':
      addConverseDelta(choice, index, objectField(payload, 'delta'));
      return;
    case 'messageStop':
      choice.finishReason = stringField(payload, 'stopReason') ?? choice.finishReason;
      return;
    case 'metadata':
      readConverseUsage(facts.usage, objectField(payload, 'usage'));
      return;
    default:
      return;
  }
}

function addConverseDelta(choice: StreamedChoice, index: number, delta: JsonObject | undefined): void {
  const text = stringField(delta, 'text');
  if (text !== undefined) choice.text += text;
  const toolUse = objectField(delta, 'toolUse');
  if (toolUse) choice.addToolCallDelta(index, undefined, undefined, stringField(toolUse, 'input'));
  const reasoning = stringField(objectField(delta, 'reasoningContent'), 'text');
  if (reasoning !== undefined) choice.reasoning += reasoning;
}

function readInvokeStreamChunk(facts: ResponseFacts, shape: BodyShape, chunk: JsonObject): void {
  const metrics = objectField(chunk, 'amazon-bedrock-invocationMetrics');
  const choice = choiceAt(facts.streamed, 0);
  switch (shape) {
    case 'anthropic':
      readAnthropicStreamEvent(facts, choice, chunk);
      break;
    case 'nova': {
      // Nova wraps each converse-style event in an object keyed by its type.
      for (const eventType of ['messageStart', 'contentBlockStart', 'contentBlockDelta', 'messageStop', 'metadata']) {
        const event = objectField(chunk, eventType);
        if (event) readConverseStreamEvent(facts, eventType, event);
      }
      break;
    }
    case 'titan-text':
    case 'titan-embed':
      choice.text += stringField(chunk, 'outputText') ?? '';
      choice.finishReason = stringField(chunk, 'completionReason') ?? choice.finishReason;
      facts.usage.set(countField(chunk, 'inputTextTokenCount'), countField(chunk, 'totalOutputTextTokenCount'));
      break;
    case 'llama':
      choice.text += stringField(chunk, 'generation') ?? '';
      choice.finishReason = stringField(chunk, 'stop_reason') ?? choice.finishReason;
      facts.usage.set(countField(chunk, 'prompt_token_count'), countField(chunk, 'generation_token_count'));
      break;
    case 'cohere-chat':
    case 'cohere-text':
      readCohereStreamEvent(facts, choice, chunk);
      break;
    case 'cohere-embed':
      break;
    case 'mistral':
    case 'unknown':
      readMistralStreamChunk(facts, chunk);
      break;
    case 'converse':
      break;
  }
  facts.usage.fillFromInvocationMetrics(metrics);
  facts.firstByteLatencyMs ??= countField(metrics, 'firstByteLatency');
}

function readAnthropicStreamEvent(facts: ResponseFacts, choice: StreamedChoice, event: JsonObject): void {
  const index = numberField(event, 'index') ?? 0;
  switch (stringField(event, 'type')) {
    case 'message_start': {
      const start = objectField(event, 'message');
      facts.messageId = stringField(start, 'id');
      facts.responseModel = stringField(start, 'model');
      choice.role = stringField(start, 'role') ?? choice.role;
      readAnthropicUsage(facts.usage, objectField(start, 'usage'), true);
      return;
    }
    case 'content_block_start': {
      const block = objectField(event, 'content_block');
      if (stringField(block, 'type') === 'tool_use') choice.addToolCallDelta(index, stringField(block, 'id'), stringField(block, 'name'), undefined);
      else choice.text += stringField(block, 'text') ?? '';
      return;
    }
    case 'content_block_delta': {
      const delta = objectField(event, 'delta');
      switch (stringField(delta, 'type')) {
        case 'text_delta':
          choice.text += stringField(delta, 'text') ?? '';
          return;
        case 'thinking_delta':
          choice.reasoning += stringField(delta, 'thinking') ?? '';
          return;
        case 'input_json_delta':
          choice.addToolCallDelta(index, undefined, undefined, stringField(delta, 'partial_json'));
          return;
        default:
          return;
      }
    }
    case 'message_delta':
      choice.finishReason = stringField(objectField(event, 'delta'), 'stop_reason') ?? choice.finishReason;
      readAnthropicUsage(facts.usage, objectField(event, 'usage'), true);
      return;
    case 'error': {
      const error = objectField(event, 'error');
      facts.error ??= { type: stringField(error, 'type') ?? 'error', message: stringField(error, 'message') };
      return;
    }
    default:
      return;
  }
}

function readCohereStreamEvent(facts: ResponseFacts, choice: StreamedChoice, event: JsonObject): void {
  const eventType = stringField(event, 'event_type');
  if (eventType === 'stream-end') {
    choice.finishReason = stringField(event, 'finish_reason') ?? choice.finishReason;
    const response = objectField(event, 'response');
    facts.messageId ??= stringField(response, 'response_id') ?? stringField(response, 'generation_id');
    const billed = objectField(objectField(response, 'meta'), 'billed_units');
    facts.usage.fill(countField(billed, 'input_tokens'), countField(billed, 'output_tokens'));
    return;
  }
  if (eventType === undefined || eventType === 'text-generation') choice.text += stringField(event, 'text') ?? '';
  if (eventType === 'stream-start') facts.messageId = stringField(event, 'generation_id');
  if (eventType === undefined && event.is_finished === true) {
    choice.finishReason = stringField(event, 'finish_reason') ?? choice.finishReason;
  }
}

function readMistralStreamChunk(facts: ResponseFacts, chunk: JsonObject): void {
  const outputs = (arrayField(chunk, 'outputs') ?? []).filter(isObject);
  outputs.forEach((output, index) => {
    const choice = choiceAt(facts.streamed, index);
    choice.text += stringField(output, 'text') ?? '';
    choice.finishReason = stringField(output, 'stop_reason') ?? choice.finishReason;
  });
  for (const entry of (arrayField(chunk, 'choices') ?? []).filter(isObject)) {
    const choice = choiceAt(facts.streamed, numberField(entry, 'index') ?? 0);
    const delta = objectField(entry, 'message') ?? objectField(entry, 'delta');
    choice.text += plainText(delta?.content) ?? '';
    choice.finishReason = stringField(entry, 'stop_reason') ?? stringField(entry, 'finish_reason') ?? choice.finishReason;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * `x-amzn-errortype: AccessDeniedException:http://internal.amazon.com/coral/...` names the error;
 * the body carries `{"message": ...}` (or `Message`), sometimes with a `__type` of `namespace#Name`.
 */
function httpError(status: number, headers: Record<string, string>, body: Buffer): ProviderError {
  const parsed = tryParseJson(body.toString('utf8'));
  const headerType = headers['x-amzn-errortype']?.split(':')[0].trim();
  const bodyType = (stringField(parsed, '__type') ?? stringField(parsed, 'code'))?.split('#').pop()?.split(':')[0];
  const error: ProviderError = { type: headerType || bodyType || String(status), code: String(status) };
  const message = stringField(parsed, 'message') ?? stringField(parsed, 'Message');
  if (message !== undefined) error.message = message;
  return error;
}
