/** The provider stage's output: what one LLM call was, independent of provider and wire format. */
import type { HttpExchange } from '../http/http-exchange';

export type ProviderName = 'openai' | 'anthropic' | 'aws.bedrock' | 'azure.ai.openai';

/** `gen_ai.operation.name` values (OTel GenAI semconv). */
export type OperationName = 'chat' | 'text_completion' | 'embeddings' | 'generate_content';

export interface TokenUsage {
  /** Includes cached input tokens (Anthropic reports those apart; adapters add them in). */
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
  reasoningOutputTokens?: number;
}

/** One message in the OTel GenAI `gen_ai.input.messages` / `gen_ai.output.messages` JSON shape. */
export interface ChatMessage {
  role: string;
  parts: Array<Record<string, unknown>>;
  finish_reason?: string;
}

export interface ProviderError {
  /** `error.type` / `gen_ai.error.type`: the provider's error type, else the HTTP status as a string. */
  type: string;
  code?: string;
  message?: string;
}

export interface LlmCall {
  provider: ProviderName;
  operation: OperationName;
  requestModel?: string;
  responseModel?: string;
  stream: boolean;
  /** Request parameters. */
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  /** Number of candidate completions asked for (`n`). */
  choiceCount?: number;
  requestMessageCount?: number;
  hasSystemPrompt: boolean;
  requestToolsUsed: boolean;
  /** Response facts. */
  messageId?: string;
  systemFingerprint?: string;
  finishReasons: string[];
  /** Tool calls the model made in its response. */
  responseToolCalls: number;
  usage: TokenUsage;
  /** Milliseconds from the end of the request to the first streamed chunk. */
  timeToFirstChunkMs?: number;
  httpStatus?: number;
  error?: ProviderError;
  /** Content, in the OTel GenAI JSON shapes. */
  inputMessages: ChatMessage[];
  outputMessages: ChatMessage[];
  systemInstructions: Array<Record<string, unknown>>;
  /** Where the call went. */
  serverAddress: string;
  serverPort: number;
  startTsMs: number;
  endTsMs: number;
  /** The exchange it was read from (raw request and response for the UI's detail view). */
  exchange: HttpExchange;
}

/**
 * One provider's wire format. Adapters are registered in sensor/provider/registry.ts;
 * adding a provider is one file and one line there.
 */
export interface ProviderAdapter {
  readonly name: string;
  /** Cheap check on the request line and headers only: is this call ours? */
  recognises(exchange: HttpExchange): boolean;
  /** Full parse. Throws ProviderParseError when the call looks like ours but cannot be read. */
  parse(exchange: HttpExchange): LlmCall;
}

export class ProviderParseError extends Error {
  constructor(readonly provider: string, message: string) {
    // An expected outcome that can come at traffic rate, always caught by the caller: capturing a stack trace
    // would cost more than the parse that failed, so none is taken.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(`${provider}: ${message}`);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'ProviderParseError';
  }
}
