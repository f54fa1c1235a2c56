/**
 * Call cost in USD from token usage and the price table shipped in prices.json, extended or overridden by config.
 * Input tokens already include cache-read and cache-write tokens, so those are priced at their own rate and taken
 * out of the plain input count: nothing is counted twice.
 */
import { z } from 'zod';
import type { GenAiSpan } from '../span/gen-ai-span';
import builtInPrices from './prices.json';

export const COST_ATTRIBUTE = 'sightline.cost.usd';

const usdPerMillion = z.number().nonnegative();

export const modelPriceSchema = z.object({
  input: usdPerMillion.describe('USD per million input tokens that were neither read from nor written to the prompt cache.'),
  output: usdPerMillion.describe('USD per million output tokens (reasoning tokens included).'),
  cacheRead: usdPerMillion.optional().describe('USD per million input tokens read from the prompt cache. Default: the input rate.'),
  cacheWrite: usdPerMillion.optional().describe('USD per million input tokens written to the prompt cache. Default: the input rate.'),
  provider: z.string().optional().describe('Provider the price applies to (informational).'),
});
export type ModelPrice = z.infer<typeof modelPriceSchema>;

export const pricingConfigSchema = z
  .object({
    models: z
      .record(z.string(), modelPriceSchema)
      .default({})
      .describe('Extra or replacement prices keyed by model id, USD per million tokens; a key also prices the dated or versioned snapshots of that id (`gpt-4o` prices `gpt-4o-2024-08-06`), never another model (`gpt-5` does not price `gpt-5.2`). A key present in the built-in table replaces that entry.'),
    aliases: z
      .record(z.string(), z.string())
      .default({})
      .describe('Model names to price as another model, e.g. an Azure OpenAI deployment name -> `gpt-4o`.'),
    useBuiltInPrices: z.boolean().default(true).describe('Start from the price table shipped with Sightline; false prices only the models listed here.'),
  })
  .describe('Price table used to compute `sightline.cost.usd` and the cost metrics.');
export type PricingConfig = z.input<typeof pricingConfigSchema>;

export interface TokenCounts {
  /** Includes cache-read and cache-write tokens. */
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
}

export interface CostBreakdown {
  /** Price-table key the model matched. */
  pricedAs: string;
  inputUsd: number;
  cacheReadUsd: number;
  cacheWriteUsd: number;
  outputUsd: number;
  totalUsd: number;
}

// Cross-region inference-profile prefixes Bedrock puts before `vendor.model`.
const INFERENCE_PROFILE_PREFIX = /^(?:us|us-gov|eu|apac|global|jp|au|ca)\.(?=[a-z0-9-]+\.)/;
const BEDROCK_ARN = /^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:[a-z-]+\/(.+)$/;
const BEDROCK_VERSION_SUFFIX = /:\d+$/;

/** Lower case, Bedrock ARN resource id, no inference-profile prefix, no `:N` version suffix. */
export function normaliseModelId(model: string): string {
  let id = model.trim().toLowerCase();
  if (id.includes('%')) {
    try {
      id = decodeURIComponent(id);
    } catch {
      // A stray % is part of the name; keep it as is.
    }
  }
  const arn = BEDROCK_ARN.exec(id);
  if (arn) id = arn[1];
  id = id.replace(INFERENCE_PROFILE_PREFIX, '');
  return id.replace(BEDROCK_VERSION_SUFFIX, '');
}

/**
 * What may follow a price key in an id that still names the same model: release dates (`-20250514`, `-2024-08-06`,
 * `-0613`), version tags (`-v1`, `-v2`, `@20241022`) and `-latest`. Anything else names another model whose price
 * may differ: `-6` in `claude-opus-4-6`, `.2` in `gpt-5.2`, `o` in `gpt-4o`, `-32k` in `gpt-4-32k`.
 */
const SAME_MODEL_SUFFIX = /^(?:[-@:](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|v\d+(?:\.\d+)?|latest))+$/;

/** A key prices an id it equals, or one that extends it only by a date or version tag. */
function pricesSameModel(key: string, id: string): boolean {
  return id.startsWith(key) && (id.length === key.length || SAME_MODEL_SUFFIX.test(id.slice(key.length)));
}

export class PriceTable {
  private readonly prices = new Map<string, ModelPrice>();
  private readonly aliases = new Map<string, string>();
  private readonly resolved = new Map<string, string | null>();

  constructor(config: PricingConfig = {}) {
    const parsed = pricingConfigSchema.parse(config);
    if (parsed.useBuiltInPrices) {
      for (const [key, price] of Object.entries(builtInPrices.models)) this.prices.set(key, modelPriceSchema.parse(price));
    }
    for (const [key, price] of Object.entries(parsed.models)) this.prices.set(normaliseModelId(key), price);
    for (const [from, to] of Object.entries(parsed.aliases)) this.aliases.set(normaliseModelId(from), normaliseModelId(to));
  }

  /**
   * The table key that prices `model`, by exact match, alias, then the longest key it extends by a date or version
   * tag only. A model the table does not name stays unpriced rather than priced as an older version.
   */
  resolve(model: string): string | undefined {
    const cached = this.resolved.get(model);
    if (cached !== undefined) return cached ?? undefined;
    let id = normaliseModelId(model);
    id = this.aliases.get(id) ?? id;
    let best: string | undefined;
    if (this.prices.has(id)) best = id;
    else {
      for (const key of this.prices.keys()) {
        if (pricesSameModel(key, id) && (!best || key.length > best.length)) best = key;
      }
    }
    // Model names repeat endlessly; unbounded growth would only come from garbage names.
    if (this.resolved.size < 10_000) this.resolved.set(model, best ?? null);
    return best;
  }

