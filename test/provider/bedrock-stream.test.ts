import { bedrockAdapter } from '../../sensor/provider/bedrock';
import { bedrockExchange, encodeStream, invokeChunk, type StreamEvent } from '../support/bedrock-fixture';

const converseEvents: StreamEvent[] = [
  { eventType: 'messageStart', payload: { role: 'assistant', p: 'abcd' } },
  { eventType: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Hello' }, p: 'ab' } },
  { eventType: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: ', world' } } },
  { eventType: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
  { eventType: 'contentBlockStart', payload: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tu_1', name: 'lookup' } } } },
  { eventType: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '{"q":' } } } },
  { eventType: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '"paris"}' } } } },
  { eventType: 'contentBlockStop', payload: { contentBlockIndex: 1 } },
  { eventType: 'messageStop', payload: { stopReason: 'tool_use' } },
  {
    eventType: 'metadata',
    payload: { usage: { inputTokens: 25, outputTokens: 11, totalTokens: 36, cacheReadInputTokens: 5 }, metrics: { latencyMs: 640 } },
  },
];

describe('bedrock converse-stream', () => {
  it('assembles text and tool calls, stop reason, usage and time to first chunk', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
        action: 'converse-stream',
        requestBody: { messages: [{ role: 'user', content: [{ text: 'Find Paris' }] }], inferenceConfig: { maxTokens: 99 } },
        responseBody: encodeStream(converseEvents),
      }),
    );
    expect(call).toMatchObject({ operation: 'chat', stream: true, maxTokens: 99, finishReasons: ['tool_use'], responseToolCalls: 1, choiceCount: 1 });
    // fixture: request ends at 1010, first body byte at 1250
    expect(call.timeToFirstChunkMs).toBe(240);
    expect(call.usage).toEqual({ inputTokens: 30, outputTokens: 11, totalTokens: 41, cacheReadInputTokens: 5 });
    expect(call.outputMessages).toEqual([
      {
        role: 'assistant',
        parts: [
          { type: 'text', content: 'Hello, world' },
          { type: 'tool_call', id: 'tu_1', name: 'lookup', arguments: { q: 'paris' } },
        ],
        finish_reason: 'tool_use',
      },
    ]);
    expect(call.error).toBeUndefined();
  });

  it('keeps what decoded before a truncated tail', () => {
    const body = encodeStream(converseEvents);
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-pro-v1:0',
        action: 'converse-stream',
        requestBody: { messages: [] },
        responseBody: body.subarray(0, body.length - 10),
        responseBodyTruncated: true,
      }),
    );
    expect(call.outputMessages[0].parts[0]).toEqual({ type: 'text', content: 'Hello, world' });
    expect(call.finishReasons).toEqual(['tool_use']);
    expect(call.usage).toEqual({});
  });

  it('reports an exception event inside the stream', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-pro-v1:0',
        action: 'converse-stream',
        requestBody: { messages: [] },
        responseBody: encodeStream([
          converseEvents[0],
          converseEvents[1],
          { eventType: 'throttlingException', messageType: 'exception', payload: { message: 'Too many tokens, please wait before trying again.' } },
        ]),
      }),
    );
    expect(call.httpStatus).toBe(200);
    expect(call.error).toEqual({ type: 'ThrottlingException', message: 'Too many tokens, please wait before trying again.' });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hello' }]);
  });

  it('reports a modelStreamErrorException with the original status as code', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-pro-v1:0',
        action: 'converse-stream',
        requestBody: { messages: [] },
        responseBody: encodeStream([
          { eventType: 'modelStreamErrorException', messageType: 'exception', payload: { message: 'model failed', originalStatusCode: 500 } },
        ]),
      }),
    );
    expect(call.error).toEqual({ type: 'ModelStreamErrorException', code: '500', message: 'model failed' });
  });

  it('reports an error message framed with :error-code and :error-message headers', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-pro-v1:0',
        action: 'converse-stream',
        requestBody: { messages: [] },
        responseBody: encodeStream([
          { eventType: 'x', messageType: 'error', payload: '', extraHeaders: { ':error-code': 'InternalFailure', ':error-message': 'boom' } },
        ]),
      }),
    );
    expect(call.error).toEqual({ type: 'InternalFailure', message: 'boom' });
  });
});

