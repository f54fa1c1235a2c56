import { bedrockAdapter, isBedrockPath } from '../../sensor/provider/bedrock';
import { ProviderParseError } from '../../sensor/provider/llm-call';
import { bedrockExchange } from '../support/bedrock-fixture';

describe('isBedrockPath', () => {
  it.each([
    '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke',
    '/model/amazon.nova-pro-v1%3A0/invoke-with-response-stream',
    '/model/meta.llama3-70b-instruct-v1%3A0/converse',
    '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream',
    '/model/amazon.titan-text-express-v1/invoke?trace=ENABLED',
  ])('recognises %s', (path) => {
    expect(isBedrockPath(path)).toBe(true);
  });

  it.each(['/v1/chat/completions', '/model/x/generate', '/model//invoke', '/model/a/b/invoke', '/models/x/invoke', '/foundation-models'])(
    'refuses %s',
    (path) => {
      expect(isBedrockPath(path)).toBe(false);
    },
  );

  it('recognises by path shape and POST, whatever the host', () => {
    const exchange = bedrockExchange({ modelId: 'mistral.mistral-large-2402-v1:0', action: 'invoke', requestBody: {}, authority: 'localhost:8443' });
    expect(bedrockAdapter.recognises(exchange)).toBe(true);
    exchange.request.method = 'GET';
    expect(bedrockAdapter.recognises(exchange)).toBe(false);
  });
});

describe('bedrock model ids', () => {
  it('URL-decodes a foundation model id', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-5-sonnet-20240620-v1%3A0',
        rawModelSegment: true,
        action: 'invoke',
        requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [] },
      }),
    );
    expect(call.requestModel).toBe('anthropic.claude-3-5-sonnet-20240620-v1:0');
    expect(call.provider).toBe('aws.bedrock');
  });

  it('requests the inference-profile ARN exactly as sent; the model that answered is the one the profile names', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId:
          'arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0',
        rawModelSegment: true,
        action: 'converse',
        requestBody: { messages: [{ role: 'user', content: [{ text: 'hi' }] }] },
        responseBody: { output: { message: { role: 'assistant', content: [{ text: 'yo' }] } }, stopReason: 'end_turn' },
      }),
    );
    expect(call.requestModel).toBe('arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0');
    expect(call.responseModel).toBe('anthropic.claude-3-5-sonnet-20240620-v1:0');
  });

  it.each([
    ['a cross-region profile id', 'us.amazon.nova-lite-v1:0', 'amazon.nova-lite-v1:0'],
    ['a global profile id', 'global.anthropic.claude-sonnet-4-20250514-v1:0', 'anthropic.claude-sonnet-4-20250514-v1:0'],
    ['a foundation-model ARN', 'arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0', 'amazon.nova-lite-v1:0'],
    ['a GovCloud profile ARN', 'arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov.amazon.nova-lite-v1:0', 'amazon.nova-lite-v1:0'],
    ['a model id', 'amazon.nova-lite-v1:0', 'amazon.nova-lite-v1:0'],
  ])('resolves %s to the model it runs', (_what, modelId, resolved) => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId,
        action: 'converse',
        requestBody: { messages: [{ role: 'user', content: [{ text: 'hi' }] }] },
        responseBody: { output: { message: { role: 'assistant', content: [{ text: 'yo' }] } }, stopReason: 'end_turn' },
      }),
    );
    expect([call.requestModel, call.responseModel]).toEqual([modelId, resolved]);
  });

  it('keeps an opaque application-profile ARN whole and reads the family from the body; the model that answered stays unknown', () => {
    const arn = 'arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5';
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: arn,
        action: 'invoke',
        requestBody: { prompt: '<s>[INST] hi [/INST]', max_gen_len: 64 },
        responseBody: { generation: 'hello', prompt_token_count: 9, generation_token_count: 2, stop_reason: 'stop' },
      }),
    );
    expect(call.requestModel).toBe(arn);
    expect(call.responseModel).toBeUndefined();
    expect(call.operation).toBe('text_completion');
    expect(call.maxTokens).toBe(64);
    expect(call.usage).toMatchObject({ inputTokens: 9, outputTokens: 2 });
  });

  it('keeps a malformed percent-escape as sent', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({ modelId: 'amazon.titan-text-lite-v1%ZZ', rawModelSegment: true, action: 'invoke', requestBody: { inputText: 'x' } }),
    );
    expect(call.requestModel).toBe('amazon.titan-text-lite-v1%ZZ');
  });
});

