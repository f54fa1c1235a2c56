/**
 * Secrets never leave the sensor, whatever the privacy config: command lines, prompts and responses, and attributes
 * received over OTLP all go through the always-on scrubbing. Proven over the corpus in secret-corpus.ts, through the
 * privacy stage with no configuration at all, and checked the other way: ordinary text comes out unchanged.
 */
import { scrubCommandArgs, scrubCommandLine } from '../../sensor/pipeline/privacy/command-line';
import { PrivacyStage } from '../../sensor/pipeline/privacy/privacy-stage';
import { credentialNameStrength, scrubSecrets } from '../../sensor/pipeline/privacy/secrets';
import type { Attributes, GenAiSpan } from '../../sensor/span/gen-ai-span';
import { FAKE, ORDINARY_COMMAND_LINES, ORDINARY_TEXT, SECRET_COMMAND_LINES, SECRET_PAYLOADS } from './secret-corpus';

function span(attributes: Attributes, resource: Attributes = {}, statusMessage?: string): GenAiSpan {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', name: 'chat gpt-4o', kind: 'client',
    startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes, resource,
    status: statusMessage === undefined ? { code: 'unset' } : { code: 'error', message: statusMessage },
    source: 'otlp',
  };
}

/** A secret as it appears in the text, and as it appears once that text is a JSON string (escapes included). */
function spellings(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), JSON.stringify(JSON.stringify(secret).slice(1, -1)).slice(1, -1)];
}

function leaked(output: string, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => spellings(secret).some((spelling) => output.includes(spelling)));
}

/** The text of every message part in a GenAI message document. */
function contents(document: unknown): string[] {
  return (JSON.parse(String(document)) as Array<{ parts: Array<{ content?: string }> }>).flatMap((message) => message.parts.map((part) => part.content ?? ''));
}

describe('secrets in command lines (corpus)', () => {
  it.each(SECRET_COMMAND_LINES.map((entry) => [entry.what, entry] as const))('%s', (_what, entry) => {
    const joined = scrubCommandLine(entry.argv.join(' '));
    const args = scrubCommandArgs(entry.argv);
    expect({ joined: leaked(joined, entry.secrets), args: leaked(JSON.stringify(args), entry.secrets) }).toEqual({ joined: [], args: [] });
    for (const kept of entry.kept) expect([kept, joined.includes(kept), args.join(' ').includes(kept)]).toEqual([kept, true, true]);

    // As an instrumented app sends them over OTLP, with no privacy config.
    const resource = new PrivacyStage({}).apply(span({}, { 'process.command_line': entry.argv.join(' '), 'process.command_args': entry.argv })).resource;
    expect(leaked(JSON.stringify(resource), entry.secrets)).toEqual([]);
  });

  it.each(ORDINARY_COMMAND_LINES.map((argv) => [argv.join(' '), argv] as const))('keeps %s', (joined, argv) => {
    expect(scrubCommandLine(joined)).toBe(joined);
    expect(scrubCommandArgs(argv)).toEqual(argv);
  });
});

describe('secrets in prompts, responses and OTLP attributes, with no privacy config (corpus)', () => {
  const stage = new PrivacyStage({});

  it.each(SECRET_PAYLOADS.map((entry) => [entry.what, entry] as const))('%s', (_what, entry) => {
    const input = span(
      {
        'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: entry.text }] }]),
        'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: entry.text }], finish_reason: 'stop' }]),
        'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: entry.text }]),
        // Dialects instrumented apps send: OpenLLMetry, OpenInference, and an app's own attribute.
        'gen_ai.prompt.0.content': entry.text,
        'input.value': entry.text,
        'app.notes': [entry.text, 'ok'],
      },
      { 'service.name': 'agent', 'deployment.notes': entry.text },
      entry.text,
    );
    const output = stage.apply(input);
    expect(leaked(JSON.stringify(output, (_key, value) => (typeof value === 'bigint' ? String(value) : value)), entry.secrets)).toEqual([]);
    // The documents are still valid JSON and keep the text around the secrets.
    for (const key of ['gen_ai.input.messages', 'gen_ai.output.messages']) {
      const [content] = contents(output.attributes[key]);
      for (const kept of entry.kept) expect([key, kept, content.includes(kept)]).toEqual([key, kept, true]);
    }
    expect(JSON.parse(String(output.attributes['gen_ai.system_instructions']))).toHaveLength(1);
    expect(output.attributes['gen_ai.output.messages']).toContain('"finish_reason":"stop"');
    expect(output.resource['service.name']).toBe('agent');
    expect(input.attributes['input.value']).toBe(entry.text); // the input span is not modified
  });

  it.each(ORDINARY_TEXT.map((text) => [text] as const))('keeps %s', (text) => {
    const attributes: Attributes = {
      'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: text }] }]),
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: text }] }]),
      'input.value': text,
      'app.tags': [text],
    };
    const output = new PrivacyStage({}).apply(span(attributes, { 'deployment.notes': text }, text));
    expect(output.attributes).toEqual(attributes);
    expect(output.status.message).toBe(text);
    expect(output.resource['deployment.notes']).toBe(text);
  });
});

