/**
 * Maps the GenAI attribute dialects that instrumented applications send (OTel GenAI semconv old and new,
 * OpenLLMetry, OpenInference) onto the one attribute set the sensor produces, so received spans feed the
 * same metrics, UI and storage as captured ones. Converted legacy attributes are removed.
 */
import type { AttributeValue, Attributes, GenAiSpan } from '../span/gen-ai-span';
import { isHealthReport } from '../span/health-report';
import { dropCredentialAttributes } from '../pipeline/privacy/redact';
import type { OtlpSpanEvent } from './otlp-codec';

type Message = { role: string; parts: Array<Record<string, unknown>>; finish_reason?: string };

/** Provider names seen in the wild -> `gen_ai.provider.name` well-known values. */
const PROVIDER_ALIASES: Record<string, string> = {
  'az.ai.openai': 'azure.ai.openai',
  azure: 'azure.ai.openai',
  azure_openai: 'azure.ai.openai',
  azureopenai: 'azure.ai.openai',
  'azure.openai': 'azure.ai.openai',
  'az.ai.inference': 'azure.ai.inference',
  bedrock: 'aws.bedrock',
  aws: 'aws.bedrock',
  aws_bedrock: 'aws.bedrock',
  'amazon bedrock': 'aws.bedrock',
  vertexai: 'gcp.vertex_ai',
  vertex_ai: 'gcp.vertex_ai',
  google: 'gcp.gen_ai',
  gemini: 'gcp.gemini',
  mistralai: 'mistral_ai',
  mistral: 'mistral_ai',
  watsonx: 'ibm.watsonx.ai',
};

export function normaliseProviderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return PROVIDER_ALIASES[lower] ?? lower;
}

/** OpenLLMetry `llm.request.type` and OpenInference span kinds -> `gen_ai.operation.name`. */
const OPERATION_ALIASES: Record<string, string> = {
  chat: 'chat',
  completion: 'text_completion',
  embedding: 'embeddings',
  embeddings: 'embeddings',
  rerank: 'rerank',
  LLM: 'chat',
  EMBEDDING: 'embeddings',
};

class AttributeReader {
  readonly consumed = new Set<string>();

  constructor(readonly attributes: Attributes) {}

  /** The first present value among `keys`; every present legacy key is marked for removal. */
  first(keys: string[], legacyFrom = 1): AttributeValue | undefined {
    let found: AttributeValue | undefined;
    keys.forEach((key, index) => {
      const value = this.attributes[key];
      if (value === undefined || value === '') return;
      if (index >= legacyFrom) this.consumed.add(key);
      found ??= value;
    });
    return found;
  }

  text(keys: string[], legacyFrom = 1): string | undefined {
    const value = this.first(keys, legacyFrom);
    return value === undefined ? undefined : String(value);
  }

  count(keys: string[], legacyFrom = 1): number | undefined {
    const value = this.first(keys, legacyFrom);
    const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
    return Number.isFinite(number) && number >= 0 ? number : undefined;
  }
}

/** `prefix.<index>.<rest>` attributes grouped by index, e.g. `gen_ai.prompt.0.role`. */
function indexed(attributes: Attributes, prefix: string, consumed: Set<string>): Map<number, Record<string, AttributeValue>> {
  const groups = new Map<number, Record<string, AttributeValue>>();
  for (const [key, value] of Object.entries(attributes)) {
    if (!key.startsWith(prefix)) continue;
    const match = /^(\d+)\.(.+)$/.exec(key.slice(prefix.length));
    if (!match) continue;
    consumed.add(key);
    const index = Number(match[1]);
    const group = groups.get(index) ?? {};
    group[match[2]] = value;
    groups.set(index, group);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => a - b));
}

function toolCallParts(fields: Record<string, AttributeValue>, prefix: string, nameKey: string, argumentsKey: string, idKey: string): Array<Record<string, unknown>> {
  return [...indexed(fields, prefix, new Set()).values()].map((call) => {
    const part: Record<string, unknown> = { type: 'tool_call' };
    if (call[nameKey] !== undefined) part.name = call[nameKey];
    if (call[argumentsKey] !== undefined) part.arguments = call[argumentsKey];
    if (call[idKey] !== undefined) part.id = call[idKey];
    return part;
  });
}