describe('bedrock invoke, per model family', () => {
  it('Anthropic messages format, with cache tokens added to input', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
        action: 'invoke',
        requestBody: {
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 512,
          temperature: 0.2,
          top_p: 0.9,
          system: 'Be brief.',
          tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
          messages: [
            { role: 'user', content: 'Weather in Paris?' },
            { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'get_weather', input: { city: 'Paris' } }] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: [{ type: 'text', text: '18C' }] }] },
          ],
        },
        responseBody: {
          id: 'msg_bdrk_01',
          type: 'message',
          role: 'assistant',
          model: 'claude-3-7-sonnet-20250219',
          content: [{ type: 'text', text: 'It is 18C.' }],
          stop_reason: 'end_turn',
          usage: { input_tokens: 40, output_tokens: 6, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 },
        },
      }),
    );
    expect(call).toMatchObject({
      operation: 'chat',
      stream: false,
      requestModel: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
      responseModel: 'claude-3-7-sonnet-20250219',
      maxTokens: 512,
      temperature: 0.2,
      topP: 0.9,
      hasSystemPrompt: true,
      requestToolsUsed: true,
      requestMessageCount: 3,
      messageId: 'msg_bdrk_01',
      finishReasons: ['end_turn'],
      responseToolCalls: 0,
      httpStatus: 200,
      serverAddress: 'bedrock-runtime.us-east-1.amazonaws.com',
      serverPort: 443,
    });
    expect(call.usage).toEqual({ inputTokens: 160, outputTokens: 6, totalTokens: 166, cacheReadInputTokens: 100, cacheCreationInputTokens: 20 });
    expect(call.systemInstructions).toEqual([{ type: 'text', content: 'Be brief.' }]);
    expect(call.inputMessages).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'tu_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
      { role: 'user', parts: [{ type: 'tool_call_response', id: 'tu_1', response: '18C' }] },
    ]);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'It is 18C.' }], finish_reason: 'end_turn' }]);
    expect(call.error).toBeUndefined();
  });

  it('Anthropic tool use in the response counts as a response tool call', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        action: 'invoke',
        requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] },
        responseBody: {
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'tu_9', name: 'lookup', input: { q: 'x' } },
          ],
          stop_reason: 'tool_use',
          usage: { input_tokens: 5, output_tokens: 9 },
        },
      }),
    );
    expect(call.responseToolCalls).toBe(1);
    expect(call.finishReasons).toEqual(['tool_use']);
    expect(call.outputMessages[0].parts[1]).toEqual({ type: 'tool_call', id: 'tu_9', name: 'lookup', arguments: { q: 'x' } });
    expect(call.hasSystemPrompt).toBe(false);
  });

  it('Amazon Nova messages with inferenceConfig', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-lite-v1:0',
        action: 'invoke',
        requestBody: {
          schemaVersion: 'messages-v1',
          system: [{ text: 'You are terse.' }],
          messages: [{ role: 'user', content: [{ text: 'Name a colour.' }] }],
          inferenceConfig: { maxTokens: 50, temperature: 0.7, topP: 0.8 },
        },
        responseBody: {
          output: { message: { role: 'assistant', content: [{ text: 'Blue.' }] } },
          stopReason: 'end_turn',
          usage: { inputTokens: 12, outputTokens: 2, totalTokens: 14, cacheReadInputTokenCount: 3, cacheWriteInputTokenCount: 0 },
        },
      }),
    );
    expect(call).toMatchObject({ operation: 'chat', maxTokens: 50, temperature: 0.7, topP: 0.8, hasSystemPrompt: true, requestMessageCount: 1, finishReasons: ['end_turn'] });
    expect(call.usage).toEqual({ inputTokens: 15, outputTokens: 2, totalTokens: 17, cacheReadInputTokens: 3, cacheCreationInputTokens: 0 });
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Blue.' }], finish_reason: 'end_turn' }]);
  });

  it('Amazon Titan text', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.titan-text-express-v1',
        action: 'invoke',
        requestBody: { inputText: 'Write a haiku about rain.', textGenerationConfig: { maxTokenCount: 200, temperature: 0.5, topP: 0.9 } },
        responseBody: { inputTextTokenCount: 8, results: [{ tokenCount: 17, outputText: 'Soft rain on tin roofs', completionReason: 'FINISH' }] },
      }),
    );
    expect(call).toMatchObject({ operation: 'text_completion', maxTokens: 200, temperature: 0.5, topP: 0.9, finishReasons: ['FINISH'], requestMessageCount: 1 });
    expect(call.usage).toEqual({ inputTokens: 8, outputTokens: 17, totalTokens: 25 });
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Write a haiku about rain.' }] }]);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Soft rain on tin roofs' }]);
  });

  it('Amazon Titan embeddings', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.titan-embed-text-v2:0',
        action: 'invoke',
        requestBody: { inputText: 'embed me', dimensions: 256 },
        responseBody: { embedding: [0.1, 0.2], inputTextTokenCount: 3 },
      }),
    );
    expect(call.operation).toBe('embeddings');
    expect(call.usage).toEqual({ inputTokens: 3 });
    expect(call.outputMessages).toEqual([]);
  });

  it('Meta Llama', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'meta.llama3-1-70b-instruct-v1:0',
        action: 'invoke',
        requestBody: { prompt: 'Say hi', max_gen_len: 128, temperature: 0.1, top_p: 0.95 },
        responseBody: { generation: 'Hi there', prompt_token_count: 21, generation_token_count: 3, stop_reason: 'stop' },
      }),
    );
    expect(call).toMatchObject({ operation: 'text_completion', maxTokens: 128, temperature: 0.1, topP: 0.95, finishReasons: ['stop'] });
    expect(call.usage).toEqual({ inputTokens: 21, outputTokens: 3, totalTokens: 24 });
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Hi there' }], finish_reason: 'stop' }]);
  });

  it('Mistral prompt format, tokens from the x-amzn-bedrock headers', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'mistral.mistral-7b-instruct-v0:2',
        action: 'invoke',
        requestBody: { prompt: '<s>[INST] Count to three [/INST]', max_tokens: 40, temperature: 0.3, top_p: 0.7 },
        responseBody: { outputs: [{ text: 'One, two, three.', stop_reason: 'stop' }] },
        responseHeaders: {
          'x-amzn-bedrock-input-token-count': '14',
          'x-amzn-bedrock-output-token-count': '7',
          'x-amzn-bedrock-invocation-latency': '321',
        },
      }),
    );
    expect(call).toMatchObject({ operation: 'text_completion', maxTokens: 40, temperature: 0.3, topP: 0.7, finishReasons: ['stop'] });
    expect(call.usage).toEqual({ inputTokens: 14, outputTokens: 7, totalTokens: 21 });
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'One, two, three.' }]);
  });

  it('Mistral chat format with choices', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'mistral.mistral-large-2407-v1:0',
        action: 'invoke',
        requestBody: { messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hello' }], max_tokens: 30 },
        responseBody: { choices: [{ index: 0, message: { role: 'assistant', content: 'Hello, friend.' }, stop_reason: 'stop' }] },
      }),
    );
    expect(call).toMatchObject({ operation: 'chat', hasSystemPrompt: true, requestMessageCount: 2, finishReasons: ['stop'] });
    expect(call.systemInstructions).toEqual([{ type: 'text', content: 'Be kind.' }]);
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Hello' }] }]);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Hello, friend.' }]);
  });

  it('Header counts only fill what the body left open', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'meta.llama3-8b-instruct-v1:0',
        action: 'invoke',
        requestBody: { prompt: 'x' },
        responseBody: { generation: 'y', prompt_token_count: 5, generation_token_count: 1, stop_reason: 'stop' },
        responseHeaders: { 'x-amzn-bedrock-input-token-count': '999', 'x-amzn-bedrock-output-token-count': 'many' },
      }),
    );
    expect(call.usage).toEqual({ inputTokens: 5, outputTokens: 1, totalTokens: 6 });
  });

  it('Cohere Command R chat', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'cohere.command-r-plus-v1:0',
        action: 'invoke',
        requestBody: {
          message: 'And in Rome?',
          chat_history: [
            { role: 'USER', message: 'Weather in Paris?' },
            { role: 'CHATBOT', message: 'Sunny.' },
          ],
          preamble: 'You are a weather bot.',
          max_tokens: 90,
          temperature: 0.4,
          p: 0.75,
        },
        responseBody: { response_id: 'r-1', generation_id: 'g-1', text: 'Rainy.', finish_reason: 'COMPLETE', chat_history: [] },
        responseHeaders: { 'x-amzn-bedrock-input-token-count': '31', 'x-amzn-bedrock-output-token-count': '2' },
      }),
    );
    expect(call).toMatchObject({
      operation: 'chat',
      maxTokens: 90,
      temperature: 0.4,
      topP: 0.75,
      hasSystemPrompt: true,
      requestMessageCount: 3,
      messageId: 'r-1',
      finishReasons: ['COMPLETE'],
    });
    expect(call.inputMessages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(call.systemInstructions).toEqual([{ type: 'text', content: 'You are a weather bot.' }]);
    expect(call.outputMessages[0].parts).toEqual([{ type: 'text', content: 'Rainy.' }]);
    expect(call.usage).toEqual({ inputTokens: 31, outputTokens: 2, totalTokens: 33 });
  });

  it('Cohere embed', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'cohere.embed-english-v3',
        action: 'invoke',
        requestBody: { texts: ['alpha', 'beta'], input_type: 'search_document' },
        responseBody: { id: 'e-1', embeddings: [[0.1], [0.2]], response_type: 'embeddings_floats', texts: ['alpha', 'beta'] },
        responseHeaders: { 'x-amzn-bedrock-input-token-count': '4' },
      }),
    );
    expect(call).toMatchObject({ operation: 'embeddings', requestMessageCount: 2, messageId: 'e-1' });
    expect(call.usage).toEqual({ inputTokens: 4 });
  });
});

