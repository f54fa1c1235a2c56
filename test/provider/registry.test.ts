import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathSegmentHash, pathSegmentKey } from '../../sensor/capture/path-segment-key';
import { findAdapter, isLlmRequestHead, lastPathSegment, llmAuthorityMatcher, llmPathSegments, providerAdapters } from '../../sensor/provider/registry';
import { makeExchange } from '../support/exchange-fixture';

const head = (path: string, method = 'POST') => ({ method, path, authority: 'example.com', headers: {} });

describe('isLlmRequestHead', () => {
  it.each([
    '/v1/chat/completions',
    '/v1/responses',
    '/v1/embeddings',
    '/v1/completions',
    '/openai/deployments/gpt/chat/completions?api-version=2024-10-21',
    '/api/chat',
    '/api/generate',
    '/v1/messages',
    '/v1/messages?beta=true',
    '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke',
    '/model/amazon.nova-lite-v1%3A0/invoke-with-response-stream',
    '/model/meta.llama3-8b-instruct-v1%3A0/converse',
    '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku/converse-stream',
  ])('buffers %s', (path) => {
    expect(isLlmRequestHead(head(path))).toBe(true);
  });

  it.each(['/v1/models', '/healthz', '/api/tags', '/v1/messages/count_tokens', '/model/x/other', '/'])('skips %s', (path) => {
    expect(isLlmRequestHead(head(path))).toBe(false);
  });

  it('skips non-POST requests to LLM paths', () => {
    expect(isLlmRequestHead(head('/v1/chat/completions', 'GET'))).toBe(false);
  });
});

describe('findAdapter', () => {
  const adapterFor = (path: string) =>
    findAdapter(makeExchange({ path, requestBody: {}, status: 200, responseBody: {} }))?.name;

  it('registers one adapter per provider', () => {
    expect(providerAdapters.map((adapter) => adapter.name).sort()).toEqual(['anthropic', 'aws.bedrock', 'openai']);
  });

  it('picks the adapter that owns the path', () => {
    expect(adapterFor('/v1/chat/completions')).toBe('openai');
    expect(adapterFor('/openai/deployments/d/chat/completions?api-version=1')).toBe('openai');
    expect(adapterFor('/v1/messages')).toBe('anthropic');
    expect(adapterFor('/model/amazon.nova-pro-v1%3A0/converse')).toBe('aws.bedrock');
    expect(adapterFor('/v1/files')).toBeUndefined();
  });
});

describe('findAdapter answers as the adapters recognise exchanges', () => {
  const paths = [
    '/v1/chat/completions', '/v1/messages', '/v1/messages?beta=true', '/model/amazon.nova-pro-v1%3A0/converse', '/model/x/invoke',
    '/openai/deployments/d/chat/completions?api-version=1', '/openai/responses', '/openai/responses?api-version=preview', '/api/chat',
    '/v1/files', '/v1/models', '/', '/v1/messages/count_tokens', '/proxy/v1/embeddings', '/chat/completions#frag',
    // Paths too long to be remembered are judged all the same.
    `/proxy/${'p'.repeat(2000)}/v1/chat/completions`, `/v1/chat/completions?pad=${'q'.repeat(2000)}`, `/${'x'.repeat(2000)}`,
  ];
  it.each(['POST', 'post', 'GET', 'PUT'].flatMap((method) => paths.map((path) => [method, path])))('%s %s', (method, path) => {
    const exchange = makeExchange({ method, path, requestBody: {}, status: 200, responseBody: {} });
    // Asked twice: the second answer comes from what was remembered for the path.
    for (let ask = 0; ask < 2; ask++) expect(findAdapter(exchange)).toBe(providerAdapters.find((adapter) => adapter.recognises(exchange)));
  });
});

