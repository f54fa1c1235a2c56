import { ProviderParseError } from '../../sensor/provider/llm-call';
import { openAiAdapter, openAiRoute } from '../../sensor/provider/openai';
import { makeExchange, SSE_HEADERS, sseBody, type ExchangeSpec } from '../support/exchange-fixture';
import * as fx from './fixtures/openai-fixtures';

const parse = (spec: ExchangeSpec) => openAiAdapter.parse(makeExchange(spec));

describe('OpenAI routes', () => {
  it.each([
    ['/v1/chat/completions', 'chat', 'openai'],
    ['/v1/responses', 'responses', 'openai'],
    ['/v1/embeddings', 'embeddings', 'openai'],
    ['/v1/completions', 'completions', 'openai'],
    ['/chat/completions', 'chat', 'openai'],
    ['/openai/v1/chat/completions', 'chat', 'openai'],
    ['/api/v1/chat/completions', 'chat', 'openai'],
    ['/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21', 'chat', 'azure.ai.openai'],
    ['/openai/deployments/emb/embeddings?api-version=2024-10-21', 'embeddings', 'azure.ai.openai'],
    ['/openai/responses?api-version=2025-03-01-preview', 'responses', 'azure.ai.openai'],
    ['/api/chat', 'ollama-chat', 'openai'],
    ['/api/generate', 'ollama-generate', 'openai'],
    ['/api/embed', 'ollama-embed', 'openai'],
  ])('%s is %s for %s', (path, api, provider) => {
    expect(openAiRoute(path)).toMatchObject({ api, provider });
  });

  it('decodes the Azure deployment name', () => {
    expect(openAiRoute('/openai/deployments/my%20dep/chat/completions?api-version=1')?.deployment).toBe('my dep');
  });

  it.each(['/v1/messages', '/v1/models', '/v1/chat/completionsX', '/v2/chat/completions', '/model/x/invoke', '/api/tags', '/'])(
    'ignores %s',
    (path) => {
      expect(openAiRoute(path)).toBeUndefined();
    },
  );

  it('recognises POST only', () => {
    expect(openAiAdapter.recognises(makeExchange({ ...fx.chatNonStreaming, method: 'GET' }))).toBe(false);
    expect(openAiAdapter.recognises(makeExchange(fx.chatNonStreaming))).toBe(true);
  });
});