describe('bedrock converse', () => {
  it('reads messages, system, inferenceConfig, toolConfig, output, stopReason and usage with cache', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
        action: 'converse',
        requestBody: {
          messages: [
            { role: 'user', content: [{ text: 'What is 2+2?' }, { image: { format: 'png', source: { bytes: 'AAAA' } } }] },
            { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'calc', input: { expr: '2+2' } } }] },
            { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ json: { value: 4 } }] } }] },
          ],
          system: [{ text: 'Answer with a number.' }, { cachePoint: { type: 'default' } }],
          inferenceConfig: { maxTokens: 64, temperature: 0, topP: 1 },
          toolConfig: { tools: [{ toolSpec: { name: 'calc', inputSchema: { json: {} } } }] },
        },
        responseBody: {
          output: { message: { role: 'assistant', content: [{ text: '4' }] } },
          stopReason: 'end_turn',
          usage: { inputTokens: 30, outputTokens: 1, totalTokens: 81, cacheReadInputTokens: 50, cacheWriteInputTokens: 0 },
          metrics: { latencyMs: 412 },
        },
      }),
    );
    expect(call).toMatchObject({
      operation: 'chat',
      stream: false,
      maxTokens: 64,
      temperature: 0,
      topP: 1,
      hasSystemPrompt: true,
      requestToolsUsed: true,
      requestMessageCount: 3,
      finishReasons: ['end_turn'],
      responseToolCalls: 0,
    });
    expect(call.usage).toEqual({ inputTokens: 80, outputTokens: 1, totalTokens: 81, cacheReadInputTokens: 50, cacheCreationInputTokens: 0 });
    expect(call.systemInstructions).toEqual([{ type: 'text', content: 'Answer with a number.' }]);
    expect(call.inputMessages).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'What is 2+2?' }, { type: 'blob', modality: 'image', format: 'png' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 't1', name: 'calc', arguments: { expr: '2+2' } }] },
      { role: 'user', parts: [{ type: 'tool_call_response', id: 't1', response: [{ value: 4 }] }] },
    ]);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: '4' }], finish_reason: 'end_turn' }]);
  });

  it('counts tool use in the converse output', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-pro-v1:0',
        action: 'converse',
        requestBody: { messages: [{ role: 'user', content: [{ text: 'weather?' }] }] },
        responseBody: {
          output: {
            message: {
              role: 'assistant',
              content: [{ toolUse: { toolUseId: 'a', name: 'w', input: {} } }, { toolUse: { toolUseId: 'b', name: 'w', input: {} } }],
            },
          },
          stopReason: 'tool_use',
          usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
        },
      }),
    );
    expect(call.responseToolCalls).toBe(2);
    expect(call.hasSystemPrompt).toBe(false);
    expect(call.requestToolsUsed).toBe(false);
  });
});

