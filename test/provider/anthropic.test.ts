import { anthropicAdapter, isAnthropicPath } from '../../sensor/provider/anthropic';
import { ProviderParseError } from '../../sensor/provider/llm-call';
import { makeExchange, type ExchangeSpec } from '../support/exchange-fixture';
import * as fx from './fixtures/anthropic-fixtures';

const parse = (spec: ExchangeSpec) => anthropicAdapter.parse(makeExchange(spec));

describe('Anthropic paths', () => {
  it.each(['/v1/messages', '/v1/messages?beta=true', '/anthropic/v1/messages'])('owns %s', (path) => {
    expect(isAnthropicPath(path)).toBe(true);
  });
  it.each(['/v1/messages/count_tokens', '/v1/messages/batches', '/v1/complete', '/v1/chat/completions'])('ignores %s', (path) => {
    expect(isAnthropicPath(path)).toBe(false);
  });
});

describe('Anthropic messages', () => {
  it('reads a non-streamed call; input tokens include cache reads and writes', () => {
    const call = parse(fx.messagesNonStreaming);
    expect(call.provider).toBe('anthropic');
    expect(call.operation).toBe('chat');
    expect(call.requestModel).toBe('claude-sonnet-4-20250514');
    expect(call.responseModel).toBe('claude-sonnet-4-20250514');
    expect(call.stream).toBe(false);
    expect(call.maxTokens).toBe(1024);
    expect(call.temperature).toBe(0.5);
    expect(call.topP).toBe(0.95);
    expect(call.requestMessageCount).toBe(3);
    expect(call.hasSystemPrompt).toBe(true);
    expect(call.requestToolsUsed).toBe(true);
    expect(call.messageId).toBe('msg_01XFDUDYJgAACzvnptvVoYEL');
    expect(call.finishReasons).toEqual(['tool_use']);
    expect(call.responseToolCalls).toBe(1);
    // 30 uncached + 1200 written + 800 read.
    expect(call.usage).toEqual({ inputTokens: 2030, outputTokens: 60, totalTokens: 2090, cacheReadInputTokens: 800, cacheCreationInputTokens: 1200 });
    expect(call.serverAddress).toBe('api.anthropic.com');
    expect(call.error).toBeUndefined();
  });

  it('renders system blocks as instructions and tool blocks as tool parts', () => {
    const call = parse(fx.messagesNonStreaming);
    expect(call.systemInstructions).toEqual([
      { type: 'text', content: 'You are a travel assistant.' },
      { type: 'text', content: 'Here is the full city guide ...' },
    ]);
    expect(call.inputMessages).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'Weather in Rome?' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'toolu_01A', name: 'get_weather', arguments: { city: 'Rome' } }] },
      { role: 'user', parts: [{ type: 'tool_call_response', id: 'toolu_01A', response: 'sunny, 24C' }] },
    ]);
    expect(call.outputMessages).toEqual([
      {
        role: 'assistant',
        parts: [
          { type: 'text', content: 'It is sunny in Rome. Shall I check Florence too?' },
          { type: 'tool_call', id: 'toolu_01B', name: 'get_weather', arguments: { city: 'Florence' } },
        ],
        finish_reason: 'tool_use',
      },
    ]);
  });

  it('reads a streamed call: usage from message_start and the cumulative message_delta', () => {
    const call = parse(fx.messagesStreaming);
    expect(call.stream).toBe(true);
    expect(call.systemInstructions).toEqual([{ type: 'text', content: 'Reply briefly.' }]);
    expect(call.messageId).toBe('msg_stream01');
    expect(call.responseModel).toBe('claude-3-5-haiku-20241022');
    expect(call.finishReasons).toEqual(['tool_use']);
    expect(call.responseToolCalls).toBe(1);
    // 25 uncached + 100 read; output from message_delta (15), not message_start's placeholder (1).
    expect(call.usage).toEqual({ inputTokens: 125, outputTokens: 15, totalTokens: 140, cacheReadInputTokens: 100, cacheCreationInputTokens: 0 });
    expect(call.outputMessages).toEqual([
      {
        role: 'assistant',
        parts: [
          { type: 'text', content: 'Hello! Need a hand?' },
          { type: 'tool_call', id: 'toolu_s1', name: 'lookup', arguments: { topic: 'help' } },
        ],
        finish_reason: 'tool_use',
      },
    ]);
    expect(call.timeToFirstChunkMs).toBe(210);
  });

  it('takes input usage from message_delta when it carries cumulative counts', () => {
    const body = (fx.messagesStreaming.responseBody as string).replace(
      '"usage":{"output_tokens":15}',
      '"usage":{"input_tokens":25,"cache_creation_input_tokens":40,"cache_read_input_tokens":100,"output_tokens":15}',
    );
    expect(body).not.toBe(fx.messagesStreaming.responseBody);
    const call = parse({ ...fx.messagesStreaming, responseBody: body });
    expect(call.usage).toEqual({ inputTokens: 165, outputTokens: 15, totalTokens: 180, cacheReadInputTokens: 100, cacheCreationInputTokens: 40 });
  });

  it('reports an error event in the stream', () => {
    const call = parse(fx.messagesStreamingError);
    expect(call.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    expect(call.messageId).toBe('msg_err');
    expect(call.usage.inputTokens).toBe(10);
  });

  it('keeps what a truncated stream delivered, including message_start usage', () => {
    const body = fx.messagesStreaming.responseBody as string;
    const cut = body.slice(0, body.indexOf('event: content_block_stop') + 30);
    const call = parse({ ...fx.messagesStreaming, responseBody: cut, responseComplete: false });
    expect(call.usage).toEqual({ inputTokens: 125, outputTokens: 1, totalTokens: 126, cacheReadInputTokens: 100, cacheCreationInputTokens: 0 });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hello! Need a hand?' }]);
    expect(call.finishReasons).toEqual([]);
  });
});