describe('OpenAI chat completions', () => {
  it('reads a non-streamed call with two choices and tool calls', () => {
    const call = parse(fx.chatNonStreaming);
    expect(call.provider).toBe('openai');
    expect(call.operation).toBe('chat');
    expect(call.requestModel).toBe('gpt-4o');
    expect(call.responseModel).toBe('gpt-4o-2024-08-06');
    expect(call.stream).toBe(false);
    expect(call.temperature).toBe(0.2);
    expect(call.topP).toBe(0.9);
    expect(call.maxTokens).toBe(256);
    expect(call.choiceCount).toBe(2);
    expect(call.requestMessageCount).toBe(4);
    expect(call.hasSystemPrompt).toBe(true);
    expect(call.requestToolsUsed).toBe(true);
    expect(call.messageId).toBe('chatcmpl-9xYz123');
    expect(call.systemFingerprint).toBe('fp_44709d6fcb');
    expect(call.finishReasons).toEqual(['stop', 'tool_calls']);
    expect(call.responseToolCalls).toBe(2);
    expect(call.usage).toEqual({ inputTokens: 120, outputTokens: 45, totalTokens: 165, cacheReadInputTokens: 64, reasoningOutputTokens: 0 });
    expect(call.httpStatus).toBe(200);
    expect(call.error).toBeUndefined();
    expect(call.serverAddress).toBe('api.openai.com');
    expect(call.serverPort).toBe(443);
    expect(call.timeToFirstChunkMs).toBeUndefined();
  });

  it('renders input and output messages in the semconv shape', () => {
    const call = parse(fx.chatNonStreaming);
    expect(call.inputMessages).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'You are a terse weather assistant.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_abc123', name: 'get_weather', arguments: { city: 'Paris' } }] },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_abc123', response: 'rainy, 14C' }] },
    ]);
    expect(call.outputMessages).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'It is rainy in Paris, 14C.' }], finish_reason: 'stop' },
      {
        role: 'assistant',
        parts: [
          { type: 'tool_call', id: 'call_def456', name: 'get_weather', arguments: { city: 'Paris', unit: 'c' } },
          { type: 'tool_call', id: 'call_ghi789', name: 'get_time', arguments: { tz: 'Europe/Paris' } },
        ],
        finish_reason: 'tool_calls',
      },
    ]);
    // Chat history instructions stay in the input messages (semconv); nothing separate.
    expect(call.systemInstructions).toEqual([]);
  });

  it('reads a streamed call with the usage chunk before [DONE]', () => {
    const call = parse(fx.chatStreaming);
    expect(call.stream).toBe(true);
    expect(call.requestModel).toBe('gpt-4o-mini');
    expect(call.responseModel).toBe('gpt-4o-mini-2024-07-18');
    expect(call.messageId).toBe('chatcmpl-stream1');
    expect(call.systemFingerprint).toBe('fp_0ba0d124f1');
    expect(call.maxTokens).toBe(50);
    expect(call.hasSystemPrompt).toBe(true);
    expect(call.requestToolsUsed).toBe(false);
    expect(call.finishReasons).toEqual(['stop']);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Paris.' }], finish_reason: 'stop' }]);
    expect(call.usage).toEqual({ inputTokens: 22, outputTokens: 3, totalTokens: 25, cacheReadInputTokens: 0, reasoningOutputTokens: 0 });
    // firstByteMs 150 after the request's end.
    expect(call.timeToFirstChunkMs).toBe(150);
    expect(call.endTsMs - call.startTsMs).toBe(5 + 400);
  });

  it('assembles streamed tool-call argument fragments', () => {
    const call = parse(fx.chatStreamingToolCall);
    expect(call.responseToolCalls).toBe(1);
    expect(call.finishReasons).toEqual(['tool_calls']);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'tool_call', id: 'call_s1', name: 'get_weather', arguments: { city: 'Oslo' } }]);
    expect(call.usage).toEqual({});
  });

  it('reports an error event inside a stream', () => {
    const call = parse({
      ...fx.chatStreaming,
      responseBody: sseBody([{ data: { error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null } } }]),
    });
    expect(call.error).toEqual({ type: 'server_error', message: 'The server had an error while processing your request.' });
  });

  it('keeps what a truncated stream delivered', () => {
    const body = sseBody([
      { data: { id: 'c1', model: 'gpt-4o', choices: [{ index: 0, delta: { content: 'Hello' } }] } },
      { data: { id: 'c1', model: 'gpt-4o', choices: [{ index: 0, delta: { content: ' world' } }] } },
    ]);
    const call = parse({ ...fx.chatStreaming, responseBody: body.slice(0, body.length - 20), responseComplete: false });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hello' }]);
    expect(call.finishReasons).toEqual([]);
  });
});