describe('bedrock errors', () => {
  it('AccessDeniedException: type from x-amzn-errortype, message from the body', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-opus-20240229-v1:0',
        action: 'invoke',
        requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
        status: 403,
        responseHeaders: { 'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
        responseBody: { message: "You don't have access to the model with the specified model ID." },
      }),
    );
    expect(call.httpStatus).toBe(403);
    expect(call.error).toEqual({ type: 'AccessDeniedException', code: '403', message: "You don't have access to the model with the specified model ID." });
    expect(call.responseModel).toBeUndefined();
    expect(call.outputMessages).toEqual([]);
    expect(call.inputMessages).toHaveLength(1);
  });

  it('ThrottlingException on a stream path answers JSON, with Message spelled capitalised', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-micro-v1:0',
        action: 'converse-stream',
        requestBody: { messages: [] },
        status: 429,
        responseHeaders: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
        responseBody: { Message: 'Too many requests, please wait before trying again.' },
      }),
    );
    expect(call.error).toEqual({ type: 'ThrottlingException', code: '429', message: 'Too many requests, please wait before trying again.' });
    expect(call.stream).toBe(true);
  });

  it('falls back to the body __type, then to the status', () => {
    const typed = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.titan-text-lite-v1',
        action: 'invoke',
        requestBody: { inputText: 'x' },
        status: 400,
        responseBody: { __type: 'com.amazon.bedrock#ValidationException', message: 'Malformed input request' },
      }),
    );
    expect(typed.error).toEqual({ type: 'ValidationException', code: '400', message: 'Malformed input request' });
    const bare = bedrockExchange({ modelId: 'amazon.titan-text-lite-v1', action: 'invoke', requestBody: { inputText: 'x' }, status: 502 });
    bare.response!.body = Buffer.from('<html>Bad Gateway</html>');
    expect(bedrockAdapter.parse(bare).error).toEqual({ type: '502', code: '502' });
  });

  it('a complete request body that is not JSON is a ProviderParseError', () => {
    const exchange = bedrockExchange({ modelId: 'amazon.titan-text-lite-v1', action: 'invoke', requestBody: {} });
    exchange.request.body = Buffer.from('not json at all');
    expect(() => bedrockAdapter.parse(exchange)).toThrow(ProviderParseError);
  });

  it('a truncated request body still yields the call, from the path and the response', () => {
    const exchange = bedrockExchange({
      modelId: 'meta.llama3-8b-instruct-v1:0',
      action: 'invoke',
      requestBody: {},
      responseBody: { generation: 'ok', prompt_token_count: 2, generation_token_count: 1, stop_reason: 'stop' },
    });
    exchange.request.body = Buffer.from('{"prompt": "a very long pro');
    exchange.request.bodyTruncated = true;
    const call = bedrockAdapter.parse(exchange);
    expect(call.requestModel).toBe('meta.llama3-8b-instruct-v1:0');
    expect(call.usage).toEqual({ inputTokens: 2, outputTokens: 1, totalTokens: 3 });
  });

  it('an exchange without a response is still a call, with no status', () => {
    const exchange = bedrockExchange({ modelId: 'amazon.nova-lite-v1:0', action: 'converse', requestBody: { messages: [] } });
    delete exchange.response;
    const call = bedrockAdapter.parse(exchange);
    expect(call.httpStatus).toBeUndefined();
    expect(call.endTsMs).toBe(exchange.request.endTsMs);
  });

  it('an exchange without a response is an error (no_response), as for the other providers', () => {
    const exchange = bedrockExchange({
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      action: 'invoke',
      requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
    });
    delete exchange.response;
    const call = bedrockAdapter.parse(exchange);
    expect(call.error).toEqual({ type: 'no_response', message: 'the connection ended before a response arrived' });
    expect(call.responseModel).toBeUndefined();
    expect(call.inputMessages).toHaveLength(1);
  });

  it('a response cut mid-JSON (stream reset, connection closed) keeps status, model and header token counts', () => {
    const exchange = bedrockExchange({
      modelId: 'meta.llama3-8b-instruct-v1:0',
      action: 'invoke',
      requestBody: { prompt: 'Tell me a story', max_gen_len: 512 },
      responseHeaders: { 'x-amzn-bedrock-input-token-count': '6', 'x-amzn-bedrock-output-token-count': '480' },
    });
    exchange.response!.body = Buffer.from('{"generation": "Once upon a time, in a harbour town far');
    exchange.response!.complete = false;
    const call = bedrockAdapter.parse(exchange);
    expect(call).toMatchObject({ httpStatus: 200, requestModel: 'meta.llama3-8b-instruct-v1:0', responseModel: 'meta.llama3-8b-instruct-v1:0', maxTokens: 512 });
    expect(call.usage).toEqual({ inputTokens: 6, outputTokens: 480, totalTokens: 486 });
    expect(call.error).toBeUndefined();
  });

  it('a complete response body that is not JSON is still a ProviderParseError', () => {
    const exchange = bedrockExchange({ modelId: 'meta.llama3-8b-instruct-v1:0', action: 'invoke', requestBody: { prompt: 'x' } });
    exchange.response!.body = Buffer.from('{"generation": "cut');
    expect(() => bedrockAdapter.parse(exchange)).toThrow(ProviderParseError);
  });

  it('parse refuses a path that is not Bedrock', () => {
    const exchange = bedrockExchange({ modelId: 'x', action: 'invoke', requestBody: {} });
    exchange.request.path = '/v1/messages';
    expect(() => bedrockAdapter.parse(exchange)).toThrow(/aws\.bedrock: path \/v1\/messages is not a Bedrock Runtime model path/);
  });
});