describe('the kernel filter for HTTP/1.1 (last path segments)', () => {
  /** Every path form the adapters accept, with the prefixes, queries and encodings clients use. */
  const accepted = [
    ...['', '/openai', '/api', '/proxy/llm', '/litellm/team-a'].flatMap((prefix) =>
      ['chat/completions', 'completions', 'embeddings', 'responses'].map((api) => `${prefix}/v1/${api}`),
    ),
    '/chat/completions',
    '/embeddings',
    '/openai/deployments/my-gpt-4o/chat/completions?api-version=2024-10-21',
    '/openai/deployments/emb%20ed/embeddings?api-version=2024-10-21',
    '/openai/responses?api-version=preview',
    '/openai/v1/chat/completions?api-version=preview',
    '/api/chat',
    '/api/generate',
    '/api/embed',
    '/api/embeddings',
    '/v1/messages',
    '/v1/messages?beta=true',
    '/anthropic/v1/messages',
    ...['invoke', 'invoke-with-response-stream', 'converse', 'converse-stream'].flatMap((action) => [
      `/model/anthropic.claude-3-haiku-20240307-v1%3A0/${action}`,
      `/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku/${action}`,
      `/model/us.amazon.nova-lite-v1:0/${action}/`,
    ]),
  ];

  it.each(accepted)('%s ends in a segment the kernel follows', (path) => {
    expect(isLlmRequestHead(head(path))).toBe(true);
    expect(llmPathSegments).toContain(lastPathSegment(path));
  });

  it('covers every LLM path the provider fixtures and end-to-end tests use', () => {
    const roots = [path.join(__dirname, 'fixtures'), path.join(__dirname, '..', 'e2e'), path.join(__dirname, '..', 'support')];
    const files = roots.flatMap((root) => fs.readdirSync(root).filter((name) => /\.(ts|js|py)$/.test(name)).map((name) => path.join(root, name)));
    const paths = new Set<string>();
    for (const file of files) for (const match of fs.readFileSync(file, 'utf8').matchAll(/['"`](\/(?:v1|api|model|openai)\/[^'"`\s$]*)['"`]/g)) paths.add(match[1]);
    const llmPaths = [...paths].filter((candidate) => isLlmRequestHead(head(candidate)));
    expect(llmPaths.length).toBeGreaterThanOrEqual(5);
    for (const candidate of llmPaths) expect([candidate, llmPathSegments.includes(lastPathSegment(candidate))]).toEqual([candidate, true]);
  });

  it('reads the last non-empty segment, before any query or fragment', () => {
    expect(lastPathSegment('/v1/chat/completions?x=/y')).toBe('completions');
    expect(lastPathSegment('/model/m/invoke/')).toBe('invoke');
    expect(lastPathSegment('/api/chat#frag')).toBe('chat');
    expect(lastPathSegment('/')).toBe('');
  });

  it('hashes segments as the BPF program does (FNV-1a, 64-bit, little-endian key)', () => {
    // Reference values of FNV-1a 64 for these inputs.
    expect(pathSegmentHash('')).toBe(0xcbf29ce484222325n);
    expect(pathSegmentHash('a')).toBe(0xaf63dc4c8601ec8cn);
    expect(pathSegmentHash('foobar')).toBe(0x85944171f73967e8n);
    expect(pathSegmentKey('a')).toEqual(Buffer.from('8cec01864cdc63af', 'hex'));
    expect(() => pathSegmentKey('chat/completions')).toThrow(/single path segment/);
  });
});

describe('LLM API hosts (HTTP/2 connections followed whole)', () => {
  const matches = llmAuthorityMatcher(['llm.internal:8443', '*.inference.example']);
  it.each(['api.openai.com', 'api.openai.com:443', 'API.ANTHROPIC.COM', 'bedrock-runtime.us-east-1.amazonaws.com', 'my-res.openai.azure.com', 'llm.internal:8443', 'gpu-1.inference.example'])(
    'follows %s',
    (authority) => expect(matches(authority)).toBe(true),
  );
  it.each(['', 'example.com', 'api.openai.com.evil.net', 'bedrock.us-east-1.amazonaws.com', 'llm.internal', 'llm.internal:9000', 'inference.example'])('not %s', (authority) =>
    expect(matches(authority)).toBe(false),
  );
});