describe('OpenAI Responses API', () => {
  it('reads a non-streamed response with instructions and reasoning tokens', () => {
    const call = parse(fx.responsesNonStreaming);
    expect(call.operation).toBe('chat');
    expect(call.requestModel).toBe('o4-mini');
    expect(call.responseModel).toBe('o4-mini-2025-04-16');
    expect(call.maxTokens).toBe(500);
    expect(call.messageId).toBe('resp_67ccd2bed1ec8190');
    expect(call.systemInstructions).toEqual([{ type: 'text', content: 'You are a careful math tutor.' }]);
    expect(call.hasSystemPrompt).toBe(true);
    expect(call.requestMessageCount).toBe(1);
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'What is 17 * 23?' }] }]);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: '17 * 23 = 391' }], finish_reason: 'stop' }]);
    expect(call.finishReasons).toEqual(['stop']);
    expect(call.usage).toEqual({ inputTokens: 36, outputTokens: 87, totalTokens: 123, cacheReadInputTokens: 0, reasoningOutputTokens: 64 });
  });

  it('reads a streamed response, usage from response.completed', () => {
    const call = parse(fx.responsesStreaming);
    expect(call.stream).toBe(true);
    expect(call.temperature).toBe(0.7);
    expect(call.messageId).toBe('resp_stream42');
    expect(call.responseModel).toBe('gpt-4.1-2025-04-14');
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Say hi' }] }]);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Hi there!' }], finish_reason: 'stop' }]);
    expect(call.usage).toEqual({ inputTokens: 9, outputTokens: 4, totalTokens: 13, cacheReadInputTokens: 0, reasoningOutputTokens: 0 });
  });

  it('rebuilds output from deltas when the stream was cut before response.completed', () => {
    const body = fx.responsesStreaming.responseBody as string;
    const cut = body.slice(0, body.indexOf('event: response.completed'));
    const call = parse({ ...fx.responsesStreaming, responseBody: cut, responseComplete: false });
    expect(call.messageId).toBe('resp_stream42');
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Hi there!' }] }]);
    expect(call.usage).toEqual({});
  });

  it('reports a reply cut by max_output_tokens as length, as chat completions do', () => {
    const call = parse({
      ...fx.responsesNonStreaming,
      responseBody: {
        id: 'resp_cut',
        object: 'response',
        status: 'incomplete',
        incomplete_details: { reason: 'max_output_tokens' },
        model: 'gpt-4.1',
        output: [{ type: 'message', id: 'msg_cut', status: 'incomplete', role: 'assistant', content: [{ type: 'output_text', text: 'Seventeen', annotations: [] }] }],
        usage: { input_tokens: 12, output_tokens: 1, total_tokens: 13 },
      },
    });
    expect(call.finishReasons).toEqual(['length']);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Seventeen' }], finish_reason: 'length' }]);
  });

  it('keeps other incomplete reasons as the provider names them', () => {
    const call = parse({
      ...fx.responsesNonStreaming,
      responseBody: { id: 'resp_filtered', object: 'response', status: 'incomplete', incomplete_details: { reason: 'content_filter' }, model: 'gpt-4.1', output: [] },
    });
    expect(call.finishReasons).toEqual(['content_filter']);
  });

  it('counts function calls and reports tool_calls as the finish reason', () => {
    const call = parse({
      ...fx.responsesNonStreaming,
      responseBody: {
        id: 'resp_fc',
        object: 'response',
        status: 'completed',
        model: 'gpt-4.1',
        output: [{ type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup', arguments: '{"q":"x"}', status: 'completed' }],
        usage: { input_tokens: 50, output_tokens: 10, total_tokens: 60 },
      },
    });
    expect(call.responseToolCalls).toBe(1);
    expect(call.finishReasons).toEqual(['tool_calls']);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'tool_call', id: 'call_1', name: 'lookup', arguments: { q: 'x' } }]);
  });
});

describe('OpenAI Responses API errors and tool outputs', () => {
  it("names a stream's error event by its code, not by the event type", () => {
    const call = parse({
      ...fx.responsesStreaming,
      responseBody: sseBody([
        { event: 'response.created', data: { type: 'response.created', sequence_number: 0, response: { id: 'resp_rl', object: 'response', status: 'in_progress', model: 'gpt-4.1' } } },
        {
          event: 'error',
          data: { type: 'error', sequence_number: 1, code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-4.1.', param: null },
        },
      ]),
    });
    expect(call.error).toEqual({ type: 'rate_limit_exceeded', code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-4.1.' });
  });

  it('keeps an error event without a code named "error"', () => {
    const call = parse({
      ...fx.responsesStreaming,
      responseBody: sseBody([{ event: 'error', data: { type: 'error', sequence_number: 0, message: 'Something broke.' } }]),
    });
    expect(call.error).toEqual({ type: 'error', message: 'Something broke.' });
  });

  it('keeps the kind of an image tool output but not its base64 bytes', () => {
    const pixels = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';
    const call = parse({
      ...fx.responsesNonStreaming,
      requestBody: {
        model: 'gpt-4.1',
        input: [
          { type: 'function_call', call_id: 'call_shot', name: 'screenshot', arguments: '{}' },
          { type: 'function_call_output', call_id: 'call_shot', output: [{ type: 'input_image', image_url: `data:image/png;base64,${pixels}` }] },
        ],
      },
    });
    expect(call.inputMessages[1]).toEqual({
      role: 'tool',
      parts: [{ type: 'tool_call_response', id: 'call_shot', response: [{ type: 'blob', modality: 'image', mime_type: 'image/png' }] }],
    });
    expect(JSON.stringify(call.inputMessages)).not.toContain(pixels);
  });
});

describe('OpenAI embeddings and legacy completions', () => {
  it('reads embeddings usage', () => {
    const call = parse(fx.embeddings);
    expect(call.operation).toBe('embeddings');
    expect(call.requestModel).toBe('text-embedding-3-small');
    expect(call.responseModel).toBe('text-embedding-3-small');
    expect(call.usage).toEqual({ inputTokens: 6, totalTokens: 6 });
    expect(call.outputMessages).toEqual([]);
  });

  it('reads a legacy completion', () => {
    const call = parse(fx.legacyCompletions);
    expect(call.operation).toBe('text_completion');
    expect(call.maxTokens).toBe(7);
    expect(call.temperature).toBe(0);
    expect(call.messageId).toBe('cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7');
    expect(call.finishReasons).toEqual(['length']);
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Say this is a test' }] }]);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: '\n\nThis is indeed a test' }], finish_reason: 'length' }]);
    expect(call.usage).toEqual({ inputTokens: 5, outputTokens: 7, totalTokens: 12 });
    expect(call.choiceCount).toBe(1);
  });

  it('reads a streamed legacy completion', () => {
    const call = parse(fx.legacyCompletionsStreaming);
    expect(call.stream).toBe(true);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: ' 3, 4' }], finish_reason: 'stop' }]);
  });
});

