/**
 * The pipeline stage: what happens to a finished span before it is stored. On the sensor: enrichment and privacy
 * (so unredacted data never leaves the node), then either shipping to the gateway or, in local mode, cost and
 * metrics too. On the gateway: privacy, cost, metrics. Each step is optional so both roles share this one path.
 */
import type { GenAiSpan } from '../span/gen-ai-span';
import type { CostCalculator } from './cost';
import type { SpanEnricher, SpanOrigin } from './enrich/span-enricher';
import type { GenAiMetrics } from './metrics';
import type { PrivacyStage } from './privacy/privacy-stage';
import type { Logger } from '../common/logger';

/**
 * Where finished spans go: the exporters' fan-out implements it. Defined here, with the pipeline, so that exporters
 * depend on the pipeline and never the reverse.
 */
export interface SpanSink {
  /**
   * Resolves once every sink has queued the spans (on disk, with a spool), so a receiver may acknowledge its sender;
   * rejects when one could not queue them, so the sender is asked to retry.
   */
  export(spans: GenAiSpan[]): Promise<void>;
}

export interface SpanPipelineStages {
  enricher?: SpanEnricher;
  privacy: PrivacyStage;
  cost?: CostCalculator;
  metrics?: GenAiMetrics;
  exporters: SpanSink;
  logger: Logger;
  /** Sees every finished span (e.g. a log line per call in local mode). */
  onSpan?: (span: GenAiSpan) => void;
}

export interface SpanPipelineStats {
  spansIn: number;
  spansOut: number;
  enrichmentFailures: number;
  /** Spans a stage or an exporter failed on: counted and logged, never a crash of the sensor. */
  failures: number;
}

export class SpanPipeline {
  readonly stats: SpanPipelineStats = { spansIn: 0, spansOut: 0, enrichmentFailures: 0, failures: 0 };
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly stages: SpanPipelineStages) {}

  /** Processes spans in the background; `drain()` waits for those under way. */
  submit(span: GenAiSpan, origin?: SpanOrigin): void {
    this.stats.spansIn++;
    const work = this.process(span, origin)
      .catch((error: unknown) => {
        this.stats.failures++;
        this.stages.logger.warn({ err: (error as Error)?.message, span: span.name }, 'pipeline: a span could not be processed');
      })
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  /**
   * Processes spans and resolves once every sink has them in its queue or spool: the OTLP receiver answers only
   * then, so a gateway killed right after its 200 still has the spans on disk.
   */
  async submitAll(spans: GenAiSpan[]): Promise<void> {
    this.stats.spansIn += spans.length;
    const work = (async () => this.deliver(await Promise.all(spans.map((span) => this.prepare(span)))))();
    // Tracked like `submit`, so `drain()` also waits for a receiver request that is still being handed over.
    const tracked = work.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    await work;
  }

  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async process(span: GenAiSpan, origin?: SpanOrigin): Promise<void> {
    await this.deliver([await this.prepare(span, origin)]);
  }

  private async prepare(span: GenAiSpan, origin?: SpanOrigin): Promise<GenAiSpan> {
    let current = span;
    if (this.stages.enricher) {
      try {
        current = await this.stages.enricher.enrich(current, origin);
      } catch (error) {
        // Context is a nice-to-have; the call itself is never lost for want of it.
        this.stats.enrichmentFailures++;
        this.stages.logger.debug({ err: (error as Error).message }, 'pipeline: enrichment failed');
      }
    }
    current = this.stages.privacy.apply(current);
    this.stages.cost?.applyCost(current);
    this.stages.metrics?.record(current);
    return current;
  }

  private deliver(spans: GenAiSpan[]): Promise<void> {
    this.stats.spansOut += spans.length;
    if (this.stages.onSpan) for (const span of spans) this.stages.onSpan(span);
    return this.stages.exporters.export(spans);
  }
}
