import { privacyConfigSchema } from '../../sensor/pipeline/privacy/config';
import { parseJsonPath } from '../../sensor/pipeline/privacy/json-path';
import { scrubCommandLine } from '../../sensor/pipeline/privacy/command-line';
import { PrivacyStage } from '../../sensor/pipeline/privacy/privacy-stage';
import { dropCredentialAttributes, passesLuhn, Redactor } from '../../sensor/pipeline/privacy/redact';
import type { GenAiSpan } from '../../sensor/span/gen-ai-span';

const INPUT = [
  { role: 'user', parts: [{ type: 'text', content: 'My card is 4111 1111 1111 1111, mail me at jane.doe@example.com' }] },
  { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'lookup_order', arguments: { order: 'A-17', email: 'jane.doe@example.com' } }] },
  { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'shipped' }] },
];
const OUTPUT = [{ role: 'assistant', parts: [{ type: 'text', content: 'Your order A-17 has shipped.' }], finish_reason: 'stop' }];
const SYSTEM = [{ type: 'text', content: 'You are the support bot of Example Ltd.' }];

function llmSpan(extra: GenAiSpan['attributes'] = {}): GenAiSpan {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    name: 'chat gpt-4o',
    kind: 'client',
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_000_850_000_000n,
    attributes: {
      'gen_ai.system': 'openai',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 14,
      'gen_ai.response.usage.total_tokens': 134,
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.response.finish_reason': 'stop',
      'gen_ai.input.messages': JSON.stringify(INPUT),
      'gen_ai.output.messages': JSON.stringify(OUTPUT),
      'gen_ai.system_instructions': JSON.stringify(SYSTEM),
      'server.address': 'api.openai.com',
      ...extra,
    },
    resource: { 'process.pid': 42 },
    status: { code: 'unset' },
    source: 'ebpf',
  };
}

const METADATA_KEYS = [
  'gen_ai.system', 'gen_ai.provider.name', 'gen_ai.request.model', 'gen_ai.response.model', 'gen_ai.usage.input_tokens',
  'gen_ai.usage.output_tokens', 'gen_ai.response.usage.total_tokens', 'gen_ai.response.finish_reasons', 'gen_ai.response.finish_reason', 'server.address',
];

describe('privacy config', () => {
  it('is off by default: payloads pass unchanged', () => {
    const config = privacyConfigSchema.parse({});
    expect(config.obfuscation).toMatchObject({ requestPrompts: false, responseContent: false, jsonPaths: [] });
    expect(config.redaction.enabled).toBe(false);
    const span = llmSpan();
    expect(new PrivacyStage().apply(span).attributes).toEqual(span.attributes);
  });

  it('rejects a malformed JSON path with a message naming it', () => {
    const result = privacyConfigSchema.safeParse({ obfuscation: { jsonPaths: ['parts.content'] } });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0].path).toEqual(['obfuscation', 'jsonPaths', 0]);
    expect(result.error!.issues[0].message).toContain('"parts.content" must start with "$"');
    expect(() => parseJsonPath('$[*].parts[')).toThrow(/expected "]"/);
  });
});

