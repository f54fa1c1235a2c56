/**
 * Mutated and random bodies through every adapter: only a valid LlmCall or a ProviderParseError may come out.
 * A seeded generator keeps failures reproducible; the failing seed and case are in the assertion message.
 */
import { ProviderParseError, type LlmCall, type ProviderAdapter } from '../../sensor/provider/llm-call';
import { anthropicAdapter } from '../../sensor/provider/anthropic';
import { bedrockAdapter } from '../../sensor/provider/bedrock';
import { openAiAdapter } from '../../sensor/provider/openai';
import { buildSpan } from '../../sensor/span/build-span';
import { makeExchange, toBuffer, type ExchangeSpec } from '../support/exchange-fixture';
import { allAnthropicFixtures } from './fixtures/anthropic-fixtures';
import { allOpenAiFixtures } from './fixtures/openai-fixtures';

const MUTATIONS_PER_FIXTURE = 150;

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)];

function randomJsonValue(random: Random, depth = 0): unknown {
  const kinds = depth > 2 ? ['null', 'number', 'string', 'boolean'] : ['null', 'number', 'string', 'boolean', 'array', 'object'];
  switch (pick(random, kinds)) {
    case 'null':
      return null;
    case 'number':
      return pick(random, [0, -1, 1.5, 1e308, -0, 42, Number.MAX_SAFE_INTEGER]);
    case 'string':
      return pick(random, ['', 'x', '[DONE]', '{"a":', '\u0000', 'stop']);
    case 'boolean':
      return random() < 0.5;
    case 'array':
      return Array.from({ length: Math.floor(random() * 3) }, () => randomJsonValue(random, depth + 1));
    default:
      return { type: pick(random, ['text', 'tool_use', 'message', 'error']), value: randomJsonValue(random, depth + 1) };
  }
}

/** Replaces one randomly chosen value anywhere in a JSON tree. */
function mutateTree(value: unknown, random: Random): unknown {
  if (random() < 0.15 || value === null || typeof value !== 'object') return randomJsonValue(random);
  if (Array.isArray(value)) {
    if (value.length === 0) return [randomJsonValue(random)];
    const copy = [...value];
    const index = Math.floor(random() * copy.length);
    copy[index] = mutateTree(copy[index], random);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return randomJsonValue(random);
  const key = pick(random, keys);
  if (random() < 0.2) delete copy[key];
  else copy[key] = mutateTree(copy[key], random);
  return copy;
}

function mutateBytes(body: Buffer, random: Random): Buffer {
  const bytes = Buffer.from(body);
  switch (pick(random, ['flip', 'truncate', 'insert', 'random'])) {
    case 'flip':
      for (let i = 0; i < 1 + random() * 8 && bytes.length > 0; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      return bytes;
    case 'truncate':
      return bytes.subarray(0, Math.floor(random() * bytes.length));
    case 'insert': {
      const at = Math.floor(random() * (bytes.length + 1));
      const noise = Buffer.from(pick(random, ['\n\n', 'data: ', '{', '"', '\u00ff', ']', 'null']));
      return Buffer.concat([bytes.subarray(0, at), noise, bytes.subarray(at)]);
    }
    default:
      return Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)));
  }
}

/** Structural mutation of a JSON body, or of each event's JSON in an SSE / NDJSON body. */
function mutateStructure(body: Buffer, random: Random): Buffer {
  const text = body.toString('utf8');
  try {
    return toBuffer(JSON.stringify(mutateTree(JSON.parse(text), random)));
  } catch {
    const lines = text.split('\n').map((line) => {
      const prefix = line.startsWith('data: ') ? 'data: ' : '';
      try {
        const parsed = JSON.parse(line.slice(prefix.length));
        return random() < 0.5 ? prefix + JSON.stringify(mutateTree(parsed, random)) : line;
      } catch {
        return line;
      }
    });
    return toBuffer(lines.join('\n'));
  }
}

