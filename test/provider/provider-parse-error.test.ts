import { ProviderParseError } from '../../sensor/provider/llm-call';

test('ProviderParseError names the provider, takes no stack trace, and leaves the stack trace limit as it was', () => {
  const before = Error.stackTraceLimit;
  const error = new ProviderParseError('openai', 'request body is not a JSON object');
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe('ProviderParseError');
  expect(error.provider).toBe('openai');
  expect(error.message).toBe('openai: request body is not a JSON object');
  expect(error.stack).toBe('ProviderParseError: openai: request body is not a JSON object');
  expect(Error.stackTraceLimit).toBe(before);
  expect(new Error('other').stack).toMatch(/\n\s+at /);
});