  priceOf(model: string): ModelPrice | undefined {
    const key = this.resolve(model);
    return key === undefined ? undefined : this.prices.get(key);
  }
}

/** Cost of one call's tokens at `model`'s rates; undefined when the model is not in the table. */
export function costOfUsage(usage: TokenCounts, model: string, table: PriceTable): CostBreakdown | undefined {
  const pricedAs = table.resolve(model);
  if (pricedAs === undefined) return undefined;
  const price = table.priceOf(model)!;
  const cacheRead = Math.max(0, usage.cacheReadInputTokens ?? 0);
  const cacheWrite = Math.max(0, usage.cacheCreationInputTokens ?? 0);
  const uncachedInput = Math.max(0, (usage.inputTokens ?? 0) - cacheRead - cacheWrite);
  const output = Math.max(0, usage.outputTokens ?? 0);
  const inputUsd = (uncachedInput * price.input) / 1e6;
  const cacheReadUsd = (cacheRead * (price.cacheRead ?? price.input)) / 1e6;
  const cacheWriteUsd = (cacheWrite * (price.cacheWrite ?? price.input)) / 1e6;
  const outputUsd = (output * price.output) / 1e6;
  return { pricedAs, inputUsd, cacheReadUsd, cacheWriteUsd, outputUsd, totalUsd: inputUsd + cacheReadUsd + cacheWriteUsd + outputUsd };
}

/** A count or amount from a span; negative or non-finite values (possible in spans received over OTLP) do not count. */
function numberAttribute(span: GenAiSpan, ...names: string[]): number | undefined {
  for (const name of names) {
    const value = span.attributes[name];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  }
  return undefined;
}

function stringAttribute(span: GenAiSpan, name: string): string | undefined {
  const value = span.attributes[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Token counts of a span, from the OTel GenAI names first and the seed names second. */
export function tokenCountsOf(span: GenAiSpan): TokenCounts & { totalTokens?: number } {
  const inputTokens = numberAttribute(span, 'gen_ai.usage.input_tokens', 'gen_ai.response.usage.input_tokens');
  const outputTokens = numberAttribute(span, 'gen_ai.usage.output_tokens', 'gen_ai.response.usage.output_tokens');
  let totalTokens = numberAttribute(span, 'gen_ai.response.usage.total_tokens', 'gen_ai.usage.total_tokens');
  if (totalTokens === undefined && (inputTokens !== undefined || outputTokens !== undefined)) totalTokens = (inputTokens ?? 0) + (outputTokens ?? 0);
  return {
    inputTokens,
    outputTokens,
    totalTokens,
    cacheReadInputTokens: numberAttribute(span, 'gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens'),
    cacheCreationInputTokens: numberAttribute(span, 'gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.cache_creation_input_tokens'),
  };
}

/**
 * Cost of a span: priced by the response model (the dated version actually served) and, when that is unknown,
 * by the request model (a Bedrock model id or ARN, an alias).
 */
export function costOfSpan(span: GenAiSpan, table: PriceTable): CostBreakdown | undefined {
  const usage = tokenCountsOf(span);
  if (usage.inputTokens === undefined && usage.outputTokens === undefined) return undefined;
  for (const model of [stringAttribute(span, 'gen_ai.response.model'), stringAttribute(span, 'gen_ai.request.model')]) {
    if (model === undefined) continue;
    const cost = costOfUsage(usage, model, table);
    if (cost) return cost;
  }
  return undefined;
}

export function costOf(span: GenAiSpan, table: PriceTable): CostBreakdown | undefined;
export function costOf(usage: TokenCounts, model: string, table: PriceTable): CostBreakdown | undefined;
export function costOf(spanOrUsage: GenAiSpan | TokenCounts, modelOrTable: string | PriceTable, maybeTable?: PriceTable): CostBreakdown | undefined {
  if (typeof modelOrTable === 'string') return costOfUsage(spanOrUsage as TokenCounts, modelOrTable, maybeTable!);
  return costOfSpan(spanOrUsage as GenAiSpan, modelOrTable);
}

/** Sets `sightline.cost.usd` on the span when its model is priced; returns the cost in USD. */
export function applyCost(span: GenAiSpan, table: PriceTable): number | undefined {
  const cost = costOfSpan(span, table);
  if (cost) span.attributes[COST_ATTRIBUTE] = cost.totalUsd;
  return cost?.totalUsd;
}

/** Sets `sightline.cost.usd` on spans with usage and a priced model; counts the ones whose model is not in the table. */
export class CostCalculator {
  private unpriced = 0;
  private readonly unpricedByModel = new Map<string, number>();

  constructor(readonly table: PriceTable = new PriceTable()) {}

  /** Mutates and returns the span; the cost, if any, in USD. */
  applyCost(span: GenAiSpan): number | undefined {
    const costUsd = applyCost(span, this.table);
    if (costUsd !== undefined) return costUsd;
    const usage = tokenCountsOf(span);
    if (usage.inputTokens !== undefined || usage.outputTokens !== undefined) {
      this.unpriced++;
      const model = stringAttribute(span, 'gen_ai.response.model') ?? stringAttribute(span, 'gen_ai.request.model') ?? '';
      if (this.unpricedByModel.has(model) || this.unpricedByModel.size < 200) {
        this.unpricedByModel.set(model, (this.unpricedByModel.get(model) ?? 0) + 1);
      }
    }
    return undefined;
  }

  /** Spans with token usage whose model had no price. */
  get unpricedCount(): number {
    return this.unpriced;
  }

  /** Unpriced spans per model name (the first 200 names), to tell which prices to add. */
  unpricedModels(): ReadonlyMap<string, number> {
    return this.unpricedByModel;
  }
}
