/** From one HTTP exchange to a GenAI span: find the provider adapter, parse, build. Never throws. */
import type { HttpExchange } from '../http/http-exchange';
import { ProviderParseError } from '../provider/llm-call';
import { findAdapter } from '../provider/registry';
import { buildSpan } from './build-span';
import type { GenAiSpan } from './gen-ai-span';

export type ExchangeOutcome =
  | { kind: 'span'; span: GenAiSpan }
  /** Not an LLM call: ordinary HTTPS traffic. */
  | { kind: 'not-llm' }
  /** Looked like an LLM call (its path) but could not be read: counted and logged, never silently dropped. */
  | { kind: 'unparsed'; provider: string; reason: string };

export function spanFromExchange(exchange: HttpExchange): ExchangeOutcome {
  const adapter = findAdapter(exchange);
  if (!adapter) return { kind: 'not-llm' };
  try {
    const span = buildSpan(adapter.parse(exchange));
    // The gateway keeps captured spans marked as captured when they arrive over OTLP.
    span.attributes['sightline.source'] = 'ebpf';
    return { kind: 'span', span };
  } catch (error) {
    const reason = error instanceof ProviderParseError ? error.message : `unexpected ${(error as Error)?.name ?? 'error'}: ${(error as Error)?.message}`;
    return { kind: 'unparsed', provider: adapter.name, reason };
  }
}