describe('Anthropic choice count and tool results', () => {
  it('reports one choice for a reply, streamed or not, and none when there is no reply', () => {
    expect(parse(fx.messagesNonStreaming).choiceCount).toBe(1);
    expect(parse(fx.messagesStreaming).choiceCount).toBe(1);
    expect(parse(fx.rateLimited).choiceCount).toBeUndefined();
  });

  it('keeps the kind of an image or document tool result but not its base64 bytes', () => {
    const screenshot = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';
    const call = parse({
      ...fx.messagesNonStreaming,
      requestBody: {
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        messages: [
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_shot', name: 'screenshot', input: {} }] },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_shot',
                content: [
                  { type: 'image', source: { type: 'base64', media_type: 'image/png', data: screenshot } },
                  { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: screenshot } },
                ],
              },
            ],
          },
        ],
      },
    });
    expect(call.inputMessages[1].parts).toEqual([
      { type: 'tool_call_response', id: 'toolu_shot', response: [{ type: 'blob', modality: 'image' }, { type: 'document' }] },
    ]);
    expect(JSON.stringify(call.inputMessages)).not.toContain(screenshot);
  });
});

describe('Anthropic errors', () => {
  it.each([
    [fx.rateLimited, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit.'],
    [fx.invalidRequest, 400, 'invalid_request_error', 'max_tokens: Field required'],
    [fx.unauthorized, 401, 'authentication_error', 'invalid x-api-key'],
  ])('reads status %#', (spec, status, type, message) => {
    const call = parse(spec);
    expect(call.httpStatus).toBe(status);
    expect(call.error).toEqual({ type, message });
    expect(call.outputMessages).toEqual([]);
  });

  it('falls back to the status for a non-JSON error body', () => {
    expect(parse({ ...fx.rateLimited, status: 529, responseBody: 'upstream overloaded' }).error).toEqual({ type: '529' });
  });
});

describe('Anthropic malformed input', () => {
  it('throws ProviderParseError for invalid JSON bodies', () => {
    expect(() => parse({ ...fx.messagesNonStreaming, requestBody: '{"model":' })).toThrow(ProviderParseError);
    expect(() => parse({ ...fx.messagesNonStreaming, responseBody: 'nope' })).toThrow(/anthropic: response body is not a JSON object/);
  });

  it('throws ProviderParseError for a request without messages', () => {
    expect(() => parse({ ...fx.messagesNonStreaming, requestBody: { model: 'claude', prompt: 'x' } })).toThrow(/no "messages" array/);
  });

  it('reads a mistyped field as absent and keeps the rest of the call', () => {
    const call = parse({
      ...fx.messagesNonStreaming,
      requestBody: { model: ['claude'], stream: 1, temperature: null, max_tokens: 10.5, system: [null, { text: 'be brief' }], messages: [null, { role: 5, content: [null, { type: 'text', text: 'hi' }] }] },
      responseBody: { type: 'message', id: 7, model: 'claude-sonnet-4', role: 'assistant', content: [null, { type: 'text', text: 'ok' }], stop_reason: 3, usage: { input_tokens: -2, output_tokens: 5, cache_read_input_tokens: 1.5 } },
    });
    expect(call.requestModel).toBeUndefined();
    expect(call).toMatchObject({ stream: false, temperature: undefined, maxTokens: undefined, responseModel: 'claude-sonnet-4', hasSystemPrompt: true, requestMessageCount: 2 });
    expect(call.messageId).toBeUndefined();
    expect(call.inputMessages.map((m) => m.role)).toEqual(['user', 'user']);
    expect(call.finishReasons).toEqual([]);
    expect(call.usage).toEqual({ outputTokens: 5 });
  });
});
