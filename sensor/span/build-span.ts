/**
 * LlmCall -> GenAiSpan: one CLIENT span per call carrying every attribute of the seed table under its
 * seed name, and the OTel GenAI semantic-convention name alongside wherever the two differ.
 */
import type { LlmCall } from '../provider/llm-call';
import type { Attributes, GenAiSpan } from './gen-ai-span';
import { arrayText } from './json-text';
import { newSpanIds, type SpanIds } from './span-ids';

export { newSpanIds, type SpanIds };

/**
 * `gen_ai.response.finish_reason` (seed, a single string) joins the per-choice reasons with commas in
 * choice order, so one choice reads `stop` and two read `stop,length`; the array form is
 * `gen_ai.response.finish_reasons`.
 */
export const FINISH_REASON_SEPARATOR = ',';

export function buildSpan(call: LlmCall, ids: SpanIds = newSpanIds()): GenAiSpan {
  const error = spanError(call);
  return {
    traceId: ids.traceId,
    spanId: ids.spanId,
    name: call.requestModel ? `${call.operation} ${call.requestModel}` : call.operation,
    kind: 'client',
    startTimeUnixNano: msToUnixNano(call.startTsMs),
    endTimeUnixNano: msToUnixNano(Math.max(call.startTsMs, call.endTsMs)),
    attributes: spanAttributes(call, error),
    resource: {},
    status: error ? { code: 'error', message: error.message } : { code: 'unset' },
    source: 'ebpf',
  };
}

interface SpanError {
  type: string;
  message: string;
}

/** A call failed when the provider said so or the HTTP status is 4xx/5xx. */
function spanError(call: LlmCall): SpanError | undefined {
  const status = call.httpStatus;
  const failedStatus = status !== undefined && status >= 400;
  if (!call.error && !failedStatus) return undefined;
  const type = call.error?.type ?? String(status);
  const message = call.error?.message ?? (failedStatus ? `HTTP ${status}` : type);
  return { type, message };
}

/**
 * Every store below names its attribute with a constant: V8 then gives the object a shared hidden class and keeps
 * its properties in fast mode. Stores through a variable name (a `set(name, value)` helper) turned the object into a
 * hash table after a dozen attributes, which made building it, scanning it and encoding it cost several times more.
 */