describe('bedrock choice count', () => {
  it('counts one choice per output message in every family, and none without a reply', () => {
    const anthropic = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        action: 'invoke',
        requestBody: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
        responseBody: { content: [{ type: 'text', text: 'hello' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } },
      }),
    );
    expect(anthropic.choiceCount).toBe(1);
    const converse = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.nova-lite-v1:0',
        action: 'converse',
        requestBody: { messages: [{ role: 'user', content: [{ text: 'hi' }] }] },
        responseBody: { output: { message: { role: 'assistant', content: [{ text: 'yo' }] } }, stopReason: 'end_turn' },
      }),
    );
    expect(converse.choiceCount).toBe(1);
    const titan = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'amazon.titan-text-express-v1',
        action: 'invoke',
        requestBody: { inputText: 'x' },
        responseBody: { inputTextTokenCount: 1, results: [{ tokenCount: 1, outputText: 'a', completionReason: 'FINISH' }, { tokenCount: 1, outputText: 'b', completionReason: 'FINISH' }] },
      }),
    );
    expect(titan.choiceCount).toBe(2);
    const cohere = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'cohere.command-text-v14',
        action: 'invoke',
        requestBody: { prompt: 'x', num_generations: 3 },
        responseBody: { id: 'c-1', generations: [{ text: 'a', finish_reason: 'COMPLETE' }] },
      }),
    );
    expect(cohere.choiceCount).toBe(3);
    const denied = bedrockAdapter.parse(
      bedrockExchange({ modelId: 'amazon.nova-lite-v1:0', action: 'converse', requestBody: { messages: [] }, status: 403, responseBody: { message: 'no' } }),
    );
    expect(denied.choiceCount).toBeUndefined();
  });
});