describe('attributes named like credentials, as instrumented apps send them', () => {
  it('hides their whole value, and keeps token counts, token types and names of secrets', () => {
    const attributes: Attributes = {
      'app.openai_api_key': 'abc123',
      'db.password': 'hunter2',
      'aws.secret_access_key': 'short',
      'http.request.header.x-auth-token': ['t1'],
      'app.wandb_key': FAKE.wandbKey,
      'app.sort_key': 'created_at',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.request.max_tokens': 256,
      'gen_ai.token.type': 'input',
      'llm.token_count.prompt': 12,
      'k8s.secret.name': 'openai-credentials',
      'app.token_budget': '8k',
    };
    expect(new PrivacyStage({}).apply(span(attributes)).attributes).toEqual({
      ...attributes,
      'app.openai_api_key': '<redacted>',
      'db.password': '<redacted>',
      'aws.secret_access_key': '<redacted>',
      'http.request.header.x-auth-token': ['<redacted>'],
      'app.wandb_key': '<redacted>',
    });
  });

  it.each([
    ['awsSecret', 'strong'], ['awsKeyId', 'strong'], ['AWS_SESSION_TOKEN', 'strong'], ['x-api-key', 'strong'], ['private_key_id', 'strong'],
    ['Authorization', 'strong'], ['PGPASSWORD', 'strong'], ['SharedAccessKey', 'strong'], ['oauth2-bearer', 'strong'], ['client_secret', 'strong'],
    ['WANDB_KEY', 'weak'], ['sort_key', 'weak'],
    ['max_tokens', undefined], ['gen_ai.token.type', undefined], ['token_count', undefined], ['secret_name', undefined], ['token-file', undefined],
    ['password-stdin', undefined], ['author', undefined], ['key', undefined], ['tokenizer', undefined], ['keynote', undefined],
  ])('judges the name %s as %s', (name, strength) => {
    expect(credentialNameStrength(name)).toBe(strength);
  });
});

describe('scrubSecrets', () => {
  it('returns the very same string when there is nothing to scrub', () => {
    const prose = ORDINARY_TEXT.join('\n').repeat(50);
    expect(scrubSecrets(prose)).toBe(prose);
  });

  it.each(['base64', 'base64url', 'hex'] as const)('keeps a long %s blob (an image in a prompt) unchanged', (encoding) => {
    // Random-looking but the same on every run (xorshift32): key words such as `key` and `auth` turn up in it.
    const bytes = Buffer.alloc(256 * 1024);
    let state = 2463534242;
    for (let i = 0; i < bytes.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      bytes[i] = state & 0xff;
    }
    const document = JSON.stringify({ type: 'image', data: bytes.toString(encoding) });
    expect(scrubSecrets(document)).toBe(document);
  });

  it('keeps JSON valid at any depth of escaping', () => {
    const document = { note: JSON.stringify({ inner: JSON.stringify({ password: FAKE.password, awsSecret: FAKE.awsSecret }) }), apiKey: FAKE.openaiProjectKey };
    const scrubbed = scrubSecrets(JSON.stringify(document));
    const parsed = JSON.parse(scrubbed);
    expect(JSON.parse(JSON.parse(parsed.note).inner)).toEqual({ password: '<redacted>', awsSecret: '<redacted>' });
    expect(parsed.apiKey).toBe('<redacted>');
  });

  it('hides a private key cut short inside a JSON string without breaking the document', () => {
    const document = JSON.stringify({ content: `key: -----BEGIN OPENSSH PRIVATE KEY-----\n${FAKE.pemBody}`, more: 1 });
    expect(JSON.parse(scrubSecrets(document))).toEqual({ content: 'key: <redacted>', more: 1 });
  });

  it('uses the marker it is given', () => {
    expect(scrubSecrets(`token=${FAKE.githubToken}`, '***')).toBe('token=***');
  });
});