/** OpenLLMetry `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`. */
function openLlmetryMessages(attributes: Attributes, prefix: string, consumed: Set<string>, defaultRole: string): Message[] {
  return [...indexed(attributes, prefix, consumed).values()].map((fields) => {
    const parts: Array<Record<string, unknown>> = [];
    if (fields.content !== undefined && fields.content !== '') parts.push({ type: 'text', content: String(fields.content) });
    parts.push(...toolCallParts(fields, 'tool_calls.', 'name', 'arguments', 'id'));
    if (fields.tool_call_id !== undefined && parts.length > 0 && parts[0].type === 'text') {
      parts[0] = { type: 'tool_call_response', id: fields.tool_call_id, response: parts[0].content };
    }
    const message: Message = { role: String(fields.role ?? defaultRole), parts };
    if (fields.finish_reason !== undefined) message.finish_reason = String(fields.finish_reason);
    return message;
  });
}

/** OpenInference `llm.input_messages.N.message.*` / `llm.output_messages.N.message.*`. */
function openInferenceMessages(attributes: Attributes, prefix: string, consumed: Set<string>, defaultRole: string): Message[] {
  return [...indexed(attributes, prefix, consumed).values()].map((fields) => {
    const parts: Array<Record<string, unknown>> = [];
    if (fields['message.content'] !== undefined) parts.push({ type: 'text', content: String(fields['message.content']) });
    const contents = new Map<number, Record<string, unknown>>();
    for (const [key, value] of Object.entries(fields)) {
      const match = /^message\.contents\.(\d+)\.message_content\.(text|type|image\.image\.url)$/.exec(key);
      if (!match) continue;
      const content = contents.get(Number(match[1])) ?? {};
      content[match[2]] = value;
      contents.set(Number(match[1]), content);
    }
    for (const [, content] of [...contents.entries()].sort(([a], [b]) => a - b)) {
      if (content.text !== undefined) parts.push({ type: 'text', content: String(content.text) });
      else if (content['image.image.url'] !== undefined) parts.push({ type: 'uri', modality: 'image', uri: content['image.image.url'] });
    }
    parts.push(...toolCallParts(fields, 'message.tool_calls.', 'tool_call.function.name', 'tool_call.function.arguments', 'tool_call.id'));
    return { role: String(fields['message.role'] ?? defaultRole), parts };
  });
}

/** Older semconv / OpenLLMetry whole-document form: `[{"role":"user","content":"..."}]`. */
function roleContentMessages(json: AttributeValue | undefined, defaultRole = 'user'): Message[] | undefined {
  if (typeof json !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(json);
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.filter((item) => item !== null && typeof item === 'object').map((item) => {
      const record = item as Record<string, unknown>;
      if (Array.isArray(record.parts)) return record as unknown as Message;
      const content = typeof record.content === 'string' ? record.content : JSON.stringify(record.content ?? record.message ?? '');
      const message: Message = { role: String(record.role ?? defaultRole), parts: [{ type: 'text', content }] };
      if (typeof record.finish_reason === 'string') message.finish_reason = record.finish_reason;
      return message;
    });
  } catch {
    return [{ role: defaultRole, parts: [{ type: 'text', content: json }] }];
  }
}

function eventAttribute(events: OtlpSpanEvent[], eventName: string, attribute: string): AttributeValue | undefined {
  return events.find((event) => event.name === eventName)?.attributes[attribute];
}

function serverAddressOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname || undefined;
  } catch {
    return undefined;
  }
}