describe('bedrock invoke of a family the model id does not name', () => {
  it('reads an OpenAI-style chat body and its choices (gpt-oss), not as Anthropic', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'openai.gpt-oss-120b-1:0',
        action: 'invoke',
        requestBody: {
          messages: [
            { role: 'system', content: 'Answer in one word.' },
            { role: 'user', content: 'Capital of Italy?' },
          ],
          max_completion_tokens: 50,
          temperature: 0.2,
        },
        responseBody: {
          id: 'chatcmpl-oss1',
          object: 'chat.completion',
          model: 'openai.gpt-oss-120b-1:0',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Rome' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 },
        },
      }),
    );
    expect(call).toMatchObject({ operation: 'chat', maxTokens: 50, temperature: 0.2, hasSystemPrompt: true, messageId: 'chatcmpl-oss1', finishReasons: ['stop'] });
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Capital of Italy?' }] }]);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Rome' }], finish_reason: 'stop' }]);
    expect(call.usage).toEqual({ inputTokens: 20, outputTokens: 2, totalTokens: 22 });
  });

  it('reads a converse-shaped reply to a bare messages body behind an opaque ARN', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x9y8z7',
        action: 'invoke',
        requestBody: { messages: [{ role: 'user', content: [{ text: 'Name a colour.' }] }] },
        responseBody: { output: { message: { role: 'assistant', content: [{ text: 'Blue.' }] } }, stopReason: 'end_turn', usage: { inputTokens: 4, outputTokens: 2 } },
      }),
    );
    expect(call.inputMessages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Name a colour.' }] }]);
    expect(call.outputMessages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'Blue.' }], finish_reason: 'end_turn' }]);
    expect(call.usage).toEqual({ inputTokens: 4, outputTokens: 2, totalTokens: 6 });
  });
});