describe('obfuscation', () => {
  it('hides request prompts while model, tokens, finish reasons, roles and timing stay', () => {
    const span = llmSpan();
    const result = new PrivacyStage({ obfuscation: { requestPrompts: true } }).apply(span);
    for (const key of METADATA_KEYS) expect(result.attributes[key]).toEqual(span.attributes[key]);
    expect(result.startTimeUnixNano).toBe(span.startTimeUnixNano);
    expect(result.endTimeUnixNano).toBe(span.endTimeUnixNano);

    expect(JSON.parse(result.attributes['gen_ai.input.messages'] as string)).toEqual([
      { role: 'user', parts: [{ type: 'text', content: '<obfuscated>' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'lookup_order', arguments: '<obfuscated>' }] },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: '<obfuscated>' }] },
    ]);
    expect(JSON.parse(result.attributes['gen_ai.system_instructions'] as string)).toEqual([{ type: 'text', content: '<obfuscated>' }]);
    expect(result.attributes['gen_ai.output.messages']).toBe(span.attributes['gen_ai.output.messages']);
    expect(JSON.stringify(result.attributes)).not.toContain('jane.doe');
  });

  it('hides response content only when asked', () => {
    const result = new PrivacyStage({ obfuscation: { responseContent: true, marker: '***' } }).apply(llmSpan());
    expect(JSON.parse(result.attributes['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: '***' }], finish_reason: 'stop' },
    ]);
    expect(result.attributes['gen_ai.input.messages']).toBe(JSON.stringify(INPUT));
  });

  it('hides only the listed JSON paths', () => {
    const stage = new PrivacyStage({ obfuscation: { jsonPaths: ['$[*].parts[*].arguments', "$[0]['parts'][0].content", '$..response'] } });
    const result = stage.apply(llmSpan());
    const input = JSON.parse(result.attributes['gen_ai.input.messages'] as string);
    expect(input[0].parts[0].content).toBe('<obfuscated>');
    expect(input[1].parts[0]).toEqual({ type: 'tool_call', id: 'call_1', name: 'lookup_order', arguments: '<obfuscated>' });
    expect(input[2].parts[0].response).toBe('<obfuscated>');
    // $[0].parts[0].content also matches the output document's first message.
    expect(JSON.parse(result.attributes['gen_ai.output.messages'] as string)[0].parts[0].content).toBe('<obfuscated>');
    expect(JSON.parse(result.attributes['gen_ai.output.messages'] as string)[0].finish_reason).toBe('stop');
    // The system instructions document has no such paths and is untouched.
    expect(result.attributes['gen_ai.system_instructions']).toBe(JSON.stringify(SYSTEM));
  });

  it('hides a content attribute that is not JSON whole, and legacy indexed prompt attributes', () => {
    const span = llmSpan({ 'gen_ai.input.messages': 'raw prompt text', 'gen_ai.prompt.0.content': 'secret plan', 'gen_ai.prompt.0.role': 'user' });
    const result = new PrivacyStage({ obfuscation: { requestPrompts: true } }).apply(span);
    expect(result.attributes['gen_ai.input.messages']).toBe('<obfuscated>');
    expect(result.attributes['gen_ai.prompt.0.content']).toBe('<obfuscated>');
    expect(result.attributes['gen_ai.prompt.0.role']).toBe('user');
  });

  it('hides content attributes that instrumented apps send over OTLP', () => {
    const span = llmSpan({
      'gen_ai.tool.call.arguments': '{"iban":"DE89370400440532013000"}',
      'gen_ai.tool.call.result': 'balance is 1200 EUR',
      'gen_ai.tool.name': 'get_balance',
      'traceloop.entity.input': '{"question":"why was I fired?"}',
      'traceloop.entity.output': '{"answer":"performance"}',
      'traceloop.entity.name': 'hr_agent',
      'llm.prompt_template.template': 'Answer {question} kindly',
      'llm.prompt_template.variables': '{"question":"why was I fired?"}',
      'llm.prompt_template.version': 'v3',
      'tool.parameters': '{"iban":"DE89370400440532013000"}',
      'embedding.embeddings.0.embedding.text': 'my diagnosis',
      'retrieval.documents.0.document.content': 'salary table',
    });
    const requestOnly = new PrivacyStage({ obfuscation: { requestPrompts: true } }).apply(span).attributes;
    for (const key of ['gen_ai.tool.call.arguments', 'gen_ai.tool.call.result', 'traceloop.entity.input', 'llm.prompt_template.template',
      'llm.prompt_template.variables', 'tool.parameters', 'embedding.embeddings.0.embedding.text', 'retrieval.documents.0.document.content']) {
      expect([key, requestOnly[key]]).toEqual([key, '<obfuscated>']);
    }
    expect(requestOnly['traceloop.entity.output']).toBe('{"answer":"performance"}');
    expect(requestOnly).toMatchObject({ 'gen_ai.tool.name': 'get_balance', 'traceloop.entity.name': 'hr_agent', 'llm.prompt_template.version': 'v3' });

    const responseOnly = new PrivacyStage({ obfuscation: { responseContent: true } }).apply(span).attributes;
    for (const key of ['gen_ai.tool.call.arguments', 'gen_ai.tool.call.result', 'traceloop.entity.output']) {
      expect([key, responseOnly[key]]).toEqual([key, '<obfuscated>']);
    }
    expect(responseOnly['traceloop.entity.input']).toBe('{"question":"why was I fired?"}');
  });

  it('hides what is nested too deep to walk instead of failing the span (listed paths)', () => {
    const depth = 20_000;
    const deep = `${'['.repeat(depth)}{"secret":"buried"}${']'.repeat(depth)}`;
    const messages = `[{"role":"user","parts":[{"type":"text","content":"hello","extra":${deep}}]}]`;
    const stage = new PrivacyStage({ obfuscation: { jsonPaths: ['$..secret'] } });
    const result = stage.apply(llmSpan({ 'gen_ai.input.messages': messages }));
    const input = JSON.parse(result.attributes['gen_ai.input.messages'] as string);
    expect(input[0].parts[0].content).toBe('hello');
    expect(JSON.stringify(input)).toContain('<obfuscated>');
    expect(JSON.stringify(input)).not.toContain('buried');
  });
});