/** OpenInference `llm.invocation_parameters`: the request parameters as a JSON object. */
function invocationParameters(value: AttributeValue | undefined): Record<string, unknown> {
  if (typeof value !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const GENAI_PREFIXES = ['gen_ai.', 'llm.'];

/** True when a span describes an LLM call or another GenAI operation, in any of the supported dialects. */
export function hasGenAiAttributes(attributes: Attributes): boolean {
  const kind = attributes['openinference.span.kind'];
  if (kind === 'LLM' || kind === 'EMBEDDING') return true;
  return Object.keys(attributes).some((key) => GENAI_PREFIXES.some((prefix) => key.startsWith(prefix)));
}

/** The span's attributes in the sensor's attribute set. Existing canonical values win over legacy ones. */
export function normaliseGenAiAttributes(input: Attributes, events: OtlpSpanEvent[] = [], statusIsError = false): Attributes {
  const reader = new AttributeReader(input);
  const out: Attributes = { ...input };
  const setIfAbsent = (key: string, value: AttributeValue | undefined): void => {
    if (value !== undefined && out[key] === undefined) out[key] = value;
  };

  const provider = reader.text(['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system', 'llm.vendor'], 2);
  if (provider) {
    const canonical = normaliseProviderName(provider);
    out['gen_ai.provider.name'] = canonical;
    out['gen_ai.system'] = canonical;
  }

  setIfAbsent('gen_ai.request.model', reader.text(['gen_ai.request.model', 'llm.request.model', 'llm.model_name']));
  setIfAbsent('gen_ai.response.model', reader.text(['gen_ai.response.model', 'llm.response.model']));
  const operation = reader.text(['gen_ai.operation.name', 'llm.request.type'])
    ?? (input['openinference.span.kind'] === 'LLM' || input['openinference.span.kind'] === 'EMBEDDING' ? String(input['openinference.span.kind']) : undefined);
  if (operation) out['gen_ai.operation.name'] = OPERATION_ALIASES[operation] ?? operation;

  const inputTokens = reader.count(['gen_ai.usage.input_tokens', 'gen_ai.response.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.usage.prompt_tokens', 'llm.token_count.prompt'], 2);
  const outputTokens = reader.count(['gen_ai.usage.output_tokens', 'gen_ai.response.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.usage.completion_tokens', 'llm.token_count.completion'], 2);
  const totalTokens = reader.count(['gen_ai.response.usage.total_tokens', 'gen_ai.usage.total_tokens', 'llm.usage.total_tokens', 'llm.token_count.total'], 1)
    ?? (inputTokens !== undefined && outputTokens !== undefined ? inputTokens + outputTokens : undefined);
  if (inputTokens !== undefined) {
    out['gen_ai.usage.input_tokens'] = inputTokens;
    out['gen_ai.response.usage.input_tokens'] = inputTokens;
  }
  if (outputTokens !== undefined) {
    out['gen_ai.usage.output_tokens'] = outputTokens;
    out['gen_ai.response.usage.output_tokens'] = outputTokens;
  }
  if (totalTokens !== undefined) out['gen_ai.response.usage.total_tokens'] = totalTokens;
  const cacheRead = reader.count(['gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens', 'llm.token_count.prompt_details.cache_read']);
  if (cacheRead !== undefined) out['gen_ai.usage.cache_read.input_tokens'] = cacheRead;
  const cacheWrite = reader.count(['gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.cache_creation_input_tokens', 'llm.token_count.prompt_details.cache_write']);
  if (cacheWrite !== undefined) out['gen_ai.usage.cache_creation.input_tokens'] = cacheWrite;

  const parameters = invocationParameters(input['llm.invocation_parameters']);
  const numberOf = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  setIfAbsent('gen_ai.request.temperature', reader.count(['gen_ai.request.temperature', 'llm.temperature']) ?? numberOf(parameters.temperature));
  setIfAbsent('gen_ai.request.top_p', reader.count(['gen_ai.request.top_p', 'llm.top_p']) ?? numberOf(parameters.top_p));
  setIfAbsent('gen_ai.request.max_tokens', reader.count(['gen_ai.request.max_tokens', 'llm.request.max_tokens'])
    ?? numberOf(parameters.max_tokens) ?? numberOf(parameters.max_completion_tokens));
  const stream = reader.first(['gen_ai.request.stream', 'llm.is_streaming']) ?? (typeof parameters.stream === 'boolean' ? parameters.stream : undefined);
  if (stream !== undefined) out['gen_ai.request.stream'] = stream === true || stream === 'true';

  const responseId = reader.text(['gen_ai.response.id', 'gen_ai.response.message_id'], 2);
  if (responseId) {
    out['gen_ai.response.id'] = responseId;
    out['gen_ai.response.message_id'] = responseId;
  }

  // Informational base-URL attributes stay; only their host is copied.
  setIfAbsent('server.address', serverAddressOf(reader.text(['gen_ai.openai.api_base', 'llm.openai.api_base', 'url.full'], 3)));

  // Messages: the first dialect present wins; legacy content attributes are removed after conversion.
  if (out['gen_ai.input.messages'] === undefined) {
    const fromIndexed = openLlmetryMessages(input, 'gen_ai.prompt.', reader.consumed, 'user');
    const fromOpenInference = openInferenceMessages(input, 'llm.input_messages.', reader.consumed, 'user');
    const fromDocument = roleContentMessages(reader.first(['gen_ai.prompt'], 0) ?? eventAttribute(events, 'gen_ai.content.prompt', 'gen_ai.prompt'), 'user');
    const messages = [fromIndexed, fromOpenInference, fromDocument ?? []].find((list) => list.length > 0);
    if (messages) out['gen_ai.input.messages'] = JSON.stringify(messages);
  }
  if (out['gen_ai.output.messages'] === undefined) {
    const fromIndexed = openLlmetryMessages(input, 'gen_ai.completion.', reader.consumed, 'assistant');
    const fromOpenInference = openInferenceMessages(input, 'llm.output_messages.', reader.consumed, 'assistant');
    const fromDocument = roleContentMessages(reader.first(['gen_ai.completion'], 0) ?? eventAttribute(events, 'gen_ai.content.completion', 'gen_ai.completion'), 'assistant');
    const messages = [fromIndexed, fromOpenInference, fromDocument ?? []].find((list) => list.length > 0);
    if (messages) out['gen_ai.output.messages'] = JSON.stringify(messages);
  }
  const inputMessages = typeof out['gen_ai.input.messages'] === 'string' ? roleContentMessages(out['gen_ai.input.messages']) : undefined;
  if (inputMessages) {
    setIfAbsent('gen_ai.request.message_count', inputMessages.length);
    setIfAbsent('gen_ai.request.system_prompt', inputMessages.some((message) => message.role === 'system') || out['gen_ai.system_instructions'] !== undefined);
  }

  // Finish reasons: semconv array and the seed's single string, from whichever is present.
  let finishReasons: string[] | undefined;
  const reasons = reader.first(['gen_ai.response.finish_reasons', 'gen_ai.response.finish_reason', 'llm.response.finish_reason'], 2);
  if (Array.isArray(reasons)) finishReasons = reasons.map(String);
  else if (typeof reasons === 'string' && reasons !== '') finishReasons = reasons.split(',').map((reason) => reason.trim()).filter(Boolean);
  if (!finishReasons && typeof out['gen_ai.output.messages'] === 'string') {
    const fromMessages = (roleContentMessages(out['gen_ai.output.messages']) ?? []).flatMap((message) => (message.finish_reason ? [message.finish_reason] : []));
    if (fromMessages.length > 0) finishReasons = fromMessages;
  }
  if (finishReasons && finishReasons.length > 0) {
    out['gen_ai.response.finish_reasons'] = finishReasons;
    out['gen_ai.response.finish_reason'] = finishReasons.join(',');
  }

  const errorType = reader.text(['error.type', 'gen_ai.error.type'], 2) ?? (statusIsError ? '_OTHER' : undefined);
  if (errorType) {
    out['error.type'] = errorType;
    out['gen_ai.error.type'] = errorType;
  }

  for (const key of reader.consumed) {
    if (!isCanonical(key)) delete out[key];
  }
  return out;
}

const CANONICAL_KEYS = new Set([
  'gen_ai.provider.name', 'gen_ai.system', 'gen_ai.request.model', 'gen_ai.response.model', 'gen_ai.operation.name',
  'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'gen_ai.response.usage.input_tokens', 'gen_ai.response.usage.output_tokens',
  'gen_ai.response.usage.total_tokens', 'gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_creation.input_tokens',
  'gen_ai.request.temperature', 'gen_ai.request.top_p', 'gen_ai.request.max_tokens', 'gen_ai.request.stream', 'gen_ai.response.id',
  'gen_ai.response.message_id', 'gen_ai.response.finish_reasons', 'gen_ai.response.finish_reason', 'error.type', 'gen_ai.error.type',
]);

function isCanonical(key: string): boolean {
  return CANONICAL_KEYS.has(key);
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export interface NormaliseOptions {
  /** Keep spans without GenAI attributes (they pass through with credentials dropped). */
  keepNonGenAiSpans: boolean;
}

/**
 * A received span in the sensor's shape, or undefined when it is not a GenAI span and such spans are not kept.
 * Credential attributes are dropped in every case.
 */
export function normaliseSpan(span: GenAiSpan, events: OtlpSpanEvent[], options: NormaliseOptions): GenAiSpan | undefined {
  const attributes = dropCredentialAttributes(span.attributes);
  const resource = dropCredentialAttributes(span.resource);
  // Sensors' health reports carry no GenAI attributes but are always kept: the gateway publishes them.
  if (isHealthReport(span)) return { ...span, attributes, resource };
  if (!hasGenAiAttributes(attributes)) return options.keepNonGenAiSpans ? { ...span, attributes, resource } : undefined;
  const normalised = normaliseGenAiAttributes(attributes, events, span.status.code === 'error');
  const client = stringOf(normalised['sightline.client']) ?? stringOf(resource['sightline.workload']) ?? stringOf(resource['k8s.deployment.name'])
    ?? stringOf(resource['service.name']) ?? stringOf(resource['process.executable.name']);
  if (client) normalised['sightline.client'] = client;
  const server = stringOf(normalised['server.address']);
  if (server) normalised['sightline.server'] ??= server;
  // The sensor marks its own spans so a gateway can tell captured calls from application telemetry.
  const source = normalised['sightline.source'] === 'ebpf' ? 'ebpf' : 'otlp';
  return { ...span, attributes: normalised, resource, source };
}