describe('OpenAI errors', () => {
  it('reads a 429 rate limit', () => {
    const call = parse(fx.rateLimited);
    expect(call.httpStatus).toBe(429);
    expect(call.error).toEqual({
      type: 'tokens',
      code: 'rate_limit_exceeded',
      message: 'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29950, Requested 120.',
    });
    expect(call.requestModel).toBe('gpt-4o');
    expect(call.outputMessages).toEqual([]);
  });

  it('reads a 400 invalid request', () => {
    const call = parse(fx.invalidRequest);
    expect(call.error).toMatchObject({ type: 'invalid_request_error', code: 'decimal_above_max_value' });
    expect(call.temperature).toBe(3);
  });

  it('reads a 401', () => {
    expect(parse(fx.unauthorized).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
  });

  it('falls back to the status for a non-JSON error page', () => {
    const call = parse({ ...fx.rateLimited, status: 502, responseBody: '<html><body>Bad gateway</body></html>', responseHeaders: { 'content-type': 'text/html' } });
    expect(call.error).toEqual({ type: '502' });
  });

  it('reports a call whose response never came', () => {
    const { status: _status, ...noResponse } = fx.chatNonStreaming;
    const call = parse(noResponse);
    expect(call.error?.type).toBe('no_response');
    expect(call.httpStatus).toBeUndefined();
    expect(call.requestModel).toBe('gpt-4o');
  });
});

describe('OpenAI-compatible servers', () => {
  it('reads Azure OpenAI with the deployment as request model', () => {
    const call = parse(fx.azureChat);
    expect(call.provider).toBe('azure.ai.openai');
    expect(call.requestModel).toBe('prod-gpt4o');
    expect(call.responseModel).toBe('gpt-4o-2024-11-20');
    expect(call.serverAddress).toBe('contoso-eastus.openai.azure.com');
    expect(call.usage).toEqual({ inputTokens: 10, outputTokens: 7, totalTokens: 17 });
    expect(call.finishReasons).toEqual(['stop']);
  });

  it('reads an Azure error without a type, using its code', () => {
    const call = parse(fx.azureDeploymentNotFound);
    expect(call.error).toEqual({ type: 'DeploymentNotFound', code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' });
  });

  it('reads vLLM on any host and port', () => {
    const call = parse(fx.vllmChat);
    expect(call.provider).toBe('openai');
    expect(call.serverAddress).toBe('vllm.internal');
    expect(call.serverPort).toBe(8000);
    expect(call.requestModel).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(call.usage).toEqual({ inputTokens: 12, outputTokens: 3, totalTokens: 15 });
    expect(call.responseToolCalls).toBe(0);
  });

  it("reads vLLM's top-level error body", () => {
    expect(parse(fx.vllmError).error).toEqual({ type: 'NotFoundError', code: '404', message: 'The model `no-such-model` does not exist.' });
  });

  it('reads an Ollama NDJSON chat stream (streaming is its default)', () => {
    const call = parse(fx.ollamaChatStreaming);
    expect(call.operation).toBe('chat');
    expect(call.stream).toBe(true);
    expect(call.temperature).toBe(0.3);
    expect(call.maxTokens).toBe(64);
    expect(call.hasSystemPrompt).toBe(true);
    expect(call.requestMessageCount).toBe(2);
    expect(call.responseModel).toBe('llama3.2');
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Rayleigh scattering.' }], finish_reason: 'stop' }]);
    expect(call.usage).toEqual({ inputTokens: 26, outputTokens: 8, totalTokens: 34 });
    expect(call.serverPort).toBe(11434);
  });

  it('reads an Ollama generate call with a system prompt', () => {
    const call = parse(fx.ollamaGenerate);
    expect(call.operation).toBe('text_completion');
    expect(call.stream).toBe(false);
    expect(call.systemInstructions).toEqual([{ type: 'text', content: 'You are a poet.' }]);
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Write a haiku about rain.' }] }]);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Soft rain on the roof' }]);
    expect(call.usage).toEqual({ inputTokens: 18, outputTokens: 6, totalTokens: 24 });
  });

  it('reads Ollama tool calls (arguments as objects)', () => {
    const call = parse(fx.ollamaChatToolCall);
    expect(call.requestToolsUsed).toBe(true);
    expect(call.responseToolCalls).toBe(1);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'tool_call', id: '', name: 'get_current_weather', arguments: { city: 'Toronto' } }]);
  });

  it('reads an Ollama error', () => {
    expect(parse(fx.ollamaModelNotFound).error).toEqual({ type: '404', message: "model 'nope' not found" });
  });

  it("reads Ollama's OpenAI compatibility endpoint like OpenAI", () => {
    const call = parse(fx.ollamaOpenAiCompat);
    expect(call.provider).toBe('openai');
    expect(call.usage).toEqual({ inputTokens: 26, outputTokens: 7, totalTokens: 33 });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hello! How are you?' }]);
  });
});