describe('redaction', () => {
  const redactor = new Redactor();

  it.each([
    ['an email address', 'contact jane.doe+llm@mail.example.co.uk today', 'contact <redacted> today'],
    ['a Visa test number with spaces', 'card 4111 1111 1111 1111 ok', 'card <redacted> ok'],
    ['a Mastercard test number with dashes', 'card 5555-5555-5555-4444', 'card <redacted>'],
    ['a grouped card number followed by its expiry', 'card 4242 4242 4242 4242 12/26 ok', 'card <redacted> 12/26 ok'],
    ['a card number followed by its CVC', 'pay with 4111111111111111 123 now', 'pay with <redacted> 123 now'],
    ['a card number after another number', 'order 77 5555 5555 5555 4444', 'order 77 <redacted>'],
    ['an OpenAI project key', 'key=sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345 end', 'key=<redacted> end'],
    ['an Anthropic key', 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-wxyz_0123', '<redacted>'],
    ['an AWS access key id', 'id AKIAIOSFODNN7EXAMPLE in config', 'id <redacted> in config'],
    ['a Bearer token', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig', 'Authorization: <redacted>'],
    ['a long hex secret', 'token 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'token <redacted>'],
    ['an AWS secret access key shape', 'secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY99', 'secret <redacted>'],
  ])('redacts %s', (_what, text, expected) => {
    expect(redactor.redactText(text)).toBe(expected);
  });

  it.each([
    ['a Luhn-invalid 16-digit number', 'order 4111 1111 1111 1112 placed'],
    ['a list of small numbers whose digits pass Luhn when run together', 'scores 12 7 31 45 8 19 22 64 3 17 90 41 28 55 6 73 11 38'],
    ['a long unbroken id', 'snowflake 1541815603606036480 and order 20260110000012345678'],
    ['a plain count', 'used 1234 tokens in 12 requests'],
    ['a timestamp', '2026-01-10T09:00:05Z'],
    ['an at sign without a domain', 'ping @channel or me@localhost'],
    ['a long ordinary word run', 'pneumonoultramicroscopicsilicovolcanoconiosis-and-more-words-here'],
    ['a short hex id', 'fp_44709d6fcb'],
    ['sk- followed by a short word', 'risk-free sk-learn'],
  ])('keeps %s', (_what, text) => {
    expect(redactor.redactText(text)).toBe(text);
  });

  it('checks Luhn', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
    expect(passesLuhn('79927398713')).toBe(true);
  });

  it('redacts inside JSON message documents without breaking them, and keeps identifiers and numbers', () => {
    const span = llmSpan({
      'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'line one\njane@example.com\n4111111111111111' }] }]),
      'gen_ai.response.id': 'chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
      'custom.tags': ['ok', 'reach me at bob@example.org'],
    });
    const result = new PrivacyStage({ redaction: { enabled: true } }).apply(span);
    expect(JSON.parse(result.attributes['gen_ai.input.messages'] as string)[0].parts[0].content).toBe('line one\n<redacted>\n<redacted>');
    expect(result.attributes['custom.tags']).toEqual(['ok', 'reach me at <redacted>']);
    expect(result.attributes['gen_ai.response.id']).toBe('chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789');
    expect(result.attributes['gen_ai.usage.input_tokens']).toBe(120);
    expect(result.attributes['gen_ai.request.model']).toBe('gpt-4o');
  });

  it('redacts card numbers written as JSON numbers, and keeps other numbers', () => {
    const span = llmSpan({
      'gen_ai.input.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'tool_call', name: 'pay', arguments: { card: 4111111111111111, amount: 1250, order: 1234567890123 } }] }]),
      'app.card': 5555555555554444,
    });
    const result = new PrivacyStage({ redaction: { enabled: true } }).apply(span);
    expect(JSON.parse(result.attributes['gen_ai.input.messages'] as string)[0].parts[0].arguments).toEqual({ card: '<redacted>', amount: 1250, order: 1234567890123 });
    expect(result.attributes['app.card']).toBe('<redacted>');
    expect(result.attributes['gen_ai.usage.input_tokens']).toBe(120);
  });

  it('redacts string resource attributes too, but not container, host or pod ids', () => {
    const span = llmSpan();
    span.resource = {
      'process.pid': 42,
      'process.command_line': 'python notify.py --to jane.doe@example.com',
      'deployment.owner': 'bob@example.org',
      'container.id': '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'host.id': 'ec2d2f9e1e8f4f6c9a0b1c2d3e4f5a6b',
      'k8s.pod.uid': '11111111-2222-3333-4444-555555555555',
    };
    const resource = new PrivacyStage({ redaction: { enabled: true } }).apply(span).resource;
    expect(resource).toEqual({
      ...span.resource,
      'process.command_line': 'python notify.py --to <redacted>',
      'deployment.owner': '<redacted>',
    });
  });

  it('still redacts leaf by leaf in a JSON document nested too deep to walk', () => {
    const depth = 20_000;
    // The escaped @ hides the address from plain-text matching: only a parsed document shows it.
    const messages = `[{"role":"user","parts":[{"type":"text","content":"mail jane\\u0040example.com","extra":${'['.repeat(depth)}1${']'.repeat(depth)}}]}]`;
    const result = new PrivacyStage({ redaction: { enabled: true } }).apply(llmSpan({ 'gen_ai.input.messages': messages }));
    const input = JSON.parse(result.attributes['gen_ai.input.messages'] as string);
    expect(input[0].parts[0].content).toBe('mail <redacted>');
    expect(JSON.stringify(input)).toContain('<redacted>');
  });

  it('uses only the configured patterns', () => {
    const emailsOnly = new Redactor(['email']);
    expect(emailsOnly.redactText('a@b.io 4111111111111111')).toBe('<redacted> 4111111111111111');
  });

  it('scrubs credential flags and key shapes from command lines', () => {
    expect(scrubCommandLine('python app.py --api-key sk-abcdefghijklmnopqrstuvwx --port 8080 --db-password=hunter2'))
      .toBe('python app.py --api-key <redacted> --port 8080 --db-password=<redacted>');
    expect(scrubCommandLine('node server.js --port 3000')).toBe('node server.js --port 3000');
  });
});

describe('credential attributes', () => {
  const attributes = {
    'http.request.header.authorization': ['Bearer sk-live'],
    'http.request.header.x-api-key': ['sk-ant-key'],
    'http.request.header.api-key': ['azure-key'],
    'http.request.header.cookie': ['session=1'],
    'http.request.header.x-amz-security-token': ['token'],
    'http.request.header.proxy-authorization': ['Basic abc'],
    'HTTP.REQUEST.HEADER.X_API_KEY': ['other-spelling'],
    'http.response.header.set-cookie': ['session=2'],
    'http.request.header.content-type': ['application/json'],
    'http.request.header.x-amz-target': ['BedrockRuntime.Converse'],
    'url.full': 'https://user:pw@example.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01&api-key=abc',
    'url.query': 'key=AIzaSecret&alt=sse',
    'gen_ai.request.model': 'gpt-4o',
  };

  it('are dropped by dropCredentialAttributes', () => {
    expect(dropCredentialAttributes(attributes)).toEqual({
      'http.request.header.content-type': ['application/json'],
      'http.request.header.x-amz-target': ['BedrockRuntime.Converse'],
      'url.full': 'https://example.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01',
      'url.query': 'alt=sse',
      'gen_ai.request.model': 'gpt-4o',
    });
  });

  it('are dropped even with privacy off, from span and resource attributes', () => {
    const span = llmSpan(attributes);
    span.resource['http.request.header.authorization'] = ['Bearer x'];
    const result = new PrivacyStage({}).apply(span);
    expect(Object.keys(result.attributes).filter((key) => /authorization|api-key|api_key|cookie|security-token/i.test(key))).toEqual([]);
    expect(result.resource).toEqual({ 'process.pid': 42 });
    expect(JSON.stringify([result.attributes, result.resource])).not.toMatch(/sk-live|sk-ant-key|azure-key|api-key=abc|AIzaSecret|user:pw/);
  });
});

test('tool results the sensor captured are obfuscated with the request prompts', async () => {
  const { toolCallResponsePart } = await import('../../sensor/provider/content');
  const { PrivacyStage } = await import('../../sensor/pipeline/privacy/privacy-stage');
  const messages = JSON.stringify([{ role: 'tool', parts: [toolCallResponsePart('call_9', 'account 12345 is overdrawn')] }]);
  const span = {
    traceId: '0'.repeat(32), spanId: '0'.repeat(16), name: 'chat m', kind: 'client' as const, startTimeUnixNano: 0n, endTimeUnixNano: 1n,
    attributes: { 'gen_ai.input.messages': messages }, resource: {}, status: { code: 'unset' as const }, source: 'ebpf' as const,
  };
  const out = new PrivacyStage({ obfuscation: { requestPrompts: true } }).apply(span);
  expect(String(out.attributes['gen_ai.input.messages'])).not.toContain('overdrawn');
  expect(JSON.parse(String(out.attributes['gen_ai.input.messages']))[0].parts[0]).toMatchObject({ type: 'tool_call_response', id: 'call_9' });
});