describe('bedrock invoke-with-response-stream', () => {
  it('Anthropic events inside base64 chunks, usage from message_start/message_delta', () => {
    const events = [
      invokeChunk({
        type: 'message_start',
        message: {
          id: 'msg_bdrk_9',
          type: 'message',
          role: 'assistant',
          model: 'claude-3-5-sonnet-20240620',
          content: [],
          usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 8, cache_creation_input_tokens: 0 },
        },
      }),
      invokeChunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      invokeChunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Bonjour' } }),
      invokeChunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '!' } }),
      invokeChunk({ type: 'content_block_stop', index: 0 }),
      invokeChunk({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } }),
      invokeChunk({
        type: 'message_stop',
        'amazon-bedrock-invocationMetrics': { inputTokenCount: 12, outputTokenCount: 4, invocationLatency: 900, firstByteLatency: 300 },
      }),
    ];
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 20, messages: [{ role: 'user', content: 'Say hello in French' }] },
        responseBody: encodeStream(events),
      }),
    );
    expect(call).toMatchObject({
      operation: 'chat',
      stream: true,
      messageId: 'msg_bdrk_9',
      responseModel: 'claude-3-5-sonnet-20240620',
      finishReasons: ['end_turn'],
    });
    expect(call.usage).toEqual({ inputTokens: 20, outputTokens: 4, totalTokens: 24, cacheReadInputTokens: 8, cacheCreationInputTokens: 0 });
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Bonjour!' }], finish_reason: 'end_turn' }]);
  });

  it('Anthropic tool use streamed as input_json_delta', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 20, messages: [] },
        responseBody: encodeStream([
          invokeChunk({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'tu_5', name: 'calc', input: {} } }),
          invokeChunk({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a":' } }),
          invokeChunk({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '1}' } }),
          invokeChunk({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }),
        ]),
      }),
    );
    expect(call.responseToolCalls).toBe(1);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'tool_call', id: 'tu_5', name: 'calc', arguments: { a: 1 } }]);
  });

  it('invocation metrics give the usage when the family events carry none (Mistral)', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'mistral.mixtral-8x7b-instruct-v0:1',
        action: 'invoke-with-response-stream',
        requestBody: { prompt: '[INST] hi [/INST]', max_tokens: 10 },
        responseBody: encodeStream([
          invokeChunk({ outputs: [{ text: 'Hel', stop_reason: null }] }),
          invokeChunk({
            outputs: [{ text: 'lo', stop_reason: 'stop' }],
            'amazon-bedrock-invocationMetrics': { inputTokenCount: 7, outputTokenCount: 2, invocationLatency: 210, firstByteLatency: 95 },
          }),
        ]),
      }),
    );
    expect(call.operation).toBe('text_completion');
    expect(call.usage).toEqual({ inputTokens: 7, outputTokens: 2, totalTokens: 9 });
    expect(call.finishReasons).toEqual(['stop']);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hello' }]);
  });

  it('uses firstByteLatency when the capture has no first-body-byte time', () => {
    const exchange = bedrockExchange({
      modelId: 'mistral.mistral-small-2402-v1:0',
      action: 'invoke-with-response-stream',
      requestBody: { prompt: 'x' },
      responseBody: encodeStream([
        invokeChunk({ outputs: [{ text: 'y', stop_reason: 'stop' }], 'amazon-bedrock-invocationMetrics': { inputTokenCount: 1, outputTokenCount: 1, invocationLatency: 50, firstByteLatency: 42 } }),
      ]),
    });
    delete exchange.response!.firstBodyByteTsMs;
    expect(bedrockAdapter.parse(exchange).timeToFirstChunkMs).toBe(42);
  });

  it('Amazon Nova events keyed by type', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'us.amazon.nova-lite-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { max_new_tokens: 30 } },
        responseBody: encodeStream([
          invokeChunk({ messageStart: { role: 'assistant' } }),
          invokeChunk({ contentBlockDelta: { delta: { text: 'Hi ' }, contentBlockIndex: 0 } }),
          invokeChunk({ contentBlockDelta: { delta: { text: 'you' }, contentBlockIndex: 0 } }),
          invokeChunk({ contentBlockStop: { contentBlockIndex: 0 } }),
          invokeChunk({ messageStop: { stopReason: 'end_turn' } }),
          invokeChunk({
            metadata: { usage: { inputTokens: 6, outputTokens: 2 }, metrics: {} },
            'amazon-bedrock-invocationMetrics': { inputTokenCount: 6, outputTokenCount: 2, invocationLatency: 100, firstByteLatency: 40 },
          }),
        ]),
      }),
    );
    expect(call).toMatchObject({ maxTokens: 30, finishReasons: ['end_turn'] });
    expect(call.usage).toEqual({ inputTokens: 6, outputTokens: 2, totalTokens: 8 });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hi you' }]);
  });

  it('Titan text chunks', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.titan-text-premier-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { inputText: 'Hi', textGenerationConfig: { maxTokenCount: 8 } },
        responseBody: encodeStream([
          invokeChunk({ outputText: 'Hello', index: 0, totalOutputTextTokenCount: 1, completionReason: null, inputTextTokenCount: 2 }),
          invokeChunk({ outputText: ' there', index: 0, totalOutputTextTokenCount: 3, completionReason: 'FINISH', inputTextTokenCount: null }),
        ]),
      }),
    );
    expect(call.usage).toEqual({ inputTokens: 2, outputTokens: 3, totalTokens: 5 });
    expect(call.finishReasons).toEqual(['FINISH']);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hello there' }]);
  });

  it('Meta Llama chunks with running generation counts', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'meta.llama3-2-3b-instruct-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { prompt: 'count', max_gen_len: 5 },
        responseBody: encodeStream([
          invokeChunk({ generation: '1', prompt_token_count: 11, generation_token_count: 1, stop_reason: null }),
          invokeChunk({ generation: ' 2', prompt_token_count: null, generation_token_count: 2, stop_reason: null }),
          invokeChunk({ generation: ' 3', prompt_token_count: null, generation_token_count: 3, stop_reason: 'stop' }),
        ]),
      }),
    );
    expect(call.usage).toEqual({ inputTokens: 11, outputTokens: 3, totalTokens: 14 });
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: '1 2 3' }], finish_reason: 'stop' }]);
  });

  it('Cohere Command R stream events', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'cohere.command-r-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { message: 'hi' },
        responseBody: encodeStream([
          invokeChunk({ event_type: 'stream-start', generation_id: 'g-7', is_finished: false }),
          invokeChunk({ event_type: 'text-generation', text: 'Hey', is_finished: false }),
          invokeChunk({ event_type: 'text-generation', text: '!', is_finished: false }),
          invokeChunk({
            event_type: 'stream-end',
            finish_reason: 'COMPLETE',
            is_finished: true,
            response: { response_id: 'r-7', text: 'Hey!' },
            'amazon-bedrock-invocationMetrics': { inputTokenCount: 3, outputTokenCount: 2, invocationLatency: 80, firstByteLatency: 20 },
          }),
        ]),
      }),
    );
    expect(call).toMatchObject({ operation: 'chat', messageId: 'g-7', finishReasons: ['COMPLETE'] });
    expect(call.usage).toEqual({ inputTokens: 3, outputTokens: 2, totalTokens: 5 });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hey!' }]);
  });

  it('a throttling exception mid-stream is the call error', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 20, messages: [] },
        responseBody: encodeStream([
          invokeChunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Par' } }),
          { eventType: 'throttlingException', messageType: 'exception', payload: { message: 'Too many requests' } },
        ]),
      }),
    );
    expect(call.error).toEqual({ type: 'ThrottlingException', message: 'Too many requests' });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Par' }]);
  });

  it('ignores chunks that are not base64 JSON and keeps the rest', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'meta.llama3-8b-instruct-v1:0',
        action: 'invoke-with-response-stream',
        requestBody: { prompt: 'x' },
        responseBody: encodeStream([
          { eventType: 'chunk', payload: { bytes: '!!!not base64!!!' } },
          { eventType: 'chunk', payload: 'not json' },
          invokeChunk({ generation: 'ok', prompt_token_count: 1, generation_token_count: 1, stop_reason: 'stop' }),
        ]),
      }),
    );
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'ok' }]);
    expect(call.finishReasons).toEqual(['stop']);
  });
});
