/**
 * LlmCall -> GenAiSpan: one CLIENT span per call carrying every attribute of the seed table under its
 * seed name, and the OTel GenAI semantic-convention name alongside wherever the two differ.
 */
import type { LlmCall } from '../provider/llm-call';
import type { AttributeValue, Attributes, GenAiSpan } from './gen-ai-span';
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

function spanAttributes(call: LlmCall, error: SpanError | undefined): Attributes {
  const attributes: Attributes = {};
  const set = (name: string, value: AttributeValue | undefined): void => {
    if (value === undefined) return;
    if (typeof value === 'number' && !Number.isFinite(value)) return;
    if (Array.isArray(value) && value.length === 0) return;
    attributes[name] = value;
  };
  const { usage } = call;
  const totalTokens =
    usage.totalTokens ??
    (usage.inputTokens !== undefined && usage.outputTokens !== undefined ? usage.inputTokens + usage.outputTokens : undefined);

  // Identity of the operation.
  set('gen_ai.operation.name', call.operation);
  set('gen_ai.system', call.provider);
  set('gen_ai.provider.name', call.provider);
  set('gen_ai.request.model', call.requestModel);
  set('gen_ai.response.model', call.responseModel);

  // Request parameters.
  set('gen_ai.request.temperature', call.temperature);
  set('gen_ai.request.max_tokens', call.maxTokens);
  set('gen_ai.request.top_p', call.topP);
  set('gen_ai.request.stream', call.stream);
  set('gen_ai.request.message_count', call.requestMessageCount);
  set('gen_ai.request.system_prompt', call.hasSystemPrompt);
  set('gen_ai.request.tools_used', call.requestToolsUsed);
  set('gen_ai.response.choice_count', call.choiceCount);
  set('gen_ai.request.choice.count', call.choiceCount);

  // Response facts.
  set('gen_ai.response.message_id', call.messageId);
  set('gen_ai.response.id', call.messageId);
  set('gen_ai.response.system_fingerprint', call.systemFingerprint);
  if (call.provider === 'openai' || call.provider === 'azure.ai.openai') {
    set('openai.response.system_fingerprint', call.systemFingerprint);
  }
  if (call.finishReasons.length > 0) set('gen_ai.response.finish_reason', call.finishReasons.join(FINISH_REASON_SEPARATOR));
  set('gen_ai.response.finish_reasons', [...call.finishReasons]);
  set('gen_ai.response.tools_used', call.responseToolCalls);
  if (call.timeToFirstChunkMs !== undefined) set('gen_ai.response.time_to_first_chunk', call.timeToFirstChunkMs / 1000);

  // Token usage: seed names, then semconv names (input includes cached tokens in both).
  set('gen_ai.response.usage.input_tokens', usage.inputTokens);
  set('gen_ai.response.usage.output_tokens', usage.outputTokens);
  set('gen_ai.response.usage.total_tokens', totalTokens);
  set('gen_ai.usage.input_tokens', usage.inputTokens);
  set('gen_ai.usage.output_tokens', usage.outputTokens);
  set('gen_ai.usage.cache_read.input_tokens', usage.cacheReadInputTokens);
  set('gen_ai.usage.cache_creation.input_tokens', usage.cacheCreationInputTokens);
  set('gen_ai.usage.reasoning.output_tokens', usage.reasoningOutputTokens);

  // Errors.
  if (error) {
    set('error.type', error.type);
    set('gen_ai.error.type', error.type);
    set('gen_ai.error.code', call.error?.code);
    set('gen_ai.error.message', call.error?.message);
  }

  // Where the call went.
  if (call.serverAddress) set('server.address', call.serverAddress);
  set('server.port', call.serverPort);
  // The socket's remote end, when the capture resolved it: the IP behind server.address (a proxy, a load balancer).
  const peer = call.exchange.connection.peer;
  if (peer) {
    set('network.peer.address', peer.address);
    set('network.peer.port', peer.port);
  }
  set('http.response.status_code', call.httpStatus);

  // Content, as JSON strings (OTLP attributes cannot hold structured values everywhere).
  if (call.inputMessages.length > 0) set('gen_ai.input.messages', JSON.stringify(call.inputMessages));
  if (call.outputMessages.length > 0) set('gen_ai.output.messages', JSON.stringify(call.outputMessages));
  if (call.systemInstructions.length > 0) set('gen_ai.system_instructions', JSON.stringify(call.systemInstructions));
  return attributes;
}

/** Millisecond timestamps may carry fractions (microsecond capture clocks); keep them. */
function msToUnixNano(ms: number): bigint {
  if (!Number.isFinite(ms) || ms < 0) return 0n;
  return BigInt(Math.round(ms * 1000)) * 1000n;
}
