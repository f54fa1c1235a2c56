import { findAdapter, isLlmRequestHead, providerAdapters } from '../../sensor/provider/registry';
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
