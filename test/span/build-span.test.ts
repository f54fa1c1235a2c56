import { anthropicAdapter } from '../../sensor/provider/anthropic';
import type { LlmCall } from '../../sensor/provider/llm-call';
import { openAiAdapter } from '../../sensor/provider/openai';
import { buildSpan } from '../../sensor/span/build-span';
import { makeExchange } from '../support/exchange-fixture';
import * as anthropicFx from '../provider/fixtures/anthropic-fixtures';
import * as openAiFx from '../provider/fixtures/openai-fixtures';

const IDS = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const T0 = 1_700_000_000_000;

describe('buildSpan from an OpenAI chat call', () => {
  const span = buildSpan(openAiAdapter.parse(makeExchange(openAiFx.chatNonStreaming)), IDS);
  const a = span.attributes;

  it('is a CLIENT span named "{operation} {request model}" with the given ids', () => {
    expect(span.name).toBe('chat gpt-4o');
    expect(span.kind).toBe('client');
    expect(span.traceId).toBe(IDS.traceId);
    expect(span.spanId).toBe(IDS.spanId);
    expect(span.source).toBe('ebpf');
    expect(span.status).toEqual({ code: 'unset' });
    expect(span.startTimeUnixNano).toBe(BigInt(T0) * 1_000_000n);
    // Request 5 ms, response ends 900 ms after the request's end.
    expect(span.endTimeUnixNano).toBe(BigInt(T0 + 905) * 1_000_000n);
  });

  it('carries every seed attribute under its seed name', () => {
    expect(a['gen_ai.system']).toBe('openai');
    expect(a['gen_ai.request.model']).toBe('gpt-4o');
    expect(a['gen_ai.response.model']).toBe('gpt-4o-2024-08-06');
    expect(a['gen_ai.response.usage.input_tokens']).toBe(120);
    expect(a['gen_ai.response.usage.output_tokens']).toBe(45);
    expect(a['gen_ai.response.usage.total_tokens']).toBe(165);
    expect(a['gen_ai.response.finish_reason']).toBe('stop,tool_calls');
    expect(a['gen_ai.response.choice_count']).toBe(2);
    expect(a['gen_ai.response.system_fingerprint']).toBe('fp_44709d6fcb');
    expect(a['gen_ai.response.tools_used']).toBe(2);
    expect(a['gen_ai.request.temperature']).toBe(0.2);
    expect(a['gen_ai.request.max_tokens']).toBe(256);
    expect(a['gen_ai.request.top_p']).toBe(0.9);
    expect(a['gen_ai.request.stream']).toBe(false);
    expect(a['gen_ai.response.message_id']).toBe('chatcmpl-9xYz123');
    expect(a['gen_ai.operation.name']).toBe('chat');
    expect(a['gen_ai.request.message_count']).toBe(4);
    expect(a['gen_ai.request.system_prompt']).toBe(true);
    expect(a['gen_ai.request.tools_used']).toBe(true);
  });

  it('carries the semconv names where they differ', () => {
    expect(a['gen_ai.provider.name']).toBe('openai');
    expect(a['gen_ai.usage.input_tokens']).toBe(120);
    expect(a['gen_ai.usage.output_tokens']).toBe(45);
    expect(a['gen_ai.usage.cache_read.input_tokens']).toBe(64);
    expect(a['gen_ai.usage.reasoning.output_tokens']).toBe(0);
    expect(a['gen_ai.response.finish_reasons']).toEqual(['stop', 'tool_calls']);
    expect(a['gen_ai.response.id']).toBe('chatcmpl-9xYz123');
    expect(a['gen_ai.request.choice.count']).toBe(2);
    expect(a['openai.response.system_fingerprint']).toBe('fp_44709d6fcb');
    expect(a['server.address']).toBe('api.openai.com');
    expect(a['server.port']).toBe(443);
    expect(a['http.response.status_code']).toBe(200);
    // No socket peer in this fixture: nothing is made up.
    expect(a).not.toHaveProperty('network.peer.address');
  });

  it('carries the socket peer as network.peer.*, beside the server named by the Host header', () => {
    const viaProxy = buildSpan(openAiAdapter.parse(makeExchange({ ...openAiFx.chatNonStreaming, peer: { address: '10.0.3.7', port: 3128 } })), IDS).attributes;
    expect(viaProxy['server.address']).toBe('api.openai.com');
    expect(viaProxy['server.port']).toBe(443); // the Host header's (default) port, not the proxy's
    expect(viaProxy['network.peer.address']).toBe('10.0.3.7');
    expect(viaProxy['network.peer.port']).toBe(3128);
    // With no Host header at all, the socket's peer is the best name there is.
    const noHost = buildSpan(openAiAdapter.parse(makeExchange({ ...openAiFx.chatNonStreaming, authority: '', peer: { address: '2001:db8::7', port: 8443 } })), IDS).attributes;
    expect([noHost['server.address'], noHost['server.port']]).toEqual(['2001:db8::7', 8443]);
  });

  it('carries content as JSON strings in the semconv shapes', () => {
    const input = JSON.parse(a['gen_ai.input.messages'] as string);
    expect(input[0]).toEqual({ role: 'system', parts: [{ type: 'text', content: 'You are a terse weather assistant.' }] });
    expect(input[3]).toEqual({ role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_abc123', response: 'rainy, 14C' }] });
    const output = JSON.parse(a['gen_ai.output.messages'] as string);
    expect(output[0]).toEqual({ role: 'assistant', parts: [{ type: 'text', content: 'It is rainy in Paris, 14C.' }], finish_reason: 'stop' });
    expect(output).toHaveLength(2);
  });

  it('omits what the call does not have', () => {
    for (const name of [
      'gen_ai.usage.cache_creation.input_tokens',
      'gen_ai.response.time_to_first_chunk',
      'gen_ai.system_instructions',
      'error.type',
      'gen_ai.error.type',
      'gen_ai.error.code',
      'gen_ai.error.message',
    ]) {
      expect(a).not.toHaveProperty([name]);
    }
    for (const value of Object.values(a)) expect(value).not.toBeUndefined();
  });
});

describe('buildSpan from an Anthropic streamed call', () => {
  const span = buildSpan(anthropicAdapter.parse(makeExchange(anthropicFx.messagesStreaming)), IDS);
  const a = span.attributes;

  it('has streaming, cache and timing attributes', () => {
    expect(span.name).toBe('chat claude-3-5-haiku-latest');
    expect(a['gen_ai.system']).toBe('anthropic');
    expect(a['gen_ai.request.stream']).toBe(true);
    expect(a['gen_ai.usage.input_tokens']).toBe(125);
    expect(a['gen_ai.response.usage.input_tokens']).toBe(125);
    expect(a['gen_ai.usage.cache_read.input_tokens']).toBe(100);
    expect(a['gen_ai.usage.cache_creation.input_tokens']).toBe(0);
    expect(a['gen_ai.response.usage.total_tokens']).toBe(140);
    expect(a['gen_ai.response.finish_reason']).toBe('tool_use');
    expect(a['gen_ai.response.finish_reasons']).toEqual(['tool_use']);
    // First body byte 210 ms after the request ended, in seconds.
    expect(a['gen_ai.response.time_to_first_chunk']).toBeCloseTo(0.21, 10);
    expect(JSON.parse(a['gen_ai.system_instructions'] as string)).toEqual([{ type: 'text', content: 'Reply briefly.' }]);
    expect(a).not.toHaveProperty(['openai.response.system_fingerprint']);
    expect(a).not.toHaveProperty(['gen_ai.response.system_fingerprint']);
  });
});

describe('buildSpan for failed calls', () => {
  it('marks a 429 as an error with the provider error attributes', () => {
    const span = buildSpan(openAiAdapter.parse(makeExchange(openAiFx.rateLimited)), IDS);
    const a = span.attributes;
    expect(span.status).toEqual({
      code: 'error',
      message: 'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29950, Requested 120.',
    });
    expect(a['error.type']).toBe('tokens');
    expect(a['gen_ai.error.type']).toBe('tokens');
    expect(a['gen_ai.error.code']).toBe('rate_limit_exceeded');
    expect(a['gen_ai.error.message']).toBe(
      'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29950, Requested 120.',
    );
    expect(a['http.response.status_code']).toBe(429);
    expect(a).not.toHaveProperty(['gen_ai.response.usage.input_tokens']);
    expect(a).not.toHaveProperty(['gen_ai.output.messages']);
  });

  it('uses the HTTP status as error type when the body said nothing', () => {
    const span = buildSpan(openAiAdapter.parse(makeExchange({ ...openAiFx.rateLimited, status: 503, responseBody: '' })), IDS);
    expect(span.status).toEqual({ code: 'error', message: 'HTTP 503' });
    expect(span.attributes['error.type']).toBe('503');
    expect(span.attributes).not.toHaveProperty(['gen_ai.error.code']);
    expect(span.attributes).not.toHaveProperty(['gen_ai.error.message']);
  });

  it('marks a provider error inside a 200 stream as an error', () => {
    const span = buildSpan(anthropicAdapter.parse(makeExchange(anthropicFx.messagesStreamingError)), IDS);
    expect(span.status).toEqual({ code: 'error', message: 'Overloaded' });
    expect(span.attributes['error.type']).toBe('overloaded_error');
    expect(span.attributes['http.response.status_code']).toBe(200);
  });
});

describe('buildSpan edge cases', () => {
  const bareCall = (): LlmCall => ({
    provider: 'openai',
    operation: 'embeddings',
    stream: false,
    hasSystemPrompt: false,
    requestToolsUsed: false,
    finishReasons: [],
    responseToolCalls: 0,
    usage: { inputTokens: 8, outputTokens: 2 },
    inputMessages: [],
    outputMessages: [],
    systemInstructions: [],
    serverAddress: '',
    serverPort: 443,
    startTsMs: 1000.25,
    endTsMs: 1002.5,
    exchange: makeExchange({ path: '/v1/embeddings', requestBody: {} }),
  });

  it('names the span by operation alone when there is no model, and omits empty attributes', () => {
    const span = buildSpan(bareCall(), IDS);
    expect(span.name).toBe('embeddings');
    expect(span.attributes).not.toHaveProperty(['gen_ai.request.model']);
    expect(span.attributes).not.toHaveProperty(['gen_ai.response.finish_reason']);
    expect(span.attributes).not.toHaveProperty(['gen_ai.response.finish_reasons']);
    expect(span.attributes).not.toHaveProperty(['server.address']);
    expect(span.attributes).not.toHaveProperty(['gen_ai.input.messages']);
    expect(span.attributes['gen_ai.response.tools_used']).toBe(0);
  });

  it('derives the total when the provider gave only input and output', () => {
    expect(buildSpan(bareCall(), IDS).attributes['gen_ai.response.usage.total_tokens']).toBe(10);
  });

  it('keeps sub-millisecond timestamps', () => {
    const span = buildSpan(bareCall(), IDS);
    expect(span.startTimeUnixNano).toBe(1_000_250_000n);
    expect(span.endTimeUnixNano).toBe(1_002_500_000n);
  });

  it('draws random W3C-sized ids when none are given', () => {
    const first = buildSpan(bareCall());
    const second = buildSpan(bareCall());
    expect(first.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(first.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(first.traceId).not.toBe(second.traceId);
  });
});
