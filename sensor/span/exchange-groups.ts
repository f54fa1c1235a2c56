/**
 * Exchanges handed from the HTTP decoders to the span stage in groups instead of one at a time.
 *
 * Why: the per-call path is long (HTTP framing and heads; the provider's parse, the span, enrichment, privacy,
 * OTLP encoding), and run one call at a time each stage starts with its code and tables pushed out of the CPU's
 * caches by the others. Decoding a run of records first, then turning the exchanges they completed into spans, then
 * taking those spans through the pipeline's stages together (`SpanPipeline.submitGroup`) cut the sensor's CPU per
 * call in the LLM loop by about a fifth (docs/benchmarks.md, "Exchanges in groups"). A group is bounded, so a large
 * delivery never holds more than a few dozen finished exchanges (and their bodies) at once, and what is queued is
 * handed on before the event loop turns: no exchange waits for a timer, and none is left behind when the sensor
 * stops (`flush`).
 */

import type { HttpExchange } from '../http/http-exchange';
import type { GenAiSpan } from './gen-ai-span';

/** Exchanges held before the span stage runs over them: 8-128 measured alike in the replayed path; 4 kept half the gain, 1-2 none. */
export const EXCHANGE_GROUP_SIZE = 32;

export interface ExchangeGroupsOptions<T> {
  /** The span stage over a group, in the order the exchanges completed; it handles each exchange's own failure. */
  handleGroup: (group: readonly T[]) => void;
  /** `handleGroup` threw anyway (a bug): reported, and the exchanges after it are still handed on. */
  onError: (error: unknown) => void;
  size?: number;
}

export class ExchangeGroups<T> {
  private queued: T[] = [];
  /** The array handed to `handleGroup` during a flush, swapped with `queued` so neither is reallocated per group. */
  private spare: T[] = [];
  private flushScheduled = false;
  /** Exchanges pushed while a flush runs are handled by that flush, not by a nested one. */
  private flushing = false;
  private readonly size: number;

  constructor(private readonly options: ExchangeGroupsOptions<T>) {
    this.size = Math.max(1, options.size ?? EXCHANGE_GROUP_SIZE);
  }

  /** Exchanges waiting for the span stage. */
  get pending(): number {
    return this.queued.length;
  }

  push(exchange: T): void {
    this.queued.push(exchange);
    if (this.queued.length >= this.size) {
      this.flush();
    } else if (!this.flushScheduled) {
      // After the current delivery of records is decoded: the microtask queue runs before the event loop turns.
      this.flushScheduled = true;
      queueMicrotask(this.scheduledFlush);
    }
  }

  /** Hands every queued exchange to the span stage, in the order they were completed. */
  flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queued.length > 0) {
        const group = this.queued;
        this.queued = this.spare;
        try {
          this.options.handleGroup(group);
        } catch (error) {
          this.options.onError(error);
        }
        group.length = 0;
        this.spare = group;
      }
    } finally {
      this.flushing = false;
    }
  }

  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
}

/** A group's spans, each with the process it came from (what the pipeline enriches it with), index by index. */
export interface SpansOfGroup {
  spans: GenAiSpan[];
  origins: Array<{ pid: number; comm: string }>;
}

/**
 * The span stage over a group: `spanOf` gives an exchange's span, or undefined when it is none (counted by the
 * caller); an exchange it throws on is reported to `onError` and costs that exchange only.
 */
export function spansOfGroup(group: readonly HttpExchange[], spanOf: (exchange: HttpExchange) => GenAiSpan | undefined, onError: (error: unknown) => void): SpansOfGroup {
  const result: SpansOfGroup = { spans: [], origins: [] };
  for (const exchange of group) {
    try {
      const span = spanOf(exchange);
      if (span === undefined) continue;
      result.spans.push(span);
      result.origins.push({ pid: exchange.connection.pid, comm: exchange.connection.comm });
    } catch (error) {
      onError(error);
    }
  }
  return result;
}
