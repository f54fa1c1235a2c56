/** Every provider adapter, in match order. Adding a provider is one file and one line here. */
import type { RequestHead } from '../http/connection-decoder';
import type { HttpExchange } from '../http/http-exchange';
import { anthropicAdapter, isAnthropicPath } from './anthropic';
import { bedrockAdapter, isBedrockPath } from './bedrock';
import type { ProviderAdapter } from './llm-call';
import { isOpenAiPath, openAiAdapter } from './openai';

interface RegisteredAdapter {
  adapter: ProviderAdapter;
  /** Path test on the request head alone, so decoders can skip buffering bodies of other traffic. */
  ownsPath: (path: string) => boolean;
}

const ADAPTERS: readonly RegisteredAdapter[] = [
  { adapter: bedrockAdapter, ownsPath: isBedrockPath },
  { adapter: anthropicAdapter, ownsPath: isAnthropicPath },
  { adapter: openAiAdapter, ownsPath: isOpenAiPath },
];

export const providerAdapters: readonly ProviderAdapter[] = ADAPTERS.map((entry) => entry.adapter);

/** The adapter that owns this exchange, or undefined for traffic that is not an LLM call. */
export function findAdapter(exchange: HttpExchange): ProviderAdapter | undefined {
  return providerAdapters.find((adapter) => adapter.recognises(exchange));
}

/** True when some adapter could own a request with this head; every LLM API call is a POST. */
export function isLlmRequestHead(head: RequestHead): boolean {
  if (head.method.toUpperCase() !== 'POST') return false;
  return ADAPTERS.some((entry) => entry.ownsPath(head.path));
}
