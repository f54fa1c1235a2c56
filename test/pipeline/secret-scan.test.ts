/**
 * The native candidate scan (Vectorscan, in the addon) only decides where the secret regex is tried: scrubbing with
 * it must give exactly what one regex pass over the whole text gives, for every text.
 */
import { scrubByRegex, scrubSecrets, scrubSecretsRemembered, secretScanIsNative } from '../../sensor/pipeline/privacy/secrets';
import { FAKE, ORDINARY_COMMAND_LINES, ORDINARY_TEXT, SECRET_COMMAND_LINES, SECRET_PAYLOADS } from './secret-corpus';

const corpus = [
  ...SECRET_PAYLOADS.map((entry) => entry.text),
  ...SECRET_COMMAND_LINES.map((entry) => entry.argv.join(' ')),
  ...ORDINARY_TEXT,
  ...ORDINARY_COMMAND_LINES.map((argv) => argv.join(' ')),
];

test('the native scan is what runs here (the addon is built), so the tests below compare two real paths', () => {
  expect(secretScanIsNative()).toBe(true);
});

test('the corpus scrubs the same through the native scan and through one regex pass', () => {
  for (const text of corpus) {
    // Long enough for the native path, and as JSON inside JSON, as prompts are carried.
    for (const variant of [text.padEnd(80, ' '), JSON.stringify({ messages: [{ role: 'user', content: text }] }), `prefix ${'x'.repeat(70)} ${text}`]) {
      expect([variant, scrubSecrets(variant)]).toEqual([variant, scrubByRegex(variant, '<redacted>')]);
    }
  }
});

/** Deterministic pseudo-random texts built from the pieces secrets are made of, in every combination. */
function* fuzzTexts(count: number): Generator<string> {
  const pieces = [
    'token', 'TOKEN', 'Api-Key', 'apikey', 'secret', 'passw', 'password', 'passphrase', 'auth', 'Authorization', 'author', 'bearer', 'cookie',
    'signature', 'credential', 'key', 'max_tokens', '--token', '--api-key', '-H', ' ', '  ', '\t', '\n', '=', ': ', ':', '"', "'", '\\"', ',',
    '{', '}', '[', ']', '(', '?key=', '&sig=', 'https://user:', '@host/', '://', 'sk-', 'sk-proj-', 'AKIA', 'ASIA', 'eyJ', '.eyJ', '-----BEGIN',
    ' PRIVATE KEY-----', '-----END RSA PRIVATE KEY-----', 'ghp_', 'xoxb-', 'AIza', 'hf_', 'dapi', 'risk-free', '-sk-', 'abc123DEF456ghi789',
    FAKE.openaiProjectKey, FAKE.awsKeyId, FAKE.awsSecret, 'wJalrXUtnFEMI/K7MDENG', '0123456789abcdef0123456789abcdef', 'é', '日本', '🎉',
  ];
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let i = 0; i < count; i++) {
    let text = '';
    const length = 5 + (next() % 40);
    for (let j = 0; j < length; j++) text += pieces[next() % pieces.length];
    yield text.length < 64 ? text.padEnd(64 + (next() % 20), 'x') : text;
  }
}

test('random texts made of secret-shaped pieces scrub the same both ways', () => {
  let scrubbed = 0;
  for (const text of fuzzTexts(5000)) {
    const native = scrubSecrets(text);
    expect([text, native]).toEqual([text, scrubByRegex(text, '<redacted>')]);
    if (native !== text) scrubbed++;
  }
  // The fuzz reaches the scrubbing paths, not only texts with nothing to scrub.
  expect(scrubbed).toBeGreaterThan(1000);
});

describe('short texts found clean are remembered, never a text that holds a secret', () => {
  test('a short secret is scrubbed every time it comes back, and a clean text comes back as the same string', () => {
    const secret = 'key=sk-proj-A1b2C3d4E5f6G7h8I9';
    for (let round = 0; round < 3; round++) expect(scrubSecretsRemembered(secret)).toBe(scrubSecrets(secret));
    expect(scrubSecretsRemembered(secret)).not.toContain('sk-proj-A1b2C3d4E5f6G7h8I9');
    const clean = 'gpt-4o-mini-2024-07-18';
    expect(scrubSecretsRemembered(clean)).toBe(clean);
    expect(scrubSecretsRemembered(clean)).toBe(clean);
  });

  test('long texts are scanned each time, as before', () => {
    const long = `${'x'.repeat(80)} Authorization: Bearer sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345`;
    expect(scrubSecretsRemembered(long)).toBe(scrubSecrets(long));
    expect(scrubSecretsRemembered(long)).not.toContain('sk-ant-api03');
  });
});
