import { hasGenAiAttributes, normaliseGenAiAttributes, normaliseProviderName } from '../../sensor/receiver/normalise';
import type { Attributes } from '../../sensor/span/gen-ai-span';

const SYSTEM_TEXT = 'Answer in one word.';
const USER_TEXT = 'Capital of France?';
const ANSWER = 'Paris';

/** What the sensor itself would put on this call: the target of every dialect below. */
const CANONICAL: Attributes = {
  'gen_ai.system': 'openai',
  'gen_ai.provider.name': 'openai',
  'gen_ai.operation.name': 'chat',
  'gen_ai.request.model': 'gpt-4o-mini',
  'gen_ai.usage.input_tokens': 21,
  'gen_ai.usage.output_tokens': 2,
  'gen_ai.response.usage.input_tokens': 21,
  'gen_ai.response.usage.output_tokens': 2,
  'gen_ai.response.usage.total_tokens': 23,
  'gen_ai.input.messages': JSON.stringify([
    { role: 'system', parts: [{ type: 'text', content: SYSTEM_TEXT }] },
    { role: 'user', parts: [{ type: 'text', content: USER_TEXT }] },
  ]),
  'gen_ai.request.message_count': 2,
  'gen_ai.request.system_prompt': true,
};
const OUTPUT_TEXT = { role: 'assistant', parts: [{ type: 'text', content: ANSWER }] };