function spanAttributes(call: LlmCall, error: SpanError | undefined): Attributes {
  const a: Attributes = {};
  const { usage } = call;
  const totalTokens =
    usage.totalTokens ??
    (usage.inputTokens !== undefined && usage.outputTokens !== undefined ? usage.inputTokens + usage.outputTokens : undefined);

  // Identity of the operation.
  a['gen_ai.operation.name'] = call.operation;
  a['gen_ai.system'] = call.provider;
  a['gen_ai.provider.name'] = call.provider;
  if (call.requestModel !== undefined) a['gen_ai.request.model'] = call.requestModel;
  if (call.responseModel !== undefined) a['gen_ai.response.model'] = call.responseModel;

  // Request parameters.
  if (isNumber(call.temperature)) a['gen_ai.request.temperature'] = call.temperature;
  if (isNumber(call.maxTokens)) a['gen_ai.request.max_tokens'] = call.maxTokens;
  if (isNumber(call.topP)) a['gen_ai.request.top_p'] = call.topP;
  a['gen_ai.request.stream'] = call.stream;
  if (isNumber(call.requestMessageCount)) a['gen_ai.request.message_count'] = call.requestMessageCount;
  a['gen_ai.request.system_prompt'] = call.hasSystemPrompt;
  a['gen_ai.request.tools_used'] = call.requestToolsUsed;
  if (isNumber(call.choiceCount)) {
    a['gen_ai.response.choice_count'] = call.choiceCount;
    a['gen_ai.request.choice.count'] = call.choiceCount;
  }

  // Response facts.
  if (call.messageId !== undefined) {
    a['gen_ai.response.message_id'] = call.messageId;
    a['gen_ai.response.id'] = call.messageId;
  }
  if (call.systemFingerprint !== undefined) {
    a['gen_ai.response.system_fingerprint'] = call.systemFingerprint;
    if (call.provider === 'openai' || call.provider === 'azure.ai.openai') a['openai.response.system_fingerprint'] = call.systemFingerprint;
  }
  if (call.finishReasons.length > 0) {
    a['gen_ai.response.finish_reason'] = call.finishReasons.join(FINISH_REASON_SEPARATOR);
    a['gen_ai.response.finish_reasons'] = [...call.finishReasons];
  }
  if (isNumber(call.responseToolCalls)) a['gen_ai.response.tools_used'] = call.responseToolCalls;
  if (isNumber(call.timeToFirstChunkMs)) a['gen_ai.response.time_to_first_chunk'] = call.timeToFirstChunkMs / 1000;

  // Token usage: seed names, then semconv names (input includes cached tokens in both).
  if (isNumber(usage.inputTokens)) a['gen_ai.response.usage.input_tokens'] = usage.inputTokens;
  if (isNumber(usage.outputTokens)) a['gen_ai.response.usage.output_tokens'] = usage.outputTokens;
  if (isNumber(totalTokens)) a['gen_ai.response.usage.total_tokens'] = totalTokens;
  if (isNumber(usage.inputTokens)) a['gen_ai.usage.input_tokens'] = usage.inputTokens;
  if (isNumber(usage.outputTokens)) a['gen_ai.usage.output_tokens'] = usage.outputTokens;
  if (isNumber(usage.cacheReadInputTokens)) a['gen_ai.usage.cache_read.input_tokens'] = usage.cacheReadInputTokens;
  if (isNumber(usage.cacheCreationInputTokens)) a['gen_ai.usage.cache_creation.input_tokens'] = usage.cacheCreationInputTokens;
  if (isNumber(usage.reasoningOutputTokens)) a['gen_ai.usage.reasoning.output_tokens'] = usage.reasoningOutputTokens;

  // Errors.
  if (error) {
    a['error.type'] = error.type;
    a['gen_ai.error.type'] = error.type;
    if (call.error?.code !== undefined) a['gen_ai.error.code'] = call.error.code;
    if (call.error?.message !== undefined) a['gen_ai.error.message'] = call.error.message;
  }

  // Where the call went.
  if (call.serverAddress) a['server.address'] = call.serverAddress;
  if (isNumber(call.serverPort)) a['server.port'] = call.serverPort;
  // The socket's remote end, when the capture resolved it: the IP behind server.address (a proxy, a load balancer).
  const peer = call.exchange.connection.peer;
  if (peer) {
    a['network.peer.address'] = peer.address;
    if (isNumber(peer.port)) a['network.peer.port'] = peer.port;
  }
  if (isNumber(call.httpStatus)) a['http.response.status_code'] = call.httpStatus;

  // Content, as JSON strings (OTLP attributes cannot hold structured values everywhere).
  // (json-text.ts: the same text JSON.stringify writes, without its character-by-character copy of long strings.)
  if (call.inputMessages.length > 0) a['gen_ai.input.messages'] = arrayText(call.inputMessages);
  if (call.outputMessages.length > 0) a['gen_ai.output.messages'] = arrayText(call.outputMessages);
  if (call.systemInstructions.length > 0) a['gen_ai.system_instructions'] = arrayText(call.systemInstructions);
  return a;
}

/** A number an attribute can hold (OTLP has no NaN or infinities for integers, and none of ours should be). */
function isNumber(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value);
}

/** Millisecond timestamps may carry fractions (microsecond capture clocks); keep them. */
function msToUnixNano(ms: number): bigint {
  if (!Number.isFinite(ms) || ms < 0) return 0n;
  return BigInt(Math.round(ms * 1000)) * 1000n;
}
