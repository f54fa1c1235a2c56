/** Every provider adapter, in match order. Adding a provider is one file and one line here. */
import { rememberedText } from '../common/remembered';
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
  /**
   * The last path segment of every path `ownsPath` accepts. The kernel follows an HTTP/1.1 connection only from a
   * POST whose path ends in one of these, so a path missing here is a call never seen (a test holds them in step).
   */
  lastPathSegments: readonly string[];
  /** The provider's own API hosts (`*.` matches any prefix): their HTTP/2 connections are followed whole. */
  apiHosts: readonly string[];
}

const ADAPTERS: readonly RegisteredAdapter[] = [
  {
    adapter: bedrockAdapter,
    ownsPath: isBedrockPath,
    lastPathSegments: ['invoke', 'invoke-with-response-stream', 'converse', 'converse-stream'],
    apiHosts: ['bedrock-runtime.*.amazonaws.com', 'bedrock-runtime-fips.*.amazonaws.com', 'bedrock-runtime.*.amazonaws.com.cn'],
  },
  { adapter: anthropicAdapter, ownsPath: isAnthropicPath, lastPathSegments: ['messages'], apiHosts: ['api.anthropic.com'] },
  {
    adapter: openAiAdapter,
    ownsPath: isOpenAiPath,
    // `completions` also ends `chat/completions`; `chat`, `generate`, `embed` are Ollama's native API.
    lastPathSegments: ['completions', 'embeddings', 'responses', 'chat', 'generate', 'embed'],
    apiHosts: ['api.openai.com', '*.openai.azure.com', '*.cognitiveservices.azure.com'],
  },
];

/** Every last path segment an LLM API path can end in (the kernel's HTTP/1.1 filter). */
export const llmPathSegments: readonly string[] = [...new Set(ADAPTERS.flatMap((entry) => entry.lastPathSegments))];

/** The last non-empty segment of a request path, query and fragment removed: what the kernel's filter compares. */
export function lastPathSegment(path: string): string {
  const end = path.search(/[?#]/);
  const segments = (end === -1 ? path : path.slice(0, end)).split('/').filter((segment) => segment.length > 0);
  return segments[segments.length - 1] ?? '';
}

/**
 * A test for the providers' own API hosts plus `extra` ones (`host`, `host:port` or `*.suffix`), compiled once.
 * The authority's port is ignored unless the pattern names one.
 */
export function llmAuthorityMatcher(extra: readonly string[] = []): (authority: string) => boolean {
  const patterns = [...ADAPTERS.flatMap((entry) => entry.apiHosts), ...extra].map((pattern) => {
    const escaped = pattern.toLowerCase().split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
    return { withPort: /:\d+$/.test(pattern), expression: new RegExp(`^${escaped.join('[^/:]+')}$`) };
  });
  return (authority) => {
    const full = authority.toLowerCase();
    const host = full.replace(/:\d+$/, '');
    return patterns.some((pattern) => pattern.expression.test(pattern.withPort ? full : host));
  };
}

export const providerAdapters: readonly ProviderAdapter[] = ADAPTERS.map((entry) => entry.adapter);

/** Longer paths (long query strings) are judged every time rather than kept. */
const MAX_REMEMBERED_PATH_LENGTH = 512;

/**
 * The adapter owning a request path, or null; remembered per path, as the decoder asks on every request head and
 * the span stage again on every exchange, and a client sends the same few paths again and again (the adapters' path
 * tests were a regular expression or two each, per adapter, per question).
 */
const adapterOwningPath = rememberedText((path: string): ProviderAdapter | null => ADAPTERS.find((entry) => entry.ownsPath(path))?.adapter ?? null, 1024, MAX_REMEMBERED_PATH_LENGTH);

/**
 * The adapter that owns this exchange, or undefined for traffic that is not an LLM call: the one that owns its path,
 * for a POST, which is what every adapter's `recognises` says (a test holds the two in step).
 */
export function findAdapter(exchange: HttpExchange): ProviderAdapter | undefined {
  return adapterOwningRequest(exchange.request.method, exchange.request.path) ?? undefined;
}

/** True when some adapter could own a request with this head. */
export function isLlmRequestHead(head: RequestHead): boolean {
  return adapterOwningRequest(head.method, head.path) !== null;
}

/** Every LLM API call is a POST. */
function adapterOwningRequest(method: string, path: string): ProviderAdapter | null {
  return method.toUpperCase() === 'POST' ? adapterOwningPath(path) : null;
}