const DIALECTS: Record<string, { attributes: Attributes; events?: Array<{ name: string; attributes: Attributes }> }> = {
  'OTel GenAI semconv (current)': {
    attributes: {
      'gen_ai.provider.name': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 2,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.input.messages': CANONICAL['gen_ai.input.messages'],
      'gen_ai.output.messages': JSON.stringify([{ ...OUTPUT_TEXT, finish_reason: 'stop' }]),
    },
  },
  'OTel GenAI semconv (older: gen_ai.system, prompt_tokens, content events)': {
    attributes: {
      'gen_ai.system': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.prompt_tokens': 21,
      'gen_ai.usage.completion_tokens': 2,
      'gen_ai.response.finish_reasons': ['stop'],
    },
    events: [
      { name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': JSON.stringify([{ role: 'system', content: SYSTEM_TEXT }, { role: 'user', content: USER_TEXT }]) } },
      { name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': JSON.stringify([{ role: 'assistant', content: ANSWER, finish_reason: 'stop' }]) } },
    ],
  },
  'OpenLLMetry (indexed prompts, llm.*)': {
    attributes: {
      'gen_ai.system': 'OpenAI',
      'llm.request.type': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.prompt_tokens': 21,
      'gen_ai.usage.completion_tokens': 2,
      'llm.usage.total_tokens': 23,
      'gen_ai.prompt.0.role': 'system',
      'gen_ai.prompt.0.content': SYSTEM_TEXT,
      'gen_ai.prompt.1.role': 'user',
      'gen_ai.prompt.1.content': USER_TEXT,
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.content': ANSWER,
      'gen_ai.completion.0.finish_reason': 'stop',
    },
  },
  'OpenInference (llm.model_name, llm.token_count.*)': {
    attributes: {
      'openinference.span.kind': 'LLM',
      'llm.provider': 'openai',
      'llm.system': 'openai',
      'llm.model_name': 'gpt-4o-mini',
      'llm.token_count.prompt': 21,
      'llm.token_count.completion': 2,
      'llm.token_count.total': 23,
      'llm.invocation_parameters': '{"temperature":0.2,"max_tokens":64}',
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': SYSTEM_TEXT,
      'llm.input_messages.1.message.role': 'user',
      'llm.input_messages.1.message.contents.0.message_content.type': 'text',
      'llm.input_messages.1.message.contents.0.message_content.text': USER_TEXT,
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.content': ANSWER,
    },
  },
};

const LEGACY_KEY = /^(gen_ai\.usage\.(prompt|completion)_tokens|llm\.(usage|token_count|model_name|provider|system|request\.type|input_messages|output_messages)|gen_ai\.(prompt|completion)(\.|$))/;

describe('GenAI attribute normalisation', () => {
  it.each(Object.keys(DIALECTS))('%s maps onto the sensor\'s attribute set', (dialect) => {
    const { attributes, events } = DIALECTS[dialect];
    const result = normaliseGenAiAttributes(attributes, events ?? []);
    expect(result).toMatchObject(CANONICAL);
    const output = JSON.parse(result['gen_ai.output.messages'] as string) as Array<Record<string, unknown>>;
    expect(output.map(({ finish_reason: _finishReason, ...message }) => message)).toEqual([OUTPUT_TEXT]);
    expect(Object.keys(result).filter((key) => LEGACY_KEY.test(key))).toEqual([]);
  });

  it.each(Object.keys(DIALECTS).filter((dialect) => !dialect.startsWith('OpenInference')))('%s yields both finish-reason forms', (dialect) => {
    const { attributes, events } = DIALECTS[dialect];
    const result = normaliseGenAiAttributes(attributes, events ?? []);
    expect(result['gen_ai.response.finish_reasons']).toEqual(['stop']);
    expect(result['gen_ai.response.finish_reason']).toBe('stop');
  });

  it('reads request parameters from OpenInference invocation parameters', () => {
    const result = normaliseGenAiAttributes(DIALECTS['OpenInference (llm.model_name, llm.token_count.*)'].attributes);
    expect(result['gen_ai.request.temperature']).toBe(0.2);
    expect(result['gen_ai.request.max_tokens']).toBe(64);
  });

  it('turns the seed\'s single finish reason into the semconv array', () => {
    const result = normaliseGenAiAttributes({ 'gen_ai.system': 'anthropic', 'gen_ai.response.finish_reason': 'end_turn' });
    expect(result['gen_ai.response.finish_reasons']).toEqual(['end_turn']);
    expect(result['gen_ai.provider.name']).toBe('anthropic');
  });

  it('keeps canonical values over legacy ones and maps provider aliases', () => {
    const result = normaliseGenAiAttributes({ 'gen_ai.usage.input_tokens': 5, 'gen_ai.usage.prompt_tokens': 9, 'gen_ai.system': 'az.ai.openai' });
    expect(result['gen_ai.usage.input_tokens']).toBe(5);
    expect(result['gen_ai.provider.name']).toBe('azure.ai.openai');
    expect(normaliseProviderName('Bedrock')).toBe('aws.bedrock');
  });

  it('carries tool calls from OpenLLMetry into message parts', () => {
    const result = normaliseGenAiAttributes({
      'gen_ai.system': 'openai',
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.finish_reason': 'tool_calls',
      'gen_ai.completion.0.tool_calls.0.id': 'call_9',
      'gen_ai.completion.0.tool_calls.0.name': 'get_weather',
      'gen_ai.completion.0.tool_calls.0.arguments': '{"city":"Paris"}',
    });
    expect(JSON.parse(result['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_9', name: 'get_weather', arguments: '{"city":"Paris"}' }], finish_reason: 'tool_calls' },
    ]);
    expect(result['gen_ai.response.finish_reasons']).toEqual(['tool_calls']);
  });

  it('tells GenAI spans from others', () => {
    expect(hasGenAiAttributes({ 'gen_ai.request.model': 'x' })).toBe(true);
    expect(hasGenAiAttributes({ 'llm.model_name': 'x' })).toBe(true);
    expect(hasGenAiAttributes({ 'openinference.span.kind': 'LLM' })).toBe(true);
    expect(hasGenAiAttributes({ 'openinference.span.kind': 'CHAIN', 'input.value': 'x' })).toBe(false);
    expect(hasGenAiAttributes({ 'http.request.method': 'GET' })).toBe(false);
  });
});
