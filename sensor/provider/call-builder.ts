/** The common start and finish of every adapter's parse: defaults, endpoint, timing and HTTP-level errors. */
import type { HttpExchange } from '../http/http-exchange';
import { callTimes, serverEndpoint } from './exchange-facts';
import { ProviderParseError, type LlmCall, type OperationName, type ProviderName } from './llm-call';

/** An LlmCall with every required field at its "nothing known yet" value. */
export function startCall(exchange: HttpExchange, provider: ProviderName, operation: OperationName): LlmCall {
  const { serverAddress, serverPort } = serverEndpoint(exchange);
  const call: LlmCall = {
    provider,
    operation,
    stream: false,
    hasSystemPrompt: false,
    requestToolsUsed: false,
    finishReasons: [],
    responseToolCalls: 0,
    usage: {},
    inputMessages: [],
    outputMessages: [],
    systemInstructions: [],
    serverAddress,
    serverPort,
    startTsMs: exchange.request.startTsMs,
    endTsMs: exchange.request.endTsMs,
    exchange,
  };
  if (exchange.response) call.httpStatus = exchange.response.status;
  return call;
}

/** Fills what depends on the whole parse: timing (time to first chunk needs `stream`), totals, choice count and error fallbacks. */
export function finishCall(call: LlmCall): LlmCall {
  const times = callTimes(call.exchange, call.stream);
  call.startTsMs = times.startTsMs;
  call.endTsMs = times.endTsMs;
  if (times.timeToFirstChunkMs !== undefined) call.timeToFirstChunkMs = times.timeToFirstChunkMs;
  const { usage } = call;
  if (usage.totalTokens === undefined && usage.inputTokens !== undefined && usage.outputTokens !== undefined) {
    usage.totalTokens = usage.inputTokens + usage.outputTokens;
  }
  // Adapters that read `n` from the request (or count the choices returned) set it; otherwise each output
  // message is one candidate completion.
  if (call.choiceCount === undefined && call.outputMessages.length > 0) call.choiceCount = call.outputMessages.length;
  if (!call.error && call.httpStatus !== undefined && call.httpStatus >= 400) {
    call.error = { type: String(call.httpStatus) };
  }
  if (!call.exchange.response && !call.error) {
    call.error = { type: 'no_response', message: 'the connection ended before a response arrived' };
  }
  return call;
}

/**
 * Runs one adapter's parse so that only ProviderParseError ever leaves it: a body shape the code did
 * not foresee is reported as a parse error of that provider instead of crashing the pipeline.
 */
export function guardParse(provider: string, parse: () => LlmCall): LlmCall {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ProviderParseError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ProviderParseError(provider, `unexpected body shape (${reason}); the call was skipped`);
  }
}