function mutateSpec(spec: ExchangeSpec, random: Random): ExchangeSpec {
  const target = random() < 0.5 ? 'request' : 'response';
  const original = toBuffer(target === 'request' ? spec.requestBody : spec.responseBody ?? '');
  const mutated = random() < 0.6 ? mutateStructure(original, random) : mutateBytes(original, random);
  const flags = { requestTruncated: random() < 0.2, responseTruncated: random() < 0.2, responseComplete: random() >= 0.2 };
  return target === 'request' ? { ...spec, ...flags, requestBody: mutated } : { ...spec, ...flags, responseBody: mutated };
}

/** A minimal Bedrock Converse exchange (shapes from the AWS API reference) so the Bedrock adapter is fuzzed too. */
const bedrockConverse: ExchangeSpec = {
  path: '/model/amazon.nova-lite-v1%3A0/converse',
  authority: 'bedrock-runtime.us-east-1.amazonaws.com',
  requestBody: { messages: [{ role: 'user', content: [{ text: 'Hello' }] }], system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 64, temperature: 0.2 } },
  status: 200,
  responseBody: {
    output: { message: { role: 'assistant', content: [{ text: 'Hi!' }] } },
    stopReason: 'end_turn',
    usage: { inputTokens: 7, outputTokens: 2, totalTokens: 9 },
    metrics: { latencyMs: 210 },
  },
};

const targets: Array<[string, ProviderAdapter, Record<string, ExchangeSpec>]> = [
  ['openai', openAiAdapter, allOpenAiFixtures],
  ['anthropic', anthropicAdapter, allAnthropicFixtures],
  ['aws.bedrock', bedrockAdapter, { bedrockConverse }],
];

function assertCallIsValid(call: LlmCall, context: string): void {
  expect({ context, provider: typeof call.provider, finishReasons: Array.isArray(call.finishReasons) }).toEqual({
    context,
    provider: 'string',
    finishReasons: true,
  });
  const span = buildSpan(call, { traceId: '0'.repeat(32), spanId: '0'.repeat(16) });
  for (const [name, value] of Object.entries(span.attributes)) {
    if (value === undefined || (typeof value === 'number' && !Number.isFinite(value))) {
      throw new Error(`${context}: attribute ${name} is ${String(value)}`);
    }
  }
}

describe.each(targets)('fuzzing the %s adapter', (provider, adapter, fixtures) => {
  it.each(Object.keys(fixtures))('survives mutations of %s', (name) => {
    const spec = fixtures[name];
    const seed = [...`${provider}/${name}`].reduce((hash, ch) => Math.imul(hash ^ ch.charCodeAt(0), 16777619), 2166136261);
    const random = seededRandom(seed);
    let parsed = 0;
    let rejected = 0;
    for (let round = 0; round < MUTATIONS_PER_FIXTURE; round++) {
      const context = `${provider}/${name} seed ${seed} round ${round}`;
      const exchange = makeExchange(mutateSpec(spec, random));
      let call: LlmCall | undefined;
      try {
        call = adapter.parse(exchange);
      } catch (err) {
        if (!(err instanceof ProviderParseError)) throw new Error(`${context}: threw ${String(err)}`);
        // The guard's message means code met a shape it did not check for: a bug even though nothing crashed.
        if (/unexpected body shape/.test(err.message)) throw new Error(`${context}: ${err.message}`);
        rejected++;
        continue;
      }
      assertCallIsValid(call, context);
      parsed++;
    }
    expect(parsed + rejected).toBe(MUTATIONS_PER_FIXTURE);
  });

  it('survives random bytes in both bodies', () => {
    const random = seededRandom(provider.length * 7919);
    const path = Object.values(fixtures)[0].path;
    for (let round = 0; round < MUTATIONS_PER_FIXTURE; round++) {
      const noise = () => Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
      const exchange = makeExchange({ path, requestBody: noise(), status: 200, responseBody: noise() });
      try {
        assertCallIsValid(adapter.parse(exchange), `${provider} random round ${round}`);
      } catch (err) {
        expect(err).toBeInstanceOf(ProviderParseError);
      }
    }
  });
});