describe('bedrock tool results holding media', () => {
  const pixels = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';

  it('Anthropic invoke: an image-only tool result keeps its kind, not its base64 bytes', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
        action: 'invoke',
        requestBody: {
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 64,
          messages: [
            { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_shot', name: 'screenshot', input: {} }] },
            {
              role: 'user',
              content: [
                { type: 'tool_result', tool_use_id: 'tu_shot', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: pixels } }] },
              ],
            },
          ],
        },
        responseBody: { content: [{ type: 'text', text: 'A cat.' }], stop_reason: 'end_turn' },
      }),
    );
    expect(call.inputMessages[1].parts).toEqual([
      { type: 'tool_call_response', id: 'tu_shot', response: [{ type: 'blob', modality: 'image', mime_type: 'image/png' }] },
    ]);
    expect(JSON.stringify(call.inputMessages)).not.toContain(pixels);
  });

  it('Converse: image and document tool results keep their kind, JSON results stay as sent', () => {
    const call = bedrockAdapter.parse(
      bedrockExchange({
        modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
        action: 'converse',
        requestBody: {
          messages: [
            { role: 'assistant', content: [{ toolUse: { toolUseId: 't_shot', name: 'screenshot', input: {} } }] },
            {
              role: 'user',
              content: [
                {
                  toolResult: {
                    toolUseId: 't_shot',
                    content: [
                      { json: { width: 1 } },
                      { image: { format: 'png', source: { bytes: pixels } } },
                      { document: { format: 'pdf', name: 'report', source: { bytes: pixels } } },
                    ],
                  },
                },
              ],
            },
          ],
        },
        responseBody: { output: { message: { role: 'assistant', content: [{ text: 'ok' }] } }, stopReason: 'end_turn' },
      }),
    );
    expect(call.inputMessages[1].parts).toEqual([
      {
        type: 'tool_call_response',
        id: 't_shot',
        response: [{ width: 1 }, { type: 'blob', modality: 'image', format: 'png' }, { type: 'file', modality: 'document', format: 'pdf' }],
      },
    ]);
    expect(JSON.stringify(call.inputMessages)).not.toContain(pixels);
  });
});