describe('OpenAI malformed input', () => {
  it('throws ProviderParseError for an invalid JSON request body', () => {
    expect(() => parse({ ...fx.chatNonStreaming, requestBody: '{"model": "gpt-4o", "messages": [' })).toThrow(ProviderParseError);
  });

  it('throws ProviderParseError for an invalid JSON response body', () => {
    expect(() => parse({ ...fx.chatNonStreaming, responseBody: '{"id": "x", "choices": [' })).toThrow(/openai: response body is not a JSON object/);
  });

  it('throws ProviderParseError when the body shape is not a chat request', () => {
    expect(() => parse({ ...fx.chatNonStreaming, requestBody: { model: 'gpt-4o', prompt: 'x' } })).toThrow(/no "messages" array/);
  });

  it('keeps the call when a truncated request body cannot be parsed', () => {
    const body = JSON.stringify(fx.chatRequest);
    const call = parse({ ...fx.chatNonStreaming, requestBody: body.slice(0, 40), requestTruncated: true });
    expect(call.requestModel).toBeUndefined();
    expect(call.responseModel).toBe('gpt-4o-2024-08-06');
  });

  it('keeps the call when a truncated response body cannot be parsed', () => {
    const body = JSON.stringify(fx.chatResponse);
    const call = parse({ ...fx.chatNonStreaming, responseBody: body.slice(0, 60), responseTruncated: true });
    expect(call.requestModel).toBe('gpt-4o');
    expect(call.outputMessages).toEqual([]);
  });

  it('reads a mistyped field as absent and keeps the rest of the call (fields read at their call site)', () => {
    const call = parse({
      ...fx.chatNonStreaming,
      requestBody: { model: 42, stream: 'yes', temperature: '0.2', top_p: Infinity, max_tokens: -5, n: 1.5, messages: [null, 7, { role: 3, content: 'hi' }, { role: 'system', content: 'be brief' }] },
      responseBody: {
        id: ['x'],
        model: 'gpt-4o-mini',
        choices: [null, { finish_reason: 9, message: { role: null, content: 'ok' } }],
        usage: { prompt_tokens: 12.5, completion_tokens: -1, total_tokens: 'many', prompt_tokens_details: { cached_tokens: 4 } },
      },
    });
    expect(call.requestModel).toBeUndefined();
    expect(call).toMatchObject({ stream: false, temperature: undefined, topP: undefined, maxTokens: undefined, choiceCount: 2 });
    expect(call.messageId).toBeUndefined();
    expect(call.responseModel).toBe('gpt-4o-mini');
    expect(call.requestMessageCount).toBe(4);
    expect(call.hasSystemPrompt).toBe(true);
    expect(call.inputMessages.map((m) => m.role)).toEqual(['user', 'user', 'user', 'system']);
    expect(call.finishReasons).toEqual([]);
    expect(call.outputMessages.map((m) => m.role)).toEqual(['assistant', 'assistant']);
    expect(call.usage).toEqual({ cacheReadInputTokens: 4 });
  });

  it('throws ProviderParseError for an event stream without JSON events', () => {
    expect(() => parse({ ...fx.chatStreaming, responseHeaders: SSE_HEADERS, responseBody: 'data: not json\n\n' })).toThrow(ProviderParseError);
  });
});
