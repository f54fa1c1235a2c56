import { COST_ATTRIBUTE, CostCalculator, PriceTable, costOf, normaliseModelId, pricingConfigSchema } from '../../sensor/pipeline/cost';
import { genAiSpan } from '../exporters/span-fixture';

// Rates below are typed from the providers' price pages (USD per million tokens), not read from the table.
const perMillion = (tokens: number, rate: number) => (tokens * rate) / 1e6;

describe('price table matching', () => {
  const table = new PriceTable();

  it.each([
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['gpt-4.1-nano-2025-04-14', 'gpt-4.1-nano'],
    ['o3-mini-2025-01-31', 'o3-mini'],
    ['o4-mini', 'o4-mini'],
    ['text-embedding-3-large', 'text-embedding-3-large'],
    ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet'],
    ['claude-3-7-sonnet-latest', 'claude-3-7-sonnet'],
    ['claude-opus-4-1-20250805', 'claude-opus-4-1'],
    ['claude-opus-4-20250514', 'claude-opus-4'],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku'],
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic.claude-3-5-sonnet'],
    ['us.anthropic.claude-sonnet-4-20250514-v1:0', 'anthropic.claude-sonnet-4'],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic.claude-sonnet-4-5'],
    ['apac.amazon.nova-lite-v1:0', 'amazon.nova-lite'],
    ['arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.meta.llama3-1-70b-instruct-v1:0', 'meta.llama3-1-70b-instruct'],
    ['arn:aws:bedrock:us-west-2::foundation-model/mistral.mistral-large-2407-v1:0', 'mistral.mistral-large-2407'],
    ['cohere.command-r-plus-v1:0', 'cohere.command-r-plus'],
    ['cohere.command-r-v1:0', 'cohere.command-r'],
    ['anthropic.claude-3-7-sonnet-20250219-v1%3A0', 'anthropic.claude-3-7-sonnet'],
    ['GPT-4o', 'gpt-4o'],
  ])('%s is priced as %s', (model, key) => {
    expect(table.resolve(model)).toBe(key);
  });

  it('does not let a shorter key swallow a different model (gpt-4 vs gpt-4o)', () => {
    const only = new PriceTable({ useBuiltInPrices: false, models: { 'gpt-4': { input: 30, output: 60 } } });
    expect(only.resolve('gpt-4-0613')).toBe('gpt-4');
    expect(only.resolve('gpt-4o')).toBeUndefined();
  });

  it.each([
    ['claude-3-5-sonnet-v2@20241022', 'claude-3-5-sonnet'],
    ['gpt-4-1106', 'gpt-4'],
    ['mistral.mistral-7b-instruct-v0:2', 'mistral.mistral-7b-instruct'],
  ])('%s, extended by a date or version tag only, is priced as %s', (model, key) => {
    expect(table.resolve(model)).toBe(key);
  });

  // Each of these would take an older model's price by prefix; a newer version must be priced by its own entry.
  it.each([
    'claude-opus-4-6',
    'claude-opus-4-6-20260115',
    'anthropic.claude-opus-4-6-v1',
    'us.anthropic.claude-opus-4-6-v1:0',
    'gpt-5.2',
    'gpt-5.2-2025-12-11',
    'gpt-4.5-preview',
    'gpt-4-32k',
    'o3-pro',
    'claude-sonnet-4-6',
  ])('%s is not priced as an older version', (model) => {
    expect(table.resolve(model)).toBeUndefined();
  });

  it('counts a newer version it cannot price as unpriced', () => {
    const calculator = new CostCalculator();
    const span = genAiSpan({ provider: 'aws.bedrock', requestModel: 'us.anthropic.claude-opus-4-6-v1:0', inputTokens: 100, outputTokens: 10 });
    expect(calculator.applyCost(span)).toBeUndefined();
    expect(COST_ATTRIBUTE in span.attributes).toBe(false);
    expect(calculator.unpricedCount).toBe(1);
    expect(calculator.unpricedModels().get('us.anthropic.claude-opus-4-6-v1:0')).toBe(1);
  });

  it('normalises ARNs, profile prefixes and version suffixes', () => {
    expect(normaliseModelId('arn:aws:bedrock:eu-west-1:1:inference-profile/eu.amazon.nova-pro-v1:0')).toBe('amazon.nova-pro-v1');
    expect(normaliseModelId('us.anthropic.claude-3-haiku-20240307-v1:0')).toBe('anthropic.claude-3-haiku-20240307-v1');
  });
});

describe('costOf', () => {
  const table = new PriceTable();

  it('prices OpenAI input, cached input and output at their own rates', () => {
    const cost = costOf({ inputTokens: 1000, cacheReadInputTokens: 200, outputTokens: 500 }, 'gpt-4o-2024-08-06', table)!;
    const expected = perMillion(800, 2.5) + perMillion(200, 1.25) + perMillion(500, 10);
    expect(cost.totalUsd).toBeCloseTo(expected, 12);
    expect(cost.totalUsd).toBeCloseTo(0.00725, 12);
  });

  it('never counts cache tokens twice: input already includes cache reads and writes', () => {
    const cost = costOf({ inputTokens: 5000, cacheReadInputTokens: 3000, cacheCreationInputTokens: 1000, outputTokens: 400 }, 'claude-sonnet-4-20250514', table)!;
    expect(cost.inputUsd).toBeCloseTo(perMillion(1000, 3), 12);
    expect(cost.cacheReadUsd).toBeCloseTo(perMillion(3000, 0.3), 12);
    expect(cost.cacheWriteUsd).toBeCloseTo(perMillion(1000, 3.75), 12);
    expect(cost.outputUsd).toBeCloseTo(perMillion(400, 15), 12);
    expect(cost.totalUsd).toBeCloseTo(0.01365, 12);

    const allCached = costOf({ inputTokens: 1000, cacheReadInputTokens: 1000, outputTokens: 0 }, 'gpt-4o', table)!;
    expect(allCached.totalUsd).toBeCloseTo(perMillion(1000, 1.25), 12);
  });

  it('prices a Bedrock inference-profile ARN as its model', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0';
    expect(costOf({ inputTokens: 2000, outputTokens: 100 }, arn, table)!.totalUsd).toBeCloseTo(perMillion(2000, 0.8) + perMillion(100, 4), 12);
    expect(costOf({ inputTokens: 10_000, outputTokens: 1000 }, 'eu.amazon.nova-pro-v1:0', table)!.totalUsd).toBeCloseTo(0.0112, 12);
  });

  it('returns undefined for an unknown model', () => {
    expect(costOf({ inputTokens: 10, outputTokens: 10 }, 'my-local-llama', table)).toBeUndefined();
  });

  it('prices a span by response model, falling back to the request model', () => {
    const span = genAiSpan({ requestModel: 'my-azure-deployment', responseModel: 'gpt-4o-mini-2024-07-18', inputTokens: 1_000_000, outputTokens: 1_000_000 });
    expect(costOf(span, table)!.totalUsd).toBeCloseTo(0.15 + 0.6, 12);
    const bedrock = genAiSpan({ provider: 'aws.bedrock', requestModel: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0', inputTokens: 100, outputTokens: 10 });
    expect(costOf(bedrock, table)!.totalUsd).toBeCloseTo(perMillion(100, 3) + perMillion(10, 15), 12);
  });
});

describe('CostCalculator', () => {
  it('sets sightline.cost.usd, and counts unknown models without setting it', () => {
    const calculator = new CostCalculator();
    const priced = genAiSpan({ requestModel: 'gpt-4.1-mini', inputTokens: 2000, outputTokens: 300 });
    const unknown = genAiSpan({ requestModel: 'llama-3-local', inputTokens: 5, outputTokens: 5 });
    const noUsage = genAiSpan({ requestModel: 'mystery' });
    expect(calculator.applyCost(priced)).toBeCloseTo(perMillion(2000, 0.4) + perMillion(300, 1.6), 12);
    expect(priced.attributes[COST_ATTRIBUTE]).toBeCloseTo(0.00128, 12);
    expect(calculator.applyCost(unknown)).toBeUndefined();
    expect(calculator.applyCost(noUsage)).toBeUndefined();
    expect(COST_ATTRIBUTE in unknown.attributes).toBe(false);
    expect(calculator.unpricedCount).toBe(1);
    expect(calculator.unpricedModels().get('llama-3-local')).toBe(1);
  });

  it('takes overrides, additions and aliases from config', () => {
    const config = pricingConfigSchema.parse({
      models: { 'gpt-4o': { input: 5, output: 20 }, 'llama-3-local': { input: 0.1, output: 0.2, cacheRead: 0.01 } },
      aliases: { 'prod-chat-deployment': 'gpt-4o-mini' },
    });
    const table = new PriceTable(config);
    expect(costOf({ inputTokens: 1000, outputTokens: 1000 }, 'gpt-4o-2024-11-20', table)!.totalUsd).toBeCloseTo(perMillion(1000, 5) + perMillion(1000, 20), 12);
    expect(costOf({ inputTokens: 1000, cacheReadInputTokens: 500, outputTokens: 0 }, 'llama-3-local', table)!.totalUsd).toBeCloseTo(
      perMillion(500, 0.1) + perMillion(500, 0.01),
      12,
    );
    expect(costOf({ inputTokens: 1_000_000, outputTokens: 0 }, 'prod-chat-deployment', table)!.totalUsd).toBeCloseTo(0.15, 12);
  });

  it('rejects a negative price in config', () => {
    expect(() => pricingConfigSchema.parse({ models: { x: { input: -1, output: 1 } } })).toThrow();
  });
});
